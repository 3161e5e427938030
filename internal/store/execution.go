package store

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/stentdev/stent/db"
)

// Dispatched is the outcome of one dispatch request.
type Dispatched struct {
	ExecutionID uuid.UUID
	TaskID      int64
	Created     bool // false when an idempotency key matched an existing execution

	// Set by DispatchOne for a task leased to the eager target: its fencing token (0 when
	// not leased), when the lease began and the task's timeout (0 for none).
	LeaseToken int64
	StartedAt  time.Time
	Timeout    time.Duration
}

// EagerTarget is a worker in the dispatching process, with a slot reserved, that may take the
// new task directly (see stent.dispatch_one): what it serves and its lease duration.
type EagerTarget struct {
	WorkerID            string
	Queues, Names, Tags []string
	Lease               time.Duration
}

// DispatchMany runs stent.dispatch_many with a JSON array of requests and returns one result
// per request, in order. In a caller's transaction (WithTx) the commit is the caller's.
// Otherwise the dispatch commits early: asynchronously, so that workers see, claim and start
// the tasks while the WAL is being flushed, and AwaitDurable then returns once the commit is
// on disk; only then is the dispatch reported done. (If that wait fails, as when the
// connection drops, the dispatch may or may not have been kept, as with any failed commit.)
func (s *Store) DispatchMany(ctx context.Context, requests []byte) ([]Dispatched, error) {
	var rows []*db.ExecutionDispatchManyRow
	var err error
	if _, inTx := s.dbtx.(pgx.Tx); inTx {
		rows, err = s.q.ExecutionDispatchMany(ctx, s.dbtx, requests)
	} else if early, e := s.q.ExecutionDispatchManyEarly(ctx, s.dbtx, requests); e != nil {
		err = e
	} else {
		for _, r := range early {
			rows = append(rows, (*db.ExecutionDispatchManyRow)(r))
		}
		if err := s.awaitDurable(ctx); err != nil {
			return nil, err
		}
	}
	if err != nil {
		return nil, mapError("dispatch", err)
	}
	out := make([]Dispatched, len(rows))
	for i, r := range rows {
		out[i] = Dispatched{ExecutionID: r.ExecutionID, TaskID: r.TaskID, Created: r.Created}
	}
	return out, nil
}

// DispatchOneRequest is one dispatch with every option typed, for stent.dispatch_one. The
// store sets Early and the eager-start fields.
type DispatchOneRequest = db.ExecutionDispatchOneParams

// DispatchOne runs stent.dispatch_one: a single dispatch in one statement, committed like
// DispatchMany (early outside a caller's transaction). With t (outside a transaction only),
// the new task may be leased to t's worker (eager start): leased is then called with the
// result as soon as the statement returns — before the wait for durability, so that the task
// starts while the WAL is flushed, as it would if claimed — and only then.
func (s *Store) DispatchOne(ctx context.Context, r *DispatchOneRequest, t *EagerTarget, leased func(Dispatched)) (Dispatched, error) {
	_, inTx := s.dbtx.(pgx.Tx)
	if inTx && t != nil {
		return Dispatched{}, errors.New("stent: internal: eager dispatch inside a transaction")
	}
	p := *r
	p.Early = !inTx
	if t != nil {
		p.WorkerID = pgtype.Text{String: t.WorkerID, Valid: true}
		p.Queues, p.Names, p.ServedTags = t.Queues, t.Names, nonNil(t.Tags)
		p.LeaseSeconds = pgtype.Float8{Float64: t.Lease.Seconds(), Valid: true}
	}
	row, err := s.q.ExecutionDispatchOne(ctx, s.dbtx, &p)
	if err != nil {
		return Dispatched{}, mapError("dispatch", err)
	}
	d := Dispatched{ExecutionID: row.ExecutionID, TaskID: row.TaskID, Created: row.Created,
		LeaseToken: row.LeaseToken, StartedAt: row.StartedAt,
		Timeout: time.Duration(row.TimeoutMs * float64(time.Millisecond))}
	if t != nil {
		leased(d)
	}
	if !inTx {
		if err := s.awaitDurable(ctx); err != nil {
			return Dispatched{}, err
		}
	}
	return d, nil
}

// awaitDurable returns once an early (asynchronous) dispatch commit is on disk.
func (s *Store) awaitDurable(ctx context.Context) error {
	return mapError("dispatch: waiting for the commit to reach disk", s.q.AwaitDurable(ctx, s.dbtx))
}

// GetExecution reads one execution.
func (s *Store) GetExecution(ctx context.Context, id uuid.UUID) (*Execution, error) {
	e, err := s.q.ExecutionGet(ctx, s.dbtx, id)
	return e, mapError("get execution", err)
}

// GetExecutions reads the executions with the given ids (missing ids are absent).
func (s *Store) GetExecutions(ctx context.Context, ids []uuid.UUID) ([]*Execution, error) {
	es, err := s.q.ExecutionGetMany(ctx, s.dbtx, ids)
	return es, mapError("get executions", err)
}

// ExecutionFilter selects executions for ListExecutions; zero fields do not filter.
type ExecutionFilter struct {
	State, Workflow, Queue, Tag string
	Since                       time.Time
	BeforeCreatedAt             time.Time // keyset cursor: strictly older than (BeforeCreatedAt, BeforeID)
	BeforeID                    uuid.UUID
	Limit                       int32
}

// ListExecutions lists executions newest first.
func (s *Store) ListExecutions(ctx context.Context, f ExecutionFilter) ([]*Execution, error) {
	p := &db.ExecutionListParams{
		State:    text(f.State),
		Workflow: text(f.Workflow),
		Queue:    text(f.Queue),
		Tag:      text(f.Tag),
		MaxRows:  f.Limit,
	}
	if !f.Since.IsZero() {
		p.Since = &f.Since
	}
	if !f.BeforeCreatedAt.IsZero() {
		p.BeforeCreatedAt = &f.BeforeCreatedAt
		id := f.BeforeID
		p.BeforeID = &id
	}
	es, err := s.q.ExecutionList(ctx, s.dbtx, p)
	return es, mapError("list executions", err)
}

// Cancelled is the outcome of CancelExecution: the execution's resulting state, its state
// before the call and its workflow name.
type Cancelled struct {
	State    string
	Previous string
	Workflow string
}

// CancelExecution runs stent.cancel_execution.
func (s *Store) CancelExecution(ctx context.Context, id uuid.UUID) (Cancelled, error) {
	r, err := s.q.ExecutionCancel(ctx, s.dbtx, id)
	if err != nil {
		return Cancelled{}, mapError("cancel execution", err)
	}
	return Cancelled{State: r.State, Previous: r.PreviousState, Workflow: r.Workflow}, nil
}

// Purge deletes up to limit executions finished more than olderThan ago.
func (s *Store) Purge(ctx context.Context, olderThan time.Duration, limit int32, deadLetters bool) (int64, error) {
	n, err := s.q.ExecutionPurge(ctx, s.dbtx, &db.ExecutionPurgeParams{
		OlderThanSeconds: olderThan.Seconds(),
		MaxRows:          limit,
		DeadLetters:      deadLetters,
	})
	return n, mapError("purge", err)
}

func text(s string) pgtype.Text {
	return pgtype.Text{String: s, Valid: s != ""}
}

// SendSignal sends a signal to an execution and returns its id.
func (s *Store) SendSignal(ctx context.Context, executionID uuid.UUID, name string, payload []byte) (int64, error) {
	id, err := s.q.ExecutionSignal(ctx, s.dbtx, &db.ExecutionSignalParams{ExecutionID: executionID, Name: name, Payload: payload})
	return id, mapError("send signal", err)
}

// Rows of execution-scoped data.
type (
	ProgressEntry = db.ProgressEntry
	Counter       = db.Counter
	StateEntry    = db.StateEntry
)

// ExecutionData reads an execution's progress entries, counters and custom state.
func (s *Store) ExecutionData(ctx context.Context, id uuid.UUID) ([]*ProgressEntry, []*Counter, []*StateEntry, error) {
	p, err := s.q.ExecutionProgress(ctx, s.dbtx, id)
	if err != nil {
		return nil, nil, nil, mapError("execution progress", err)
	}
	c, err := s.q.ExecutionCounters(ctx, s.dbtx, id)
	if err != nil {
		return nil, nil, nil, mapError("execution counters", err)
	}
	st, err := s.q.ExecutionState(ctx, s.dbtx, id)
	if err != nil {
		return nil, nil, nil, mapError("execution state", err)
	}
	return p, c, st, nil
}

// Expired is one execution timed out by ExpireExecutions.
type Expired = db.ExecutionExpireRow

// ExpireExecutions times out up to limit executions past their deadline and returns them.
func (s *Store) ExpireExecutions(ctx context.Context, limit int32) ([]*Expired, error) {
	rows, err := s.q.ExecutionExpire(ctx, s.dbtx, limit)
	return rows, mapError("expire executions", err)
}

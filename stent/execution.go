package stent

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/stentdev/stent/internal/store"
)

// ExecutionState is the state of an execution.
type ExecutionState string

// Execution states. Completed, failed, cancelled and timed_out are terminal and sticky.
const (
	StatePending   ExecutionState = "pending"
	StateRunning   ExecutionState = "running"
	StateCompleted ExecutionState = "completed"
	StateFailed    ExecutionState = "failed"
	StateCancelled ExecutionState = "cancelled"
	StateTimedOut  ExecutionState = "timed_out"
)

// Terminal reports whether the state is final.
func (s ExecutionState) Terminal() bool {
	switch s {
	case StateCompleted, StateFailed, StateCancelled, StateTimedOut:
		return true
	}
	return false
}

// Execution is one dispatched run of a function, as stored.
type Execution struct {
	ID             uuid.UUID
	Workflow       string // the function's name
	State          ExecutionState
	Input          json.RawMessage
	Output         json.RawMessage // set when completed
	Error          *TaskError      // set when failed, cancelled or timed out
	Queue          string
	Priority       int
	Tags           []string
	IdempotencyKey string
	CreatedAt      time.Time
	StartedAt      *time.Time
	FinishedAt     *time.Time
	Tasks          []*Task // filled by Client.Get, in id order

	// Filled by Client.Get: what workflow code wrote with Progress, Incr and SetState.
	Progress    []ProgressEntry
	Counters    map[string]float64
	CustomState map[string]json.RawMessage
}

// Task is one unit of work inside an execution: its root task, and (for workflows) every
// durable call.
type Task struct {
	ID             int64
	ExecutionID    uuid.UUID
	ParentID       *int64
	Seq            *int
	Kind           string
	Name           string
	State          string // pending, running, waiting, completed, failed, cancelled
	Queue          string
	Priority       int
	Tags           []string
	Output         json.RawMessage // non-root tasks only: a root's output is on its execution
	Error          *TaskError      // the last attempt's error
	Attempt        int
	MaxAttempts    int
	RunAt          time.Time
	LeaseOwner     string
	LeaseExpiresAt *time.Time
	CreatedAt      time.Time
	StartedAt      *time.Time
	FinishedAt     *time.Time
}

func executionFromRow(r *store.Execution) *Execution {
	return &Execution{
		ID: r.ID, Workflow: r.Workflow, State: ExecutionState(r.State), Input: r.Input, Output: r.Output,
		Error: decodeTaskError(r.Error), Queue: r.Queue, Priority: int(r.Priority), Tags: r.Tags,
		IdempotencyKey: r.IdempotencyKey.String, CreatedAt: r.CreatedAt, StartedAt: r.StartedAt,
		FinishedAt: r.FinishedAt,
	}
}

func taskFromRow(r *store.Task) *Task {
	t := &Task{
		ID: r.ID, ExecutionID: r.ExecutionID, Kind: r.Kind, Name: r.Name, State: r.State, Queue: r.Queue,
		Priority: int(r.Priority), Tags: r.Tags, Output: r.Output, Error: decodeTaskError(r.Error),
		Attempt: int(r.Attempt), MaxAttempts: int(r.MaxAttempts), RunAt: r.RunAt,
		LeaseOwner: r.LeaseOwner.String, LeaseExpiresAt: r.LeaseExpiresAt, CreatedAt: r.CreatedAt,
		StartedAt: r.StartedAt, FinishedAt: r.FinishedAt,
	}
	if r.ParentTaskID.Valid {
		p := r.ParentTaskID.Int64
		t.ParentID = &p
	}
	if r.Seq.Valid {
		s := int(r.Seq.Int32)
		t.Seq = &s
	}
	return t
}

// Get returns the execution with its tasks, or ErrNotFound.
func (c *Client) Get(ctx context.Context, id uuid.UUID) (*Execution, error) {
	r, err := c.store.GetExecution(ctx, id)
	if err != nil {
		return nil, err
	}
	e := executionFromRow(r)
	ts, err := c.store.ListTasks(ctx, id)
	if err != nil {
		return nil, err
	}
	e.Tasks = make([]*Task, len(ts))
	for i, t := range ts {
		e.Tasks[i] = taskFromRow(t)
	}
	progress, counters, state, err := c.store.ExecutionData(ctx, id)
	if err != nil {
		return nil, err
	}
	for _, p := range progress {
		e.Progress = append(e.Progress, ProgressEntry{TaskID: p.TaskID.Int64, Message: p.Message, Detail: p.Detail, CreatedAt: p.CreatedAt})
	}
	e.Counters = make(map[string]float64, len(counters))
	for _, ct := range counters {
		e.Counters[ct.Name] = ct.Value
	}
	e.CustomState = make(map[string]json.RawMessage, len(state))
	for _, st := range state {
		e.CustomState[st.Key] = st.Value
	}
	return e, nil
}

// ListParams filters and pages List. Zero fields do not filter.
type ListParams struct {
	State    ExecutionState
	Workflow string
	Queue    string
	Tag      string
	Since    time.Time // created at or after
	Limit    int       // default 100, at most 10,000
	Cursor   *ListCursor
}

// ListCursor continues a listing after its last row.
type ListCursor struct {
	CreatedAt time.Time
	ID        uuid.UUID
}

// ListResult is one page of executions, newest first; Next is nil on the last page.
type ListResult struct {
	Executions []*Execution
	Next       *ListCursor
}

// List returns executions newest first, filtered and paged (keyset paging: stable under
// concurrent inserts).
func (c *Client) List(ctx context.Context, p ListParams) (*ListResult, error) {
	if p.Limit == 0 {
		p.Limit = 100
	}
	if p.Limit < 0 || p.Limit > 10000 {
		return nil, &InvalidArgumentError{Arg: "limit", Reason: "must be within [1, 10000]"}
	}
	if p.State != "" && !validState(p.State) {
		return nil, &InvalidArgumentError{Arg: "state", Reason: "unknown state " + string(p.State)}
	}
	f := store.ExecutionFilter{
		State: string(p.State), Workflow: p.Workflow, Queue: p.Queue, Tag: p.Tag, Since: p.Since,
		Limit: int32(p.Limit) + 1,
	}
	if p.Cursor != nil {
		f.BeforeCreatedAt, f.BeforeID = p.Cursor.CreatedAt, p.Cursor.ID
	}
	rows, err := c.store.ListExecutions(ctx, f)
	if err != nil {
		return nil, err
	}
	res := &ListResult{}
	if len(rows) > p.Limit {
		rows = rows[:p.Limit]
		last := rows[len(rows)-1]
		res.Next = &ListCursor{CreatedAt: last.CreatedAt, ID: last.ID}
	}
	res.Executions = make([]*Execution, len(rows))
	for i, r := range rows {
		res.Executions[i] = executionFromRow(r)
	}
	return res, nil
}

func validState(s ExecutionState) bool {
	return s == StatePending || s == StateRunning || s.Terminal()
}

// Cancel cancels the execution and every unfinished task in it, and returns the resulting
// state. Cancelling a finished execution changes nothing and returns its state.
func (c *Client) Cancel(ctx context.Context, id uuid.UUID) (ExecutionState, error) {
	r, err := c.store.CancelExecution(ctx, id)
	if err != nil {
		return "", err
	}
	if r.State == string(StateCancelled) && !ExecutionState(r.Previous).Terminal() {
		c.metrics.ExecutionFinished(r.Workflow, StateCancelled)
	}
	c.logger.Info().Str("execution_id", id.String()).Str("function", r.Workflow).Str("state", r.State).Msg("stent: cancel requested")
	return ExecutionState(r.State), nil
}

// PurgeParams tunes Purge.
type PurgeParams struct {
	// DeadLetters also deletes executions that still have dead letters (kept by default).
	DeadLetters bool
}

// Purge deletes executions that finished more than olderThan ago, in batches, and returns how
// many it deleted.
func (c *Client) Purge(ctx context.Context, olderThan time.Duration, p PurgeParams) (int64, error) {
	if olderThan < 0 {
		return 0, &InvalidArgumentError{Arg: "older than", Reason: "must not be negative"}
	}
	const batch = 10000
	var total int64
	for {
		n, err := c.store.Purge(ctx, olderThan, batch, p.DeadLetters)
		total += n
		if err != nil || n < batch {
			return total, err
		}
	}
}

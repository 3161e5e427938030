package store

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/stentdev/stent/db"
)

// ClaimParams are the arguments of stent.claim_tasks.
type ClaimParams struct {
	WorkerID string
	Queues   []string
	Names    []string
	Tags     []string
	Limit    int32
	Lease    time.Duration
}

// ClaimTasks leases up to p.Limit due tasks in one statement.
func (s *Store) ClaimTasks(ctx context.Context, p ClaimParams) ([]*Task, error) {
	ts, err := s.q.TaskClaim(ctx, s.dbtx, &db.TaskClaimParams{
		WorkerID:     p.WorkerID,
		Queues:       p.Queues,
		Names:        p.Names,
		Tags:         nonNil(p.Tags),
		MaxTasks:     p.Limit,
		LeaseSeconds: p.Lease.Seconds(),
	})
	return ts, mapError("claim tasks", err)
}

// NextDue returns how long until the earliest pending task the worker could claim is due, and
// false when there is none.
func (s *Store) NextDue(ctx context.Context, queues, names, tags []string) (time.Duration, bool, error) {
	secs, err := s.q.TaskNextDue(ctx, s.dbtx, &db.TaskNextDueParams{Queues: queues, Names: names, Tags: nonNil(tags)})
	if err != nil {
		return 0, false, mapError("next due", err)
	}
	if secs < 0 { // -1: nothing pending
		return 0, false, nil
	}
	return time.Duration(secs * float64(time.Second)), true, nil
}

// Completion is one finished attempt for CompleteTasks.
type Completion struct {
	TaskID int64
	Token  int64
	Output []byte
}

// CompleteTasks records many finished attempts in one statement; the result maps each task id
// to whether its completion was applied (false: lease lost).
func (s *Store) CompleteTasks(ctx context.Context, cs []Completion) (map[int64]bool, error) {
	p := &db.TaskCompleteManyParams{
		TaskIds: make([]int64, len(cs)),
		Tokens:  make([]int64, len(cs)),
		Outputs: make([][]byte, len(cs)),
	}
	for i, c := range cs {
		p.TaskIds[i], p.Tokens[i], p.Outputs[i] = c.TaskID, c.Token, c.Output
	}
	rows, err := s.q.TaskCompleteMany(ctx, s.dbtx, p)
	if err != nil {
		return nil, mapError("complete tasks", err)
	}
	out := make(map[int64]bool, len(rows))
	for _, r := range rows {
		out[r.TaskID] = r.Ok
	}
	return out, nil
}

// CompleteTask completes one attempt, returning ErrLeaseLost when the token no longer owns it.
func (s *Store) CompleteTask(ctx context.Context, c Completion) error {
	err := s.q.TaskComplete(ctx, s.dbtx, &db.TaskCompleteParams{TaskID: c.TaskID, Token: c.Token, Output: c.Output})
	return mapError("complete task", err)
}

// FailResult is the task's state after a failed attempt.
type FailResult struct {
	State string     // "pending" (will retry) or "failed"
	RunAt *time.Time // next attempt, when retrying
}

// FailTask records a failed attempt. retryAfter < 0 means "use the backoff policy"; otherwise
// the attempt is not counted and scope ("task", "function" or "key") says who waits.
func (s *Store) FailTask(ctx context.Context, taskID, token int64, errJSON []byte, retryable bool, retryAfter time.Duration, scope string) (FailResult, error) {
	if scope == "" {
		scope = "task"
	}
	p := &db.TaskFailParams{TaskID: taskID, Token: token, Error: errJSON, Retryable: retryable, Scope: scope}
	if retryAfter >= 0 {
		p.RetryAfterSeconds = pgtype.Float8{Float64: retryAfter.Seconds(), Valid: true}
	}
	r, err := s.q.TaskFail(ctx, s.dbtx, p)
	if err != nil {
		return FailResult{}, mapError("fail task", err)
	}
	res := FailResult{State: r.State}
	if r.State == "pending" {
		res.RunAt = &r.RunAt
	}
	return res, nil
}

// Lease identifies one held attempt.
type Lease struct {
	TaskID int64
	Token  int64
}

// RenewLeases is the worker's heartbeat: it extends every lease still owned and returns the
// ids renewed.
func (s *Store) RenewLeases(ctx context.Context, workerID string, leases []Lease, lease time.Duration) ([]int64, error) {
	ids, tokens := splitLeases(leases)
	r, err := s.q.TaskRenewLeases(ctx, s.dbtx, &db.TaskRenewLeasesParams{
		WorkerID: workerID, TaskIds: ids, Tokens: tokens, LeaseSeconds: lease.Seconds(),
	})
	return r, mapError("renew leases", err)
}

// ReleaseTasks returns held tasks to pending without burning their attempt.
func (s *Store) ReleaseTasks(ctx context.Context, leases []Lease) ([]int64, error) {
	ids, tokens := splitLeases(leases)
	r, err := s.q.TaskRelease(ctx, s.dbtx, &db.TaskReleaseParams{TaskIds: ids, Tokens: tokens})
	return r, mapError("release tasks", err)
}

// Rescued is one task handled by RescueExpired and its new state ("pending" or "failed").
type Rescued struct {
	TaskID      int64
	State       string
	Name        string
	Queue       string
	ExecutionID uuid.UUID
	Root        bool // a root task: its failure failed the execution
}

// RescueExpired re-queues or dead-letters up to limit tasks whose lease expired.
func (s *Store) RescueExpired(ctx context.Context, limit int32) ([]Rescued, error) {
	rows, err := s.q.TaskRescueExpired(ctx, s.dbtx, limit)
	if err != nil {
		return nil, mapError("rescue expired", err)
	}
	out := make([]Rescued, len(rows))
	for i, r := range rows {
		out[i] = Rescued{TaskID: r.TaskID, State: r.State, Name: r.Name, Queue: r.Queue, ExecutionID: r.ExecutionID, Root: r.Root}
	}
	return out, nil
}

// GetTask reads one task.
func (s *Store) GetTask(ctx context.Context, id int64) (*Task, error) {
	t, err := s.q.TaskGet(ctx, s.dbtx, id)
	return t, mapError("get task", err)
}

// ListTasks lists the tasks of an execution in id order.
func (s *Store) ListTasks(ctx context.Context, executionID uuid.UUID) ([]*Task, error) {
	ts, err := s.q.TaskListByExecution(ctx, s.dbtx, executionID)
	return ts, mapError("list tasks", err)
}

func splitLeases(leases []Lease) ([]int64, []int64) {
	ids, tokens := make([]int64, len(leases)), make([]int64, len(leases))
	for i, l := range leases {
		ids[i], tokens[i] = l.TaskID, l.Token
	}
	return ids, tokens
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// ListChildren loads every checkpoint of a workflow task, in position order (one query).
func (s *Store) ListChildren(ctx context.Context, parentID int64) ([]*Task, error) {
	ts, err := s.q.TaskListChildren(ctx, s.dbtx, pgtype.Int8{Int64: parentID, Valid: true})
	return ts, mapError("list checkpoints", err)
}

// RecordStep checkpoints an inline call's output at position seq of a running workflow task,
// fenced by its lease token; it returns the row at that position (an earlier one if the
// position was already recorded).
func (s *Store) RecordStep(ctx context.Context, parentID, token int64, seq int32, name string, output []byte) (*Task, error) {
	t, err := s.q.TaskRecordStep(ctx, s.dbtx, &db.TaskRecordStepParams{
		ParentTaskID: parentID, Token: token, Seq: seq, Kind: "step", Name: name, Output: output,
	})
	return t, mapError("record step", err)
}

// CallChild records a workflow's call of a child task at position seq (JSON request with the
// keys of stent.dispatch_many), fenced by the parent's lease token; it returns the row at
// that position (an earlier one if the position was already recorded).
func (s *Store) CallChild(ctx context.Context, parentID, token int64, seq int32, request []byte) (*Task, error) {
	t, err := s.q.TaskCallChild(ctx, s.dbtx, &db.TaskCallChildParams{ParentTaskID: parentID, Token: token, Seq: seq, Request: request})
	return t, mapError("call child", err)
}

// SuspendTask parks a running workflow task until the awaited children finish; false means
// they already did (run it again now).
func (s *Store) SuspendTask(ctx context.Context, taskID, token int64, awaiting []int64, until *time.Time) (bool, error) {
	if awaiting == nil {
		awaiting = []int64{}
	}
	ok, err := s.q.TaskSuspend(ctx, s.dbtx, &db.TaskSuspendParams{TaskID: taskID, Token: token, Awaiting: awaiting, Until: until})
	return ok, mapError("suspend task", err)
}

// RecordSleep records (once) or finds the durable timer at position seq of a running workflow
// task; the row is completed once its deadline (run_at) has passed on the database clock.
// A non-nil until is the deadline itself instead of now + d.
func (s *Store) RecordSleep(ctx context.Context, parentID, token int64, seq int32, name string, d time.Duration, until *time.Time) (*Task, error) {
	t, err := s.q.TaskRecordSleep(ctx, s.dbtx, &db.TaskRecordSleepParams{
		ParentTaskID: parentID, Token: token, Seq: seq, Name: name, DurationSeconds: d.Seconds(), Until: until,
	})
	return t, mapError("record sleep", err)
}

// SignalWait is the outcome of stent.wait_signal.
type SignalWait struct {
	State    string // received, timed_out, parked or mismatch
	Payload  []byte
	Deadline time.Time
}

// WaitSignal runs a workflow's durable signal wait at position seq (see stent.wait_signal).
func (s *Store) WaitSignal(ctx context.Context, parentID, token int64, seq int32, name string, timeout time.Duration) (SignalWait, error) {
	r, err := s.q.TaskWaitSignal(ctx, s.dbtx, &db.TaskWaitSignalParams{
		ParentTaskID: parentID, Token: token, Seq: seq, Name: name, TimeoutSeconds: timeout.Seconds(),
	})
	if err != nil {
		return SignalWait{}, mapError("wait signal", err)
	}
	return SignalWait{State: r.State, Payload: r.Payload, Deadline: r.Deadline}, nil
}

// RecordEffect applies an execution-scoped write (incr, set_state, progress) exactly once per
// position of a running workflow task (see stent.record_effect).
func (s *Store) RecordEffect(ctx context.Context, parentID, token int64, seq int32, kind, name string, value []byte) (*Task, error) {
	t, err := s.q.TaskRecordEffect(ctx, s.dbtx, &db.TaskRecordEffectParams{
		ParentTaskID: parentID, Token: token, Seq: seq, Kind: kind, Name: name, Value: value,
	})
	return t, mapError("record effect", err)
}

// QueueStat is one queue's pending work (see QueueStats).
type QueueStat = db.TaskQueueStatsRow

// QueueStats aggregates the pending tasks per queue in one query.
func (s *Store) QueueStats(ctx context.Context) ([]*QueueStat, error) {
	rows, err := s.q.TaskQueueStats(ctx, s.dbtx)
	return rows, mapError("queue stats", err)
}

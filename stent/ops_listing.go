package stent

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/stentdev/stent/internal/store"
)

// TaskListParams filters and pages ListTasks. Zero fields do not filter.
type TaskListParams struct {
	State       string // pending, running, waiting, completed, failed, cancelled
	Queue       string
	Name        string // function (or step) name
	Kind        string // workflow, activity, step, sleep, signal
	ExecutionID *uuid.UUID
	Worker      string // the lease owner (running tasks)
	BeforeID    int64  // continue after a page: the last ID seen
	Limit       int    // default 100, at most 10,000
}

var taskStates = map[string]bool{"pending": true, "running": true, "waiting": true, "completed": true, "failed": true, "cancelled": true}
var taskKinds = map[string]bool{"workflow": true, "activity": true, "step": true, "sleep": true, "signal": true}

// ListTasks lists tasks newest first, filtered and paged by id.
func (c *Client) ListTasks(ctx context.Context, p TaskListParams) ([]*Task, error) {
	if p.Limit == 0 {
		p.Limit = 100
	}
	if p.Limit < 0 || p.Limit > 10000 {
		return nil, &InvalidArgumentError{Arg: "limit", Reason: "must be within [1, 10000]"}
	}
	if p.State != "" && !taskStates[p.State] {
		return nil, &InvalidArgumentError{Arg: "task state", Reason: "unknown state " + p.State}
	}
	if p.Kind != "" && !taskKinds[p.Kind] {
		return nil, &InvalidArgumentError{Arg: "task kind", Reason: "unknown kind " + p.Kind}
	}
	rows, err := c.store.ListTasksFiltered(ctx, store.TaskFilter{State: p.State, Queue: p.Queue, Name: p.Name,
		Kind: p.Kind, Worker: p.Worker, ExecutionID: p.ExecutionID, BeforeID: p.BeforeID, Limit: int32(p.Limit)})
	if err != nil {
		return nil, err
	}
	out := make([]*Task, len(rows))
	for i, r := range rows {
		out[i] = taskFromRow(r)
	}
	return out, nil
}

// ActiveExecution is an unfinished execution with its task counts, for progress displays.
type ActiveExecution struct {
	ID            uuid.UUID
	Workflow      string
	State         ExecutionState
	Queue         string
	CreatedAt     time.Time
	StartedAt     *time.Time
	Tasks         int // all its tasks, the root included
	FinishedTasks int // those completed, failed or cancelled
}

// ListActive returns up to limit unfinished executions, newest first, with their task counts.
func (c *Client) ListActive(ctx context.Context, limit int) ([]ActiveExecution, error) {
	if limit < 1 || limit > 10000 {
		return nil, &InvalidArgumentError{Arg: "limit", Reason: "must be within [1, 10000]"}
	}
	rows, err := c.store.ActiveExecutions(ctx, int32(limit))
	if err != nil {
		return nil, err
	}
	out := make([]ActiveExecution, len(rows))
	for i, r := range rows {
		out[i] = ActiveExecution{ID: r.ID, Workflow: r.Workflow, State: ExecutionState(r.State), Queue: r.Queue,
			CreatedAt: r.CreatedAt, StartedAt: r.StartedAt, Tasks: int(r.Tasks), FinishedTasks: int(r.FinishedTasks)}
	}
	return out, nil
}

// ListRecentFinished returns up to limit of the newest finished executions (newest created
// first).
func (c *Client) ListRecentFinished(ctx context.Context, limit int) ([]*Execution, error) {
	if limit < 1 || limit > 10000 {
		return nil, &InvalidArgumentError{Arg: "limit", Reason: "must be within [1, 10000]"}
	}
	rows, err := c.store.RecentFinished(ctx, int32(limit))
	if err != nil {
		return nil, err
	}
	out := make([]*Execution, len(rows))
	for i, r := range rows {
		out[i] = executionFromRow(r)
	}
	return out, nil
}

// WorkerStatus is a registered worker process and its load.
type WorkerStatus struct {
	ID          string
	Hostname    string
	PID         int
	Queues      []string
	Functions   []string
	Tags        []string
	Concurrency int
	State       string // running or draining
	StartedAt   time.Time
	HeartbeatAt time.Time
	Live        bool // running or draining, with a heartbeat within the last 2 minutes
	Held        int  // tasks it holds a lease on
}

// ListWorkers lists the registered workers, oldest first, with the number of tasks each holds.
func (c *Client) ListWorkers(ctx context.Context) ([]WorkerStatus, error) {
	rows, err := c.store.WorkerLoads(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]WorkerStatus, len(rows))
	for i, r := range rows {
		out[i] = WorkerStatus{ID: r.ID, Hostname: r.Hostname, PID: int(r.Pid), Queues: r.Queues, Functions: r.Functions,
			Tags: r.Tags, Concurrency: int(r.Concurrency), State: r.State, StartedAt: r.StartedAt,
			HeartbeatAt: r.HeartbeatAt, Live: r.Live, Held: int(r.Held)}
	}
	return out, nil
}

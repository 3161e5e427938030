package stent

import (
	"context"
	"fmt"
	"time"
)

// Stats is a snapshot of the whole system, computed by aggregate queries (never by listing
// rows): what `stent stats` and `stent watch` show.
type Stats struct {
	Now         time.Time                // the database clock when the snapshot was taken
	Executions  map[ExecutionState]int64 // executions by state (states with none are absent)
	Tasks       map[string]int64         // tasks by state
	Queues      []QueueDepth             // queues with pending or running tasks, by name
	DeadLetters int64

	// Executions that finished within Window, by outcome, and what they make per minute.
	Window     time.Duration
	Completed  int64
	Failed     int64 // failed or timed out
	Cancelled  int64
	Throughput float64 // finished executions per minute over Window
	ErrorRate  float64 // Failed / (Completed + Failed), 0 when none finished
}

// QueueDepth is the load of one queue.
type QueueDepth struct {
	Queue   string
	Pending int64 // pending tasks, due or scheduled later
	Due     int64 // pending tasks whose run_at has passed
	Running int64
}

// DefaultStatsWindow is the throughput window of Stats when none is given.
const DefaultStatsWindow = 5 * time.Minute

// Stats returns counts by state, queue depths, the dead-letter count and the throughput and
// error rate of the executions that finished within window (0: DefaultStatsWindow).
func (c *Client) Stats(ctx context.Context, window time.Duration) (*Stats, error) {
	if window == 0 {
		window = DefaultStatsWindow
	}
	if window < time.Second {
		return nil, &InvalidArgumentError{Arg: "stats window", Reason: fmt.Sprintf("must be at least 1s, got %s", window)}
	}
	s := &Stats{Window: window, Executions: map[ExecutionState]int64{}, Tasks: map[string]int64{}}
	var err error
	if s.Now, err = c.store.Now(ctx); err != nil {
		return nil, err
	}
	ec, err := c.store.ExecutionCounts(ctx)
	if err != nil {
		return nil, err
	}
	for _, r := range ec {
		s.Executions[ExecutionState(r.State)] = r.Count
	}
	tc, err := c.store.TaskCounts(ctx)
	if err != nil {
		return nil, err
	}
	for _, r := range tc {
		s.Tasks[r.State] = r.Count
	}
	qs, err := c.store.QueueDepths(ctx)
	if err != nil {
		return nil, err
	}
	s.Queues = make([]QueueDepth, len(qs))
	for i, q := range qs {
		s.Queues[i] = QueueDepth{Queue: q.Queue, Pending: q.Pending, Due: q.Due, Running: q.Running}
	}
	if s.DeadLetters, err = c.store.DeadLetterCount(ctx); err != nil {
		return nil, err
	}
	tp, err := c.store.Throughput(ctx, window)
	if err != nil {
		return nil, err
	}
	s.Completed, s.Failed, s.Cancelled = tp.Completed, tp.Failed, tp.Cancelled
	s.Throughput = float64(tp.Completed+tp.Failed+tp.Cancelled) / window.Minutes()
	if n := tp.Completed + tp.Failed; n > 0 {
		s.ErrorRate = float64(tp.Failed) / float64(n)
	}
	return s, nil
}

// Now returns the database clock (stent.current_time()), the time every state change uses.
func (c *Client) Now(ctx context.Context) (time.Time, error) { return c.store.Now(ctx) }

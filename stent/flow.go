package stent

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/stentdev/stent/internal/store"
)

// Limits are a function's flow-control limits; zero fields mean no limit.
type Limits struct {
	MaxConcurrent       int
	MaxConcurrentPerKey int
	Rate                Rate
	RatePerKey          Rate
	// Overridden: set at run time (SetLimits) rather than registered from code by workers.
	Overridden bool
}

func (l Limits) validate() error {
	o := FunctionOptions{Queue: DefaultQueue, RetryAfterScope: ScopeTask, Retry: RetryPolicy{}.withDefaults(),
		MaxConcurrent: l.MaxConcurrent, MaxConcurrentPerKey: l.MaxConcurrentPerKey, Rate: l.Rate, RatePerKey: l.RatePerKey}
	return o.validate()
}

// SetLimits overrides a function's limits at run time, for every worker at once and until
// ResetLimits (workers no longer register their code's limits for it). Zero fields remove
// that limit.
func (c *Client) SetLimits(ctx context.Context, name string, l Limits) error {
	if err := ValidateName("function name", name); err != nil {
		return err
	}
	if err := l.validate(); err != nil {
		return err
	}
	for _, n := range []int{l.MaxConcurrent, l.MaxConcurrentPerKey, l.Rate.Count, l.RatePerKey.Count} {
		if n > math.MaxInt32 {
			return &InvalidArgumentError{Arg: "limits", Reason: fmt.Sprintf("%d is over the maximum of %d", n, math.MaxInt32)}
		}
	}
	err := c.store.SetLimits(ctx, name, store.LimitValues{
		MaxConcurrent: int32(l.MaxConcurrent), KeyMaxConcurrent: int32(l.MaxConcurrentPerKey),
		Rate: int32(l.Rate.Count), RatePeriod: l.Rate.Per, KeyRate: int32(l.RatePerKey.Count), KeyRatePeriod: l.RatePerKey.Per,
	})
	return mapStoreError(err)
}

// ResetLimits drops a run-time override; workers registering the function restore its code's
// limits. It returns ErrNotFound when there was no override.
func (c *Client) ResetLimits(ctx context.Context, name string) error {
	if err := ValidateName("function name", name); err != nil {
		return err
	}
	ok, err := c.store.ResetLimits(ctx, name)
	if err != nil {
		return err
	}
	if !ok {
		return ErrNotFound
	}
	return nil
}

// ListLimits returns the limits in force, by function name.
func (c *Client) ListLimits(ctx context.Context) (map[string]Limits, error) {
	rows, err := c.store.ListLimits(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]Limits, len(rows))
	for _, r := range rows {
		out[r.Name] = Limits{
			MaxConcurrent: int(r.MaxConcurrent.Int32), MaxConcurrentPerKey: int(r.KeyMaxConcurrent.Int32),
			Rate:       Rate{Count: int(r.Rate.Int32), Per: intervalToDuration(r.RatePeriod.Microseconds, r.RatePeriod.Days, r.RatePeriod.Months)},
			RatePerKey: Rate{Count: int(r.KeyRate.Int32), Per: intervalToDuration(r.KeyRatePeriod.Microseconds, r.KeyRatePeriod.Days, r.KeyRatePeriod.Months)},
			Overridden: r.Overridden,
		}
	}
	return out, nil
}

func intervalToDuration(us int64, days, months int32) time.Duration {
	return time.Duration(us)*time.Microsecond + time.Duration(days)*24*time.Hour + time.Duration(months)*30*24*time.Hour
}

// PauseQueue stops claims from a queue on every worker; running attempts finish.
func (c *Client) PauseQueue(ctx context.Context, queue string) error {
	if err := ValidateQueue(queue); err != nil {
		return err
	}
	return c.store.Pause(ctx, "queue", queue)
}

// ResumeQueue lifts a queue's pause and wakes the workers at once. It returns ErrNotFound when
// the queue was not paused.
func (c *Client) ResumeQueue(ctx context.Context, queue string) error {
	if err := ValidateQueue(queue); err != nil {
		return err
	}
	return c.resume(ctx, "queue", queue)
}

// PauseFunction stops claims of a function on every worker; running attempts finish.
func (c *Client) PauseFunction(ctx context.Context, name string) error {
	if err := ValidateName("function name", name); err != nil {
		return err
	}
	return c.store.Pause(ctx, "function", name)
}

// ResumeFunction lifts a function's pause and wakes the workers at once. It returns
// ErrNotFound when the function was not paused.
func (c *Client) ResumeFunction(ctx context.Context, name string) error {
	if err := ValidateName("function name", name); err != nil {
		return err
	}
	return c.resume(ctx, "function", name)
}

// Pause is a paused queue (Kind "queue") or function (Kind "function").
type Pause struct {
	Kind     string
	Name     string
	PausedAt time.Time
}

// ListPauses returns the paused queues and functions, by kind and name.
func (c *Client) ListPauses(ctx context.Context) ([]Pause, error) {
	rows, err := c.store.ListPauses(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Pause, len(rows))
	for i, r := range rows {
		out[i] = Pause{Kind: r.Kind, Name: r.Name, PausedAt: r.PausedAt}
	}
	return out, nil
}

func (c *Client) resume(ctx context.Context, kind, name string) error {
	ok, err := c.store.Resume(ctx, kind, name)
	if err != nil {
		return err
	}
	if !ok {
		return ErrNotFound
	}
	return nil
}

// Blocker is one reason a task is not running (see stent.task_blockers in SQL): Reason is one
// of scheduled, backing_off, paused_queue, paused_function, backoff, concurrency_limit,
// key_concurrency_limit, rate_limited, key_rate_limited, no_worker, leased, lease_expired,
// sleeping, waiting_signal, waiting_child or waiting_cache (the Reason* constants).
type Blocker struct {
	Reason  string
	Detail  string
	Until   *time.Time // when it ends, if known
	Holders []string   // who holds the slots (running tasks and their workers), or the lease
}

// TaskBlockers explains why a task is not running; a pending task that is claimable now has
// none. It returns ErrNotFound for an unknown task.
func (c *Client) TaskBlockers(ctx context.Context, taskID int64) ([]Blocker, error) {
	rows, err := c.store.TaskBlockers(ctx, taskID)
	if err != nil {
		return nil, err
	}
	out := make([]Blocker, len(rows))
	for i, r := range rows {
		out[i] = Blocker(r)
	}
	return out, nil
}

// GetTask returns one task, for example one that TaskBlockers explains, or ErrNotFound.
func (c *Client) GetTask(ctx context.Context, taskID int64) (*Task, error) {
	r, err := c.store.GetTask(ctx, taskID)
	if err != nil {
		return nil, err
	}
	return taskFromRow(r), nil
}

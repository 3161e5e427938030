package worker

import (
	"context"
	"errors"
	"time"

	"github.com/stentdev/stent/internal/store"
)

// claimLoop claims as many tasks as there are free slots, in one statement, whenever it is
// woken: by a notification for one of its queues, by a slot freeing up, by the timer of the
// next delayed task, or by the fallback poll. It returns when ctx ends or on a hard stop.
func (w *Worker) claimLoop(ctx context.Context) {
	minPoll := max(w.cfg.PollInterval/20, time.Millisecond)
	poll := minPoll
	failures := 0
	backlog := false // the last claim filled every free slot: more work is probably waiting
	var lastClaim time.Time
	for {
		if ctx.Err() != nil || w.isHardStopped() {
			return
		}
		free := w.freeSlots()
		if backlog && free < w.cfg.Concurrency {
			// With a backlog, let slots free up for a moment so that each claim fills all
			// of them: one statement per refill instead of one per few freed slots.
			if rest := refillWindow - time.Since(lastClaim); rest > 0 {
				if !w.waitWake(ctx, rest) {
					return
				}
				continue
			}
		}
		claimed := 0
		if free <= 0 {
			w.starved.Store(true)
		} else {
			tasks, err := w.claim(ctx, free)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				failures++
				wait := backoff(failures, w.cfg.PollInterval)
				w.log.Error().Err(err).Dur("retry_in", wait).Msg("stent: claiming tasks")
				if !w.sleep(ctx, wait) {
					return
				}
				continue
			}
			failures = 0
			w.metrics.ClaimPolled(len(tasks))
			for _, t := range tasks {
				w.startAttempt(t)
			}
			claimed, lastClaim = len(tasks), time.Now()
			backlog = claimed == free
			w.starved.Store(backlog)
			if backlog {
				poll = minPoll
				continue // there may be more; claim again once slots free up
			}
		}

		wait := w.cfg.PollInterval
		if free > 0 {
			if claimed > 0 {
				poll = minPoll
			} else {
				poll = min(poll*2, w.cfg.PollInterval)
			}
			wait = poll
			if claimed == 0 {
				if d, ok := w.nextDue(ctx); ok && d < wait {
					wait = d
				}
			}
		}
		timer := time.NewTimer(wait)
		select {
		case <-w.wake:
		case <-timer.C:
		case <-ctx.Done():
		case <-w.hard:
		}
		timer.Stop()
	}
}

// refillWindow bounds how long the claim loop, facing a backlog, waits for all of the slots
// to be free before claiming whatever is free: long enough for quick tasks to finish in
// bulk, short enough to leave slots idle only briefly when tasks are slow.
const refillWindow = time.Millisecond

// waitWake waits for a wake-up or d, returning false if ctx ended or a hard stop came first.
func (w *Worker) waitWake(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-w.wake:
	case <-t.C:
	case <-ctx.Done():
		return false
	case <-w.hard:
		return false
	}
	return true
}

// claim runs stent.claim_tasks. A stop does not cancel it: a claim abandoned by the client
// may still commit in the database (the cancel request races with it), stranding its tasks
// under a worker that never runs them until their leases expire. A finished claim's tasks
// are started and then drained like any other.
func (w *Worker) claim(ctx context.Context, limit int) ([]*store.Task, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.DBTimeout)
	defer cancel()
	return w.st.ClaimTasks(ctx, store.ClaimParams{
		WorkerID: w.cfg.ID, Queues: w.cfg.Queues, Names: w.cfg.Functions, Tags: w.cfg.Tags,
		Limit: int32(limit), Lease: w.cfg.LeaseDuration,
	})
}

// nextDue asks the database how long until the earliest delayed task is due.
func (w *Worker) nextDue(ctx context.Context) (time.Duration, bool) {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.DBTimeout)
	defer cancel()
	d, ok, err := w.st.NextDue(ctx, w.cfg.Queues, w.cfg.Functions, w.cfg.Tags)
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			w.log.Warn().Err(err).Msg("stent: reading next due time")
		}
		return 0, false
	}
	return max(d, time.Millisecond), ok
}

func (w *Worker) isHardStopped() bool {
	select {
	case <-w.hard:
		return true
	default:
		return false
	}
}

// sleep waits d, returning false if ctx ended or a hard stop came first.
func (w *Worker) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-w.hard:
		return false
	}
}

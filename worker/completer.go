package worker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/stentdev/stent/internal/store"
	"github.com/stentdev/stent/stent"
)

// completer records successful attempts in batches: it waits for the first completion, takes
// everything else already queued (up to CompletionBatchSize) and writes them in one
// statement. Under load completions pile up during each write, so batches grow by
// themselves; when idle a completion is written at once.
type completer struct {
	w     *Worker
	in    chan *attempt
	comps []store.Completion // the statement's arguments, reused
	quit  chan struct{}
	done  chan struct{}
	once  sync.Once
}

func newCompleter(w *Worker) *completer {
	return &completer{
		w:    w,
		in:   make(chan *attempt, 2*w.cfg.Concurrency),
		quit: make(chan struct{}),
		done: make(chan struct{}),
	}
}

// add queues a finished attempt (its output in a.out); it blocks when the queue is full
// (back-pressure on the slot).
func (c *completer) add(a *attempt) {
	c.in <- a
}

// stop flushes everything queued and waits for the loop to end. Call it after every attempt
// has returned.
func (c *completer) stop() {
	c.once.Do(func() { close(c.quit) })
	<-c.done
}

func (c *completer) run() {
	defer close(c.done)
	batch := make([]*attempt, 0, c.w.cfg.CompletionBatchSize)
	busy := false // the last batch held completions from at least half of the slots
	for {
		select {
		case comp := <-c.in:
			batch = append(batch[:0], comp)
		case <-c.quit:
			for {
				batch = c.take(batch[:0])
				if len(batch) == 0 {
					return
				}
				c.flush(batch)
			}
		}
		batch = c.take(batch)
		if busy && len(batch) < c.w.cfg.Concurrency {
			batch = c.gather(batch)
		}
		busy = c.w.cfg.Concurrency >= 8 && len(batch) >= c.w.cfg.Concurrency/2
		c.flush(batch)
	}
}

// gather waits up to refillWindow for more completions, until the batch has one per slot:
// under load the attempts of a claim end together, and one statement records them all
// instead of one per few (the claim loop's refill window does the same for claims).
func (c *completer) gather(batch []*attempt) []*attempt {
	t := time.NewTimer(refillWindow)
	defer t.Stop()
	for len(batch) < min(c.w.cfg.Concurrency, c.w.cfg.CompletionBatchSize) {
		select {
		case comp := <-c.in:
			batch = append(batch, comp)
		case <-t.C:
			return batch
		case <-c.quit:
			return batch
		}
	}
	return batch
}

// take appends queued completions without blocking, up to the batch size.
func (c *completer) take(batch []*attempt) []*attempt {
	for len(batch) < c.w.cfg.CompletionBatchSize {
		select {
		case comp := <-c.in:
			batch = append(batch, comp)
		default:
			return batch
		}
	}
	return batch
}

func (c *completer) flush(batch []*attempt) {
	c.comps = c.comps[:0]
	for _, a := range batch {
		c.comps = append(c.comps, store.Completion{TaskID: a.task.ID, Token: a.task.LeaseToken, Output: a.out})
	}
	var applied map[int64]bool
	began := time.Now()
	err := withRetries(context.Background(), c.w.cfg.DBTimeout, func(ctx context.Context) error {
		var e error
		applied, e = c.w.st.CompleteTasks(ctx, c.comps)
		return e
	})
	if err == nil {
		c.w.metrics.CompletionsFlushed(len(batch), time.Since(began))
	}
	if err != nil && !transient(err) && len(batch) > 1 {
		// One completion the database refuses (an output jsonb cannot hold, for example)
		// fails the whole statement: record the batch one by one, so that it costs only its
		// own attempt and not every attempt batched with it.
		for i := range batch {
			c.flush(batch[i : i+1])
		}
		return
	}
	if err != nil && !transient(err) {
		c.w.failCompletion(batch[0], err)
		c.w.forget(batch[0].task.ID, batch[0].task.LeaseToken)
		return
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		c.w.log.Error().Err(err).Int("tasks", len(batch)).
			Msg("stent: recording completions failed; the tasks will be rescued when their leases expire and run again")
	}
	for _, a := range batch {
		switch {
		case err != nil:
			c.w.finish(a, stent.OutcomeUnrecorded, err)
		case !applied[a.task.ID]:
			a.log.Warn().Msg("stent: completion rejected: the attempt lost its lease; its result is discarded")
			c.w.finish(a, stent.OutcomeLeaseLost, nil)
		default:
			if ev := a.log.Debug(); ev.Enabled() {
				if c.w.client.Config().LogPayloads {
					ev = ev.RawJSON("output", a.out)
				}
				ev.Dur("duration", a.ran).Msg("stent: attempt completed")
			}
			c.w.finish(a, stent.OutcomeCompleted, nil)
		}
		a.out = nil
		c.w.forget(a.task.ID, a.task.LeaseToken)
	}
}

// failCompletion records a completion the database refused as a failed attempt (retried
// per the task's policy), instead of leaving the task to be rescued when its lease expires.
func (w *Worker) failCompletion(a *attempt, cause error) {
	err := stent.WithKind(stent.KindError, fmt.Errorf("stent: the database refused the attempt's output: %w", cause))
	te := stent.EncodeAttemptError(err, "", w.client.Config().MaxPayloadBytes)
	var res store.FailResult
	ferr := withRetries(context.Background(), w.cfg.DBTimeout, func(ctx context.Context) error {
		var e error
		res, e = w.st.FailTask(ctx, a.task.ID, a.task.LeaseToken, te.JSON, te.Retryable, -1, "task")
		return e
	})
	a.out = nil
	ev := a.log.Error().Str("error", te.Message)
	switch {
	case errors.Is(ferr, stent.ErrLeaseLost):
		w.finish(a, stent.OutcomeLeaseLost, err)
	case ferr != nil:
		ev = ev.AnErr("record_error", ferr)
		w.finish(a, stent.OutcomeUnrecorded, err)
	case res.State == "pending":
		ev = a.log.Warn().Str("error", te.Message).Time("retry_at", *res.RunAt)
		w.finish(a, stent.OutcomeRetried, err)
	default:
		w.finish(a, stent.OutcomeDeadLettered, err)
	}
	ev.Msg("stent: the database refused an attempt's output; the attempt failed")
}

package worker

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/stentdev/stent/internal/store"
	"github.com/stentdev/stent/stent"
)

// completer records successful attempts in batches: it waits for the first completion, takes
// everything else already queued (up to CompletionBatchSize) and writes them in one
// statement. Under load completions pile up during each write, so batches grow by
// themselves; when idle a completion is written at once.
type completer struct {
	w    *Worker
	in   chan store.Completion
	quit chan struct{}
	done chan struct{}
	once sync.Once
}

func newCompleter(w *Worker) *completer {
	return &completer{
		w:    w,
		in:   make(chan store.Completion, 2*w.cfg.Concurrency),
		quit: make(chan struct{}),
		done: make(chan struct{}),
	}
}

// add queues a completion; it blocks when the queue is full (back-pressure on the slot).
func (c *completer) add(comp store.Completion) {
	c.in <- comp
}

// stop flushes everything queued and waits for the loop to end. Call it after every attempt
// has returned.
func (c *completer) stop() {
	c.once.Do(func() { close(c.quit) })
	<-c.done
}

func (c *completer) run() {
	defer close(c.done)
	batch := make([]store.Completion, 0, c.w.cfg.CompletionBatchSize)
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
		c.flush(batch)
	}
}

// take appends queued completions without blocking, up to the batch size.
func (c *completer) take(batch []store.Completion) []store.Completion {
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

func (c *completer) flush(batch []store.Completion) {
	var applied map[int64]bool
	err := withRetries(context.Background(), c.w.cfg.DBTimeout, func(ctx context.Context) error {
		var e error
		applied, e = c.w.st.CompleteTasks(ctx, batch)
		return e
	})
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
	}
	for _, comp := range batch {
		if err == nil && !applied[comp.TaskID] {
			c.w.log.Warn().Int64("task_id", comp.TaskID).Msg("stent: completion rejected: the attempt lost its lease; its result is discarded")
		}
		c.w.forget(comp.TaskID, comp.Token)
	}
	if err != nil && transient(err) && !errors.Is(err, context.Canceled) {
		c.w.log.Error().Err(err).Int("tasks", len(batch)).
			Msg("stent: recording completions failed; the tasks will be rescued when their leases expire and run again")
	}
}

// failCompletion records a completion the database refused as a failed attempt (retried
// per the task's policy), instead of leaving the task to be rescued when its lease expires.
func (w *Worker) failCompletion(comp store.Completion, cause error) {
	err := stent.WithKind(stent.KindError, fmt.Errorf("stent: the database refused the attempt's output: %w", cause))
	te := stent.EncodeAttemptError(err, "", w.client.Config().MaxPayloadBytes)
	ferr := withRetries(context.Background(), w.cfg.DBTimeout, func(ctx context.Context) error {
		_, e := w.st.FailTask(ctx, comp.TaskID, comp.Token, te.JSON, te.Retryable, -1, "task")
		return e
	})
	ev := w.log.Error().Int64("task_id", comp.TaskID).Str("error", te.Message)
	if ferr != nil {
		ev = ev.AnErr("record_error", ferr)
	}
	ev.Msg("stent: the database refused an attempt's output; the attempt failed")
}

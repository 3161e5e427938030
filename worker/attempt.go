package worker

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/trace"

	"github.com/stentdev/stent/internal/store"
	"github.com/stentdev/stent/stent"
)

// attempt is one claimed task, from claim until its outcome is recorded.
type attempt struct {
	task     *store.Task
	ctx      context.Context
	cancel   context.CancelCauseFunc
	released bool // set under Worker.mu when released at shutdown: record nothing
	finished bool // set under Worker.mu when the function returned: not released at shutdown

	run  context.Context // ctx with the attempt's span: what the function runs with
	span trace.Span      // the attempt's span (ended by Worker.finish)
	ran  time.Duration   // how long the function ran (for the metrics)
	out  []byte          // the output, while the completer records it
	log  zerolog.Logger  // with the attempt's ids (set before the attempt is shared)
}

func (a *attempt) lease() store.Lease {
	return store.Lease{TaskID: a.task.ID, Token: a.task.LeaseToken}
}

// startAttempt registers a claimed task and runs it in its own goroutine.
func (w *Worker) startAttempt(t *store.Task) {
	w.attempts.Add(1)
	w.launch(t, false)
}

// launch runs a claimed task whose attempt is already counted in w.attempts; reserved says
// it takes a slot set aside for an eager dispatch.
func (w *Worker) launch(t *store.Task, reserved bool) {
	w.claimed(t)
	ctx, cancel := context.WithCancelCause(context.Background())
	a := &attempt{task: t, ctx: ctx, cancel: cancel}
	a.run = w.startSpan(a)
	lc := w.log.With().Str("execution_id", t.ExecutionID.String()).Int64("task_id", t.ID).
		Str("function", t.Name).Int32("attempt", t.Attempt)
	if sc := a.span.SpanContext(); sc.HasTraceID() {
		lc = lc.Str("trace_id", sc.TraceID().String())
	}
	a.log = lc.Logger()
	exec := t.ExecutionID.String()
	w.mu.Lock()
	if old, ok := w.held[t.ID]; ok {
		// Claimed again (rescued or re-queued) while an older attempt of the task is still
		// held here: that attempt lost its lease, and heartbeats no longer cover it.
		old.cancel(stent.ErrLeaseLost)
	}
	w.held[t.ID] = a
	if w.byExec[exec] == nil {
		w.byExec[exec] = make(map[int64]*attempt)
	}
	w.byExec[exec][t.ID] = a
	w.active++
	if reserved {
		w.reserved--
	}
	w.mu.Unlock()
	go w.runAttempt(a)
}

// forget removes a recorded (or lost) attempt from the held set. The token identifies the
// attempt: a newer attempt of the same task, claimed again by this worker, is left alone.
func (w *Worker) forget(taskID, token int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	a, ok := w.held[taskID]
	if !ok || a.task.LeaseToken != token {
		return
	}
	delete(w.held, taskID)
	exec := a.task.ExecutionID.String()
	delete(w.byExec[exec], taskID)
	if len(w.byExec[exec]) == 0 {
		delete(w.byExec, exec)
	}
	a.cancel(context.Canceled)
}

func (w *Worker) runAttempt(a *attempt) {
	defer w.attempts.Done()
	t := a.task
	ctx := a.run
	log := &a.log
	began := time.Now()
	out, err := w.invoke(ctx, a, log)
	suspended := false
	for range maxReplays {
		var susp *stent.Suspension
		if !errors.As(err, &susp) || a.ctx.Err() != nil {
			break
		}
		if suspended, err = w.suspend(a, susp); suspended || err != nil {
			break
		}
		out, err = w.invoke(ctx, a, log) // the awaited children finished meanwhile: run on
	}
	a.ran = time.Since(began)

	w.mu.Lock()
	released := a.released
	a.finished = true
	w.active--
	w.slotFreed.Broadcast()
	w.mu.Unlock()
	w.wakeIfStarved()

	cause := context.Cause(a.ctx)
	switch {
	case released:
		w.finish(a, stent.OutcomeReleased, nil) // released at shutdown; nothing to record
		return
	case suspended:
		log.Debug().Msg("stent: workflow suspended until its children finish")
		w.finish(a, stent.OutcomeSuspended, nil)
		w.forget(t.ID, t.LeaseToken)
		return
	case errors.Is(cause, stent.ErrCancelled):
		log.Info().Msg("stent: attempt cancelled with its execution; its result is discarded")
		w.finish(a, stent.OutcomeCancelled, nil)
		w.forget(t.ID, t.LeaseToken)
		return
	case errors.Is(cause, stent.ErrLeaseLost), errors.Is(err, stent.ErrLeaseLost):
		log.Warn().Err(cause).Msg("stent: attempt abandoned after losing its lease; its result is discarded")
		w.finish(a, stent.OutcomeLeaseLost, nil)
		w.forget(t.ID, t.LeaseToken)
		return
	case err == nil && out == nil:
		log.Debug().Msg("stent: attempt completed transactionally")
		w.finish(a, stent.OutcomeCompleted, nil)
		w.forget(t.ID, t.LeaseToken) // transactional: completed in its own transaction
		return
	case err == nil:
		a.out = out
		w.completer.add(a)
		return
	}
	w.recordFailure(a, err, log)
}

// invoke runs the function with panic recovery, the attempt timeout and, for transactional
// definitions, the attempt's transaction. A nil output with a nil error means the attempt
// already completed in its transaction.
func (w *Worker) invoke(ctx context.Context, a *attempt, log *zerologLogger) (out []byte, err error) {
	t := a.task
	def, ok := w.reg.Lookup(t.Name)
	if !ok {
		return nil, stent.WithKind(stent.KindUnregistered, &stent.UnregisteredError{Name: t.Name, Registered: w.reg.Names()})
	}
	ctx = stent.WithAttempt(ctx, stent.AttemptInfo{
		ExecutionID: t.ExecutionID, TaskID: t.ID, Name: t.Name, Attempt: int(t.Attempt),
		MaxAttempts: int(t.MaxAttempts), WorkerID: w.cfg.ID,
	})
	if d := intervalDuration(t.Timeout); d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, d, errAttemptTimeout)
		defer cancel()
	}
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, &panicError{value: r, stack: trimStack(debug.Stack())}
		}
		if err != nil && errors.Is(context.Cause(ctx), errAttemptTimeout) && ctx.Err() != nil {
			err = stent.WithKind(stent.KindTimeout, fmt.Errorf("attempt exceeded its timeout of %s: %w", intervalDuration(t.Timeout), err))
		}
	}()
	inv := stent.Invocation{
		Input: t.Input, Codec: w.client.Config().Codec, MaxPayloadBytes: w.client.Config().MaxPayloadBytes,
		Pool: w.client.Pool(), TaskID: t.ID, Token: t.LeaseToken,
		ResidentWait: w.cfg.ResidentWait, OnWait: w.lendSlot,
	}
	if !def.Transactional() {
		return def.Invoke(ctx, inv)
	}
	return w.invokeTx(ctx, a, def, inv, log)
}

// invokeTx runs a transactional definition: its writes and the completion commit together.
func (w *Worker) invokeTx(ctx context.Context, a *attempt, def stent.Definition, inv stent.Invocation, log *zerologLogger) ([]byte, error) {
	tx, err := w.client.Pool().Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("stent: beginning the attempt's transaction: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	inv.Tx = tx
	out, err := def.Invoke(ctx, inv)
	if err != nil {
		return nil, err
	}
	if err := w.st.WithTx(tx).CompleteTask(ctx, store.Completion{TaskID: a.task.ID, Token: a.task.LeaseToken, Output: out}); err != nil {
		if errors.Is(err, stent.ErrLeaseLost) {
			a.cancel(stent.ErrLeaseLost)
		}
		return nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("stent: committing the attempt's transaction: %w", err)
	}
	return nil, nil
}

// recordFailure writes a failed attempt (retry or dead letter), retrying transient errors.
func (w *Worker) recordFailure(a *attempt, err error, log *zerologLogger) {
	defer w.forget(a.task.ID, a.task.LeaseToken)
	stack := ""
	var pe *panicError
	if errors.As(err, &pe) {
		stack = pe.stack
	}
	te := stent.EncodeAttemptError(err, stack, w.client.Config().MaxPayloadBytes)
	retryAfter, scope := time.Duration(-1), string(stent.ScopeTask)
	if d, ok := stent.RetryAfterOf(err); ok {
		retryAfter = d
		if def, found := w.reg.Lookup(a.task.Name); found {
			scope = string(def.Options().RetryAfterScope)
		}
	}
	var res store.FailResult
	ferr := withRetries(context.Background(), w.cfg.DBTimeout, func(ctx context.Context) error {
		var e error
		res, e = w.st.FailTask(ctx, a.task.ID, a.task.LeaseToken, te.JSON, te.Retryable, retryAfter, scope)
		return e
	})
	switch {
	case errors.Is(ferr, stent.ErrLeaseLost):
		log.Warn().Msg("stent: attempt failed after losing its lease; failure discarded")
		w.finish(a, stent.OutcomeLeaseLost, err)
	case ferr != nil:
		log.Error().Err(ferr).Msg("stent: recording failed attempt; the task will be rescued when its lease expires")
		w.finish(a, stent.OutcomeUnrecorded, err)
	case res.State == "pending":
		log.Warn().Str("error_kind", te.Kind).Str("error", te.Message).Time("retry_at", *res.RunAt).Msg("stent: attempt failed; will retry")
		w.finish(a, stent.OutcomeRetried, err)
	default:
		log.Error().Str("error_kind", te.Kind).Str("error", te.Message).Msg("stent: task failed; moved to the dead-letter queue")
		w.finish(a, stent.OutcomeDeadLettered, err)
	}
}

// panicError is a recovered panic, recorded as an attempt error of kind "panic".
type panicError struct {
	value any
	stack string
}

func (e *panicError) Error() string     { return fmt.Sprintf("panic: %v", e.value) }
func (e *panicError) ErrorKind() string { return stent.KindPanic }

func trimStack(b []byte) string {
	const max = 16 << 10
	if len(b) > max {
		b = b[:max]
	}
	return string(b)
}

// intervalDuration converts a Postgres interval (months counted as 30 days) to a Duration.
func intervalDuration(i pgtype.Interval) time.Duration {
	if !i.Valid {
		return 0
	}
	return time.Duration(i.Microseconds)*time.Microsecond +
		time.Duration(i.Days)*24*time.Hour + time.Duration(i.Months)*30*24*time.Hour
}

// maxReplays bounds how often one attempt re-runs a workflow whose awaited children finished
// before it could suspend.
const maxReplays = 100

// suspend parks a workflow task that waits for children (stent.suspend_task): it frees the
// slot and the database wakes the task when the last awaited child finishes. false means the
// children already finished and the code should run again now.
func (w *Worker) suspend(a *attempt, s *stent.Suspension) (bool, error) {
	if s.Parked {
		return true, nil
	}
	var ok bool
	err := withRetries(context.Background(), w.cfg.DBTimeout, func(ctx context.Context) error {
		var e error
		ok, e = w.st.SuspendTask(ctx, a.task.ID, a.task.LeaseToken, s.Awaiting, s.Until)
		return e
	})
	return ok, err
}

// lendSlot frees a workflow's slot while it waits resident for a child (so that, with one
// slot, the child can run) and takes one back after: a returning workflow waits for a free
// slot, and the claim loop leaves free slots to returning workflows first, so Concurrency is
// never exceeded.
func (w *Worker) lendSlot(waiting bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if waiting {
		w.active--
		w.slotFreed.Broadcast()
		w.signalWake()
		return
	}
	w.returning++
	for w.active+w.reserved >= w.cfg.Concurrency {
		w.slotFreed.Wait()
	}
	w.returning--
	w.active++
}

package stent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/stentdev/stent/internal/hub"
	"github.com/stentdev/stent/internal/store"
)

// Suspension is returned by a workflow's Invoke when its code waits for children that have
// not finished: the worker parks the task (stent.suspend_task) instead of holding a slot, and
// the database makes it runnable again when the last awaited child finishes.
type Suspension struct {
	Awaiting []int64    // task ids of the awaited children
	Until    *time.Time // with no children: when a durable sleep ends
	Parked   bool       // already parked by the database (a signal wait): nothing to record
}

func (s *Suspension) Error() string {
	return fmt.Sprintf("stent: workflow suspended, awaiting %d task(s)", len(s.Awaiting))
}

// Call runs the activity as a checkpointed child of the workflow: a task of its own (its
// queue, retry policy, timeout and limits), recorded at the next position. When the workflow
// runs again the recorded result is returned without running the activity again. While the
// child runs, the workflow is suspended (no goroutine, no worker slot) and woken when it
// finishes. A child that failed for good returns its *TaskError.
func (a *Activity[In, Out]) Call(ctx Context, in In) (Out, error) {
	return callChild[In, Out](ctx, a, in)
}

// Call runs the workflow as a checkpointed child workflow of the calling one, in the same
// execution: its own task and checkpoints, recorded at the next position. While it runs, the
// caller is suspended; when it finishes, the caller is woken and gets its result.
func (w *Workflow[In, Out]) Call(ctx Context, in In) (Out, error) {
	return callChild[In, Out](ctx, w, in)
}

func callChild[In, Out any](ctx Context, def Definition, in In) (Out, error) {
	var zero Out
	rt, cp, err := startChild(ctx, def, in)
	if err != nil {
		return zero, err
	}
	return childResult[Out](rt, def, cp)
}

// startChild records (or finds) the child call at the next position.
func startChild(ctx Context, def Definition, in any) (*runtime, *store.Task, error) {
	rt := ctx.workflowRuntime()
	if rt == nil {
		return nil, nil, errNotInWorkflow
	}
	if err := rt.stopped(); err != nil {
		return nil, nil, err
	}
	seq, cp := rt.next()
	if cp == nil {
		req, err := childRequest(rt, def, in)
		if err != nil {
			return nil, nil, rt.fail(err)
		}
		if cp, err = rt.callChild(ctx, seq, req); err != nil {
			return nil, nil, rt.failWrite(err)
		}
	}
	if err := rt.check(seq, cp, def.Kind(), def.Name()); err != nil {
		return nil, nil, err
	}
	return rt, cp, nil
}

// childResult returns a finished child's result, or suspends the workflow until it finishes.
func childResult[Out any](rt *runtime, def Definition, cp *store.Task) (Out, error) {
	var zero Out
	switch cp.State {
	case "completed":
		var v Out
		if err := rt.codec.Unmarshal(cp.Output, &v); err != nil {
			return zero, rt.fail(&DecodeError{Name: def.Name(), What: "recorded output", Err: err})
		}
		return v, nil
	case "failed":
		return zero, decodeTaskError(cp.Error)
	case "cancelled":
		return zero, ErrCancelled
	}
	if err := rt.stopped(); err != nil {
		return zero, err
	}
	if done := rt.waitResident(cp); done != nil {
		return childResult[Out](rt, def, done)
	}
	return zero, rt.suspend(cp.ID)
}

// waitResident checks an unfinished child for up to the resident wait (cheap: no
// suspension, no replay) and returns its row once finished, or nil to suspend.
func (rt *runtime) waitResident(cp *store.Task) *store.Task {
	if rt.residentWait <= 0 {
		return nil
	}
	if rt.onWait != nil {
		rt.onWait(true)
		defer rt.onWait(false)
	}
	// The wait wakes as soon as the child's outcome is committed: at once when this process
	// ran it, through the 'stent_calls' notification when another did (a completion; a
	// failure or a lost notification is seen at the next poll).
	waiter, stop := hub.Wait(cp.ExecutionID, cp.ID)
	defer stop()
	woken := waiter.C
	ctx := context.Background()
	deadline := time.Now().Add(rt.residentWait)
	for pause := residentPoll; time.Now().Before(deadline); pause = min(2*pause, 4*residentPoll) {
		timer := time.NewTimer(min(pause, time.Until(deadline)))
		select {
		case <-woken:
			woken = nil // woken once; poll after that
			if o := waiter.Outcome(); o != nil {
				timer.Stop()
				done := *cp
				done.State, done.Output = o.State, o.Output
				return &done
			}
		case <-timer.C:
		}
		timer.Stop()
		row, err := rt.st.GetTask(ctx, cp.ID)
		if err != nil {
			return nil
		}
		switch row.State {
		case "completed", "failed", "cancelled":
			return row
		}
	}
	return nil
}

// residentPoll is the first interval at which a resident wait reads its child's row, doubling
// after each read. Reads are only the fallback — a completion wakes the wait through the hub
// (this process) or 'stent_calls' (another) — and under load they were most of a workflow's
// reads: at 25 ms, about 14 reads per 10-call workflow.
const residentPoll = 100 * time.Millisecond

// Future is the result of a child started with Go, to collect later with Get.
type Future[T any] struct {
	rt  *runtime
	def Definition
	row *store.Task
	err error
}

// Go starts the activity as a checkpointed child without waiting for it (fan-out); collect
// its result with Get. Starting is recorded at the next position, like Call.
func (a *Activity[In, Out]) Go(ctx Context, in In) *Future[Out] {
	rt, cp, err := startChild(ctx, a, in)
	return &Future[Out]{rt: rt, def: a, row: cp, err: err}
}

// Go starts an activity as a checkpointed child without waiting for it; see Activity.Go.
func Go[In, Out any](ctx Context, a *Activity[In, Out], in In) *Future[Out] {
	return a.Go(ctx, in)
}

// Get returns the child's result. If it has not finished, the workflow suspends until it
// does (Get then returns the Suspension, which the workflow code should return).
func (f *Future[T]) Get() (T, error) {
	var zero T
	if f.err != nil {
		return zero, f.err
	}
	return childResult[T](f.rt, f.def, f.row)
}

// childRequest encodes a child call with the definition's settings.
func childRequest(rt *runtime, def Definition, in any) ([]byte, error) {
	input, err := encodePayload(rt.codec, rt.limit, "input of "+def.Name(), in)
	if err != nil {
		return nil, err
	}
	o := def.Options()
	r := dispatchRequest{
		Name: def.Name(), Kind: def.Kind(), Input: input, Queue: o.Queue, Priority: o.Priority, Tags: o.Tags,
		MaxAttempts: o.Retry.MaxAttempts, RetryInitialMS: ms(o.Retry.InitialDelay),
		RetryBackoffFactor: o.Retry.BackoffFactor, RetryMaxMS: ms(o.Retry.MaxDelay), RetryJitter: o.Retry.Jitter,
		RetryOn: o.Retry.RetryOn, TimeoutMS: ms(o.Timeout), KeyPath: o.KeyPath,
		TraceContext: rt.traceContext,
	}
	if o.Cached {
		h := sha256.New()
		h.Write([]byte(def.Name() + "\x00" + o.Version + "\x00"))
		h.Write(input)
		r.CacheKey, r.CacheTTLMS = hex.EncodeToString(h.Sum(nil)), ms(o.CacheTTL)
	}
	return json.Marshal(r)
}

// suspend records that the code waits for task id and returns the Suspension every later
// durable call also returns, so the code stops making progress until it is woken.
func (rt *runtime) suspend(id int64) error {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.suspension == nil {
		rt.suspension = &Suspension{}
	}
	rt.suspension.Awaiting = append(rt.suspension.Awaiting, id)
	return rt.suspension
}

// stopped returns the error that ends this run of the code early: a fatal error or a
// suspension.
func (rt *runtime) stopped() error {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.fatal != nil {
		return rt.fatal
	}
	if rt.suspension != nil {
		return rt.suspension
	}
	return nil
}

package stent_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/stenttest"
	"github.com/stentdev/stent/worker"
)

// TestRetryExecutionKeepsCheckpoints: a workflow whose third activity fails for good fails
// with two dead letters (the activity and the workflow). Once the activity is fixed, Retry
// runs it again from its checkpoints: the first two activities do not run again, the third
// runs once more, the dead letters are gone and the workflow completes. A completed
// execution cannot be retried.
func TestRetryExecutionKeepsCheckpoints(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var runs [4]atomic.Int32
	var broken atomic.Bool
	broken.Store(true)
	act := stent.NewActivity("retry.act", func(_ context.Context, n int) (int, error) {
		runs[n].Add(1)
		if n == 3 && broken.Load() {
			return 0, stent.Permanent(errors.New("downstream rejects 3"))
		}
		return n * 10, nil
	}, stent.InRegistry(b.reg), stent.Retry(stent.RetryPolicy{MaxAttempts: 2}))
	wf := stent.NewWorkflow("retry.wf", func(ctx stent.Context, _ string) (int, error) {
		sum := 0
		for n := 1; n <= 3; n++ {
			v, err := act.Call(ctx, n)
			if err != nil {
				return 0, err
			}
			sum += v
		}
		return sum, nil
	}, stent.InRegistry(b.reg), stent.Retry(stent.RetryPolicy{MaxAttempts: 1}))
	stenttest.StartWorker(t, b.client, worker.Config{Concurrency: 4})

	id, err := wf.Dispatch(b.ctx, b.client, "x")
	require.NoError(t, err)
	_, err = wf.Wait(b.ctx, b.client, id)
	var ee *stent.ExecutionError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, stent.StateFailed, ee.State)
	require.Contains(t, ee.Error(), "downstream rejects 3")
	require.Equal(t, 2, b.count(t, "select count(*) from stent.dead_letters where execution_id = $1", id))
	before := b.tasksByID(t, id)

	broken.Store(false)
	require.NoError(t, b.client.Retry(b.ctx, id))
	got, err := wf.Wait(b.ctx, b.client, id)
	require.NoError(t, err)
	require.Equal(t, 60, got)
	require.EqualValues(t, 1, runs[1].Load(), "activity 1 kept its result")
	require.EqualValues(t, 1, runs[2].Load(), "activity 2 kept its result")
	require.EqualValues(t, 2, runs[3].Load(), "activity 3 failed once and ran once more")
	require.Zero(t, b.count(t, "select count(*) from stent.dead_letters where execution_id = $1", id))

	after := b.tasksByID(t, id)
	require.Len(t, after, len(before), "the failed tasks were reset, not recreated")
	for tid, old := range before {
		if old.State == "completed" {
			require.Equal(t, old, after[tid], "completed task %d untouched", tid)
		} else {
			require.Equal(t, "completed", after[tid].State)
			require.Equal(t, 1, after[tid].Attempt, "attempts restarted from zero")
			require.Nil(t, after[tid].Error)
		}
	}

	err = b.client.Retry(b.ctx, id)
	require.ErrorIs(t, err, stent.ErrWrongState)
	require.Contains(t, err.Error(), "completed")
}

// reason returns the execution's explain row with that reason, or nil. (It may run in a
// polling goroutine, so it reports an error without stopping the test.)
func (b *testBundle) reason(t *testing.T, id uuid.UUID, reason string) *stent.Reason {
	t.Helper()
	rs, err := b.client.Explain(b.ctx, id)
	if err != nil {
		t.Errorf("explain %s: %v", id, err)
		return nil
	}
	for i := range rs {
		if rs[i].Reason == reason {
			return &rs[i]
		}
	}
	return nil
}

// tasksByID returns an execution's tasks by id.
func (b *testBundle) tasksByID(t *testing.T, id uuid.UUID) map[int64]*stent.Task {
	t.Helper()
	e, err := b.client.Get(b.ctx, id)
	require.NoError(t, err)
	out := make(map[int64]*stent.Task, len(e.Tasks))
	for _, tk := range e.Tasks {
		out[tk.ID] = tk
	}
	return out
}

// TestRetryCancelledAndTimedOut: a workflow cancelled while waiting for a signal, and one
// that timed out waiting, are retried: the step before the wait is not run again, the wait
// gets its deadline back (the full timeout again when it had passed), the passed execution
// deadline is dropped, and a signal then completes each.
func TestRetryCancelledAndTimedOut(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var stepRuns atomic.Int32
	wf := stent.NewWorkflow("retry.signal", func(ctx stent.Context, _ string) (string, error) {
		if _, err := stent.Step(ctx, "prepare", func(context.Context) (int, error) { return int(stepRuns.Add(1)), nil }); err != nil {
			return "", err
		}
		a, err := stent.WaitSignal[approval](ctx, "approve", time.Hour)
		if err != nil {
			return "", err
		}
		return "approved by " + a.By, nil
	}, stent.InRegistry(b.reg))
	// (After the clock jumps, explain also says no_worker until the worker's next heartbeat.)
	stenttest.StartWorker(t, b.client, worker.Config{})

	cancelled, err := wf.Dispatch(b.ctx, b.client, "c")
	require.NoError(t, err)
	timedOut, err := wf.Dispatch(b.ctx, b.client, "t", stent.WithMaxDuration(30*time.Minute))
	require.NoError(t, err)
	for _, id := range []uuid.UUID{cancelled, timedOut} {
		pollUntil(t, "the workflow waits for its signal", func() bool {
			return b.reason(t, id, stent.ReasonWaitingSignal) != nil
		})
	}
	st, err := b.client.Cancel(b.ctx, cancelled)
	require.NoError(t, err)
	require.Equal(t, stent.StateCancelled, st)
	b.clock.Advance(2 * time.Hour) // past the execution deadline and the wait's timeout
	pollUntil(t, "the deadline expires the execution", func() bool { return b.executionState(t, timedOut) == stent.StateTimedOut })
	require.Equal(t, 1, b.count(t, "select count(*) from stent.executions where id = $1 and deadline is not null", timedOut))

	for _, id := range []uuid.UUID{cancelled, timedOut} {
		require.NoError(t, b.client.Retry(b.ctx, id))
		pollUntil(t, "the retried workflow waits for its signal again", func() bool {
			return b.reason(t, id, stent.ReasonWaitingSignal) != nil
		})
		requireTime(t, b.clock.Now().Add(time.Hour), *b.reason(t, id, stent.ReasonWaitingSignal).Until,
			"a fresh timeout from the retry")
		require.NoError(t, b.client.Signal(b.ctx, id, "approve", approval{By: "ann"}))
		got, err := wf.Wait(b.ctx, b.client, id)
		require.NoError(t, err)
		require.Equal(t, "approved by ann", got)
	}
	require.EqualValues(t, 2, stepRuns.Load(), "each execution ran its step once")
	require.Equal(t, 1, b.count(t, "select count(*) from stent.executions where id = $1 and deadline is null", timedOut),
		"the passed deadline was dropped")
}

// TestRetryNestedChildWorkflow: a child workflow whose second activity fails for good fails
// its parent; Retry resets the parent, the child workflow and the failed activity, and the
// rerun completes without running the finished activities (in parent and child) again.
func TestRetryNestedChildWorkflow(t *testing.T) {
	t.Parallel()
	b := setup(t)
	runs := map[string]*atomic.Int32{"before": {}, "inner-ok": {}, "inner-flaky": {}}
	var broken atomic.Bool
	broken.Store(true)
	act := stent.NewActivity("retry.nested.act", func(_ context.Context, what string) (string, error) {
		runs[what].Add(1)
		if what == "inner-flaky" && broken.Load() {
			return "", stent.Permanent(errors.New("flaky"))
		}
		return what, nil
	}, stent.InRegistry(b.reg))
	child := stent.NewWorkflow("retry.nested.child", func(ctx stent.Context, _ string) (string, error) {
		a, err := act.Call(ctx, "inner-ok")
		if err != nil {
			return "", err
		}
		c, err := act.Call(ctx, "inner-flaky")
		return a + "+" + c, err
	}, stent.InRegistry(b.reg), stent.Retry(stent.RetryPolicy{MaxAttempts: 1}))
	parent := stent.NewWorkflow("retry.nested.parent", func(ctx stent.Context, _ string) (string, error) {
		a, err := act.Call(ctx, "before")
		if err != nil {
			return "", err
		}
		c, err := child.Call(ctx, "x")
		return a + "/" + c, err
	}, stent.InRegistry(b.reg), stent.Retry(stent.RetryPolicy{MaxAttempts: 1}))
	stenttest.StartWorker(t, b.client, worker.Config{Concurrency: 4})

	id, err := parent.Dispatch(b.ctx, b.client, "x")
	require.NoError(t, err)
	_, err = parent.Wait(b.ctx, b.client, id)
	require.ErrorContains(t, err, "flaky")
	require.Equal(t, 3, b.count(t, "select count(*) from stent.tasks where execution_id = $1 and state = 'failed'", id))

	broken.Store(false)
	require.NoError(t, b.client.Retry(b.ctx, id))
	got, err := parent.Wait(b.ctx, b.client, id)
	require.NoError(t, err)
	require.Equal(t, "before/inner-ok+inner-flaky", got)
	require.EqualValues(t, 1, runs["before"].Load())
	require.EqualValues(t, 1, runs["inner-ok"].Load())
	require.EqualValues(t, 2, runs["inner-flaky"].Load())
	require.Zero(t, b.count(t, "select count(*) from stent.dead_letters where execution_id = $1", id))
}

// TestRetryCancelledFanOut: a fan-out cancelled while one activity is still running (its
// attempt is cancelled on the worker) is retried: the finished activities keep their results,
// the cancelled one runs again and the workflow completes with every result.
func TestRetryCancelledFanOut(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var runs [4]atomic.Int32
	blocking := make(chan struct{}, 4)
	release := make(chan struct{})
	act := stent.NewActivity("retry.fan.act", func(ctx context.Context, n int) (int, error) {
		runs[n].Add(1)
		if n == 3 && runs[n].Load() == 1 {
			blocking <- struct{}{}
			<-ctx.Done() // the first attempt is cancelled with its execution
			return 0, ctx.Err()
		}
		if n == 3 {
			<-release
		}
		return n * n, nil
	}, stent.InRegistry(b.reg))
	wf := stent.NewWorkflow("retry.fan", func(ctx stent.Context, _ string) (int, error) {
		rs, err := act.Map(ctx, []int{0, 1, 2, 3})
		if err != nil {
			return 0, err
		}
		sum := 0
		for _, r := range rs {
			sum += r
		}
		return sum, nil
	}, stent.InRegistry(b.reg))
	stenttest.StartWorker(t, b.client, worker.Config{Concurrency: 8})

	id, err := wf.Dispatch(b.ctx, b.client, "x")
	require.NoError(t, err)
	<-blocking
	pollUntil(t, "the three quick activities to finish", func() bool {
		return b.count(t, "select count(*) from stent.tasks where execution_id = $1 and kind = 'activity' and state = 'completed'", id) == 3
	})
	_, err = b.client.Cancel(b.ctx, id)
	require.NoError(t, err)
	_, err = wf.Wait(b.ctx, b.client, id)
	require.ErrorIs(t, err, stent.ErrCancelled)

	require.NoError(t, b.client.Retry(b.ctx, id))
	close(release)
	got, err := wf.Wait(b.ctx, b.client, id)
	require.NoError(t, err)
	require.Equal(t, 0+1+4+9, got)
	for n := range 3 {
		require.EqualValues(t, 1, runs[n].Load(), "activity %d ran once", n)
	}
	require.EqualValues(t, 2, runs[3].Load(), "the cancelled activity ran again")
}

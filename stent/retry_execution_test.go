package stent_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/internal/store"
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

// TestRetryWrongStateOrUnknown: pending, running and completed executions are refused with
// ErrWrongState (ST004 in SQL), unknown ids with ErrNotFound (ST002), and nothing changes.
func TestRetryWrongStateOrUnknown(t *testing.T) {
	t.Parallel()
	b := setup(t)
	done, _ := b.dispatch(t, b.echo("retry.done", stent.Queue("done")), "done")
	b.complete(t, done, `"ok"`)
	act := b.echo("retry.state")
	running, _ := b.dispatch(t, act, "running")
	b.claimOne(t, "w1")
	pending, _ := b.dispatch(t, act, "pending")

	snapshot := func() string {
		var s string
		require.NoError(t, b.pool.QueryRow(b.ctx, `select (select string_agg(e::text, '|' order by e.id) from stent.executions e)
			|| (select string_agg(t::text, '|' order by t.id) from stent.tasks t)`).Scan(&s))
		return s
	}
	before := snapshot()
	for _, id := range []uuid.UUID{pending, running, done} {
		err := b.client.Retry(b.ctx, id)
		require.ErrorIs(t, err, stent.ErrWrongState, "execution %s", id)
		_, err = b.pool.Exec(b.ctx, "select stent.retry_execution($1)", id)
		requireSQLState(t, err, "ST004")
	}
	require.ErrorIs(t, b.client.Retry(b.ctx, uuid.New()), stent.ErrNotFound)
	_, err := b.pool.Exec(b.ctx, "select stent.retry_execution($1)", uuid.New())
	requireSQLState(t, err, "ST002")
	require.Equal(t, before, snapshot())
}

// TestRetryFencesStaleAttempts: an attempt still running when its execution was cancelled
// cannot complete after the retry — the reset moved the lease token, and the new claim moves
// it again — while the new attempt completes the execution. RetryTx applies only on commit.
func TestRetryFencesStaleAttempts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id, taskID := b.dispatch(t, b.echo("retry.stale"), "x")
	stale := b.claimOne(t, "w-old")
	_, err := b.client.Cancel(b.ctx, id)
	require.NoError(t, err)

	tx, err := b.pool.Begin(b.ctx)
	require.NoError(t, err)
	require.NoError(t, b.client.RetryTx(b.ctx, tx, id))
	require.NoError(t, tx.Rollback(b.ctx))
	require.Equal(t, stent.StateCancelled, b.executionState(t, id), "rolled back: still cancelled")

	tx, err = b.pool.Begin(b.ctx)
	require.NoError(t, err)
	require.NoError(t, b.client.RetryTx(b.ctx, tx, id))
	require.NoError(t, tx.Commit(b.ctx))
	require.Equal(t, stent.StatePending, b.executionState(t, id))
	reset := b.task(t, taskID)
	require.Equal(t, "pending", reset.State)
	require.Zero(t, reset.Attempt)
	require.NotEqual(t, stale.LeaseToken, reset.LeaseToken, "the token moved")
	err = b.store.CompleteTask(b.ctx, store.Completion{TaskID: taskID, Token: stale.LeaseToken, Output: []byte(`"stale"`)})
	require.ErrorIs(t, err, stent.ErrLeaseLost)

	fresh := b.claimOne(t, "w-new")
	require.EqualValues(t, 1, fresh.Attempt)
	err = b.store.CompleteTask(b.ctx, store.Completion{TaskID: taskID, Token: stale.LeaseToken, Output: []byte(`"stale"`)})
	require.ErrorIs(t, err, stent.ErrLeaseLost)
	require.NoError(t, b.store.CompleteTask(b.ctx, store.Completion{TaskID: taskID, Token: fresh.LeaseToken, Output: []byte(`"fresh"`)}))
	e, err := b.client.Get(b.ctx, id)
	require.NoError(t, err)
	require.Equal(t, stent.StateCompleted, e.State)
	require.JSONEq(t, `"fresh"`, string(e.Output))
}

// TestRetryRaces: ten concurrent retries of one failed execution: one wins, the others get
// ErrWrongState. Retries racing cancels end in a state some serial order explains, without
// deadlocks, and dead-letter replays racing a retry find the entry gone or win.
func TestRetryRaces(t *testing.T) {
	t.Parallel()
	b := setup(t, withMaxConns(20))
	act := b.echo("retry.race")
	failed := func() uuid.UUID {
		id, _ := b.dispatch(t, act, "x", stent.WithRetry(stent.RetryPolicy{MaxAttempts: 1}))
		tk := b.claimOne(t, "w1")
		_, err := b.store.FailTask(b.ctx, tk.ID, tk.LeaseToken, errJSON("error", "boom"), false, -1, "task")
		require.NoError(t, err)
		return id
	}

	id := failed()
	var wins atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for range 10 {
		wg.Go(func() {
			err := b.client.Retry(b.ctx, id)
			if err == nil {
				wins.Add(1)
				return
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	require.EqualValues(t, 1, wins.Load())
	for err := range errs {
		require.ErrorIs(t, err, stent.ErrWrongState)
	}
	require.Equal(t, stent.StatePending, b.executionState(t, id))
	b.claimOne(t, "w1") // claim it so later claims see only new work
	_, err := b.client.Cancel(b.ctx, id)
	require.NoError(t, err)

	for range 5 {
		id := failed()
		dls, err := b.client.ListDeadLetters(b.ctx, stent.DeadLetterListParams{Name: "retry.race", Limit: 1})
		require.NoError(t, err)
		var retryErr, cancelErr, replayErr error
		var wg sync.WaitGroup
		wg.Go(func() { retryErr = b.client.Retry(b.ctx, id) })
		wg.Go(func() { _, cancelErr = b.client.Cancel(b.ctx, id) })
		wg.Go(func() { _, replayErr = b.client.ReplayDeadLetter(b.ctx, dls[0].ID) })
		wg.Wait()
		require.NoError(t, cancelErr)
		if retryErr != nil {
			require.ErrorIs(t, retryErr, stent.ErrWrongState, "the replay won")
			require.NoError(t, replayErr)
		} else if replayErr != nil {
			require.ErrorIs(t, replayErr, stent.ErrNotFound, "the retry won")
		}
		require.False(t, retryErr != nil && replayErr != nil, "one of them wins")
		st := b.executionState(t, id)
		require.Contains(t, []stent.ExecutionState{stent.StatePending, stent.StateCancelled}, st)
		require.Zero(t, b.count(t, "select count(*) from stent.dead_letters where execution_id = $1", id))
		root := b.rootTask(t, id)
		if st == stent.StatePending {
			require.Equal(t, "pending", root.State)
		} else {
			require.Equal(t, "cancelled", root.State)
		}
		_, err = b.client.Cancel(b.ctx, id) // leave nothing claimable for the next round
		require.NoError(t, err)
	}
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

package stent_test

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/internal/store"
	"github.com/stentdev/stent/stent"
)

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
// it again — while the new attempt completes the execution. RetryTx applies only on commit,
// and wakes the workers of the task's queue.
func TestRetryFencesStaleAttempts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id, taskID := b.dispatch(t, b.echo("retry.stale", stent.Queue("stale-q")), "x")
	stale := b.claim(t, store.ClaimParams{WorkerID: "w-old", Queues: []string{"stale-q"}})[0]
	_, err := b.client.Cancel(b.ctx, id)
	require.NoError(t, err)
	listener := b.listenTasks(t)

	tx, err := b.pool.Begin(b.ctx)
	require.NoError(t, err)
	require.NoError(t, b.client.RetryTx(b.ctx, tx, id))
	require.NoError(t, tx.Rollback(b.ctx))
	require.Equal(t, stent.StateCancelled, b.executionState(t, id), "rolled back: still cancelled")

	tx, err = b.pool.Begin(b.ctx)
	require.NoError(t, err)
	require.NoError(t, b.client.RetryTx(b.ctx, tx, id))
	require.NoError(t, tx.Commit(b.ctx))
	awaitNotification(t, listener, "stale-q") // the workers of the task's queue are woken
	require.Equal(t, stent.StatePending, b.executionState(t, id))
	reset := b.task(t, taskID)
	require.Equal(t, "pending", reset.State)
	require.Zero(t, reset.Attempt)
	require.NotEqual(t, stale.LeaseToken, reset.LeaseToken, "the token moved")
	err = b.store.CompleteTask(b.ctx, store.Completion{TaskID: taskID, Token: stale.LeaseToken, Output: []byte(`"stale"`)})
	require.ErrorIs(t, err, stent.ErrLeaseLost)

	fresh := b.claim(t, store.ClaimParams{WorkerID: "w-new", Queues: []string{"stale-q"}})[0]
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

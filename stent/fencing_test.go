package stent_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/internal/store"
	"github.com/stentdev/stent/stent"
)

// requireRejected checks that every write of the attempt (workerID, token) on task id is
// refused as lease lost, and that none of them changed the task or its execution.
func requireRejected(t *testing.T, b *testBundle, id int64, workerID string, token int64) {
	t.Helper()
	before := b.task(t, id)
	execBefore := b.execution(t, before.ExecutionID)

	ok, err := b.store.CompleteTasks(b.ctx, []store.Completion{{TaskID: id, Token: token, Output: []byte(`"stale"`)}})
	require.NoError(t, err)
	require.Equal(t, map[int64]bool{id: false}, ok, "batched completion reports lease lost")

	err = b.store.CompleteTask(b.ctx, store.Completion{TaskID: id, Token: token, Output: []byte(`"stale"`)})
	require.ErrorIs(t, err, stent.ErrLeaseLost)

	_, err = b.store.FailTask(b.ctx, id, token, errJSON("error", "stale failure"), true, -1, "task")
	require.ErrorIs(t, err, stent.ErrLeaseLost)
	_, err = b.store.FailTask(b.ctx, id, token, errJSON("error", "stale permanent failure"), false, -1, "task")
	require.ErrorIs(t, err, stent.ErrLeaseLost)

	renewed, err := b.store.RenewLeases(b.ctx, workerID, []store.Lease{{TaskID: id, Token: token}}, time.Hour)
	require.NoError(t, err)
	require.Empty(t, renewed, "a stale lease is not renewed")

	require.Equal(t, before, b.task(t, id), "task row unchanged")
	require.Equal(t, execBefore, b.execution(t, before.ExecutionID), "execution row unchanged")
	require.Zero(t, b.count(t, "select count(*) from stent.dead_letters"))
}

// TestFencingStaleToken: writes with a token other than the current one are rejected and
// change nothing.
func TestFencingStaleToken(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, id := b.dispatch(t, b.echo("fence.stale"), "in")
	tk := b.claimOne(t, "w1")
	require.Equal(t, id, tk.ID)
	require.Positive(t, tk.LeaseToken)

	requireRejected(t, b, id, "w1", tk.LeaseToken-1)
	requireRejected(t, b, id, "w1", tk.LeaseToken+1)
	// The right token from the wrong worker renews nothing either.
	renewed, err := b.store.RenewLeases(b.ctx, "w2", []store.Lease{{TaskID: id, Token: tk.LeaseToken}}, time.Hour)
	require.NoError(t, err)
	require.Empty(t, renewed)

	// The current token still works.
	ok, err := b.store.CompleteTasks(b.ctx, []store.Completion{{TaskID: id, Token: tk.LeaseToken, Output: []byte(`"out"`)}})
	require.NoError(t, err)
	require.Equal(t, map[int64]bool{id: true}, ok)
	require.Equal(t, "completed", b.task(t, id).State)
}

// TestFencingAfterRescue: once an expired lease is rescued and the task claimed again by
// another worker, the first worker's complete, fail and renew are rejected, and the second
// worker's succeed.
func TestFencingAfterRescue(t *testing.T) {
	t.Parallel()
	b := setup(t)
	execID, id := b.dispatch(t, b.echo("fence.rescue"), "in", stent.WithRetry(noJitter(5, time.Second)))
	first := b.claimOne(t, "w1")
	require.Equal(t, id, first.ID)

	b.clock.Advance(31 * time.Second)
	rescued, err := b.store.RescueExpired(b.ctx, 100)
	require.NoError(t, err)
	require.Equal(t, []store.Rescued{{TaskID: id, State: "pending"}}, idStates(rescued))
	b.clock.Advance(time.Second) // the retry delay
	second := b.claimOne(t, "w2")
	require.Equal(t, id, second.ID)
	require.EqualValues(t, 2, second.Attempt)
	require.Greater(t, second.LeaseToken, first.LeaseToken)

	requireRejected(t, b, id, "w1", first.LeaseToken)

	renewed, err := b.store.RenewLeases(b.ctx, "w2", []store.Lease{{TaskID: id, Token: second.LeaseToken}}, time.Hour)
	require.NoError(t, err)
	require.Equal(t, []int64{id}, renewed)
	requireTime(t, b.clock.Now().Add(time.Hour), *b.task(t, id).LeaseExpiresAt)

	res, err := b.store.FailTask(b.ctx, id, second.LeaseToken, errJSON("error", "boom"), true, 0, "task")
	require.NoError(t, err)
	require.Equal(t, "pending", res.State)

	third := b.claimOne(t, "w2")
	requireRejected(t, b, id, "w2", second.LeaseToken)
	require.NoError(t, b.store.CompleteTask(b.ctx, store.Completion{TaskID: id, Token: third.LeaseToken, Output: []byte(`"done"`)}))
	e := b.execution(t, execID)
	require.Equal(t, "completed", e.State)
	require.JSONEq(t, `"done"`, string(e.Output))
}

// TestTerminalStatesSticky: a cancelled task cannot be completed by the attempt that held
// it, and cancelling a completed execution reports "completed" and changes nothing.
func TestTerminalStatesSticky(t *testing.T) {
	t.Parallel()

	t.Run("CompleteAfterCancel", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		execID, id := b.dispatch(t, b.echo("sticky.cancel"), "in")
		tk := b.claimOne(t, "w1")
		st, err := b.client.Cancel(b.ctx, execID)
		require.NoError(t, err)
		require.Equal(t, stent.StateCancelled, st)
		require.Equal(t, "cancelled", b.task(t, id).State)

		requireRejected(t, b, id, "w1", tk.LeaseToken)
		require.Equal(t, "cancelled", b.execution(t, execID).State)
	})

	t.Run("CancelAfterComplete", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		execID, id := b.dispatch(t, b.echo("sticky.complete"), "in")
		tk := b.claimOne(t, "w1")
		require.NoError(t, b.store.CompleteTask(b.ctx, store.Completion{TaskID: id, Token: tk.LeaseToken, Output: []byte(`"out"`)}))
		execBefore, taskBefore := b.execution(t, execID), b.task(t, id)

		b.clock.Advance(time.Minute)
		st, err := b.client.Cancel(b.ctx, execID)
		require.NoError(t, err)
		require.Equal(t, stent.StateCompleted, st)
		require.Equal(t, execBefore, b.execution(t, execID))
		require.Equal(t, taskBefore, b.task(t, id))
	})
}

// TestHeartbeat: renew_leases pushes lease_expires_at forward so the rescuer leaves the task
// alone; once renewals stop, the task is rescued after its lease.
func TestHeartbeat(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, id := b.dispatch(t, b.echo("heartbeat"), "in", stent.WithRetry(noJitter(3, time.Minute)))
	tk := b.claimOne(t, "w1")
	lease := []store.Lease{{TaskID: id, Token: tk.LeaseToken}}
	rescue := func() []store.Rescued {
		r, err := b.store.RescueExpired(b.ctx, 100)
		require.NoError(t, err)
		return r
	}

	// Renew every 20s for two minutes: well past the first 30s lease, never rescued.
	for range 6 {
		b.clock.Advance(20 * time.Second)
		renewed, err := b.store.RenewLeases(b.ctx, "w1", lease, 30*time.Second)
		require.NoError(t, err)
		require.Equal(t, []int64{id}, renewed)
		requireTime(t, b.clock.Now().Add(30*time.Second), *b.task(t, id).LeaseExpiresAt)
		require.Empty(t, rescue())
	}

	// No more renewals: still held at exactly the lease's end, rescued just after it.
	b.clock.Advance(30 * time.Second)
	require.Empty(t, rescue())
	require.Equal(t, "running", b.task(t, id).State)
	b.clock.Advance(time.Millisecond)
	require.Equal(t, []store.Rescued{{TaskID: id, State: "pending"}}, idStates(rescue()))

	after := b.task(t, id)
	require.Equal(t, "pending", after.State)
	require.EqualValues(t, 1, after.Attempt, "the rescued attempt counts")
	require.False(t, after.LeaseOwner.Valid)
	requireTime(t, b.clock.Now().Add(time.Minute), after.RunAt)
	require.Equal(t, stent.KindLeaseExpired, storedError(t, after.Error)["kind"])
	renewed, err := b.store.RenewLeases(b.ctx, "w1", lease, 30*time.Second)
	require.NoError(t, err)
	require.Empty(t, renewed, "a rescued lease cannot be renewed")
}

// idStates keeps only the task ids and states of rescued tasks, for comparisons.
func idStates(rs []store.Rescued) []store.Rescued {
	out := make([]store.Rescued, len(rs))
	for i, r := range rs {
		out[i] = store.Rescued{TaskID: r.TaskID, State: r.State}
	}
	return out
}

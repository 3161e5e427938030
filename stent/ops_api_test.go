package stent_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/internal/store"
	"github.com/stentdev/stent/stent"
)

// failClaimed fails a claimed task for good (a dead letter).
func (b *testBundle) failClaimed(t *testing.T, tk *store.Task) {
	t.Helper()
	_, err := b.store.FailTask(b.ctx, tk.ID, tk.LeaseToken, []byte(`{"kind": "error", "message": "boom"}`), false, -1, "")
	require.NoError(t, err)
}

// TestOpsStats: counts by state, queue depths, dead letters and throughput over the window,
// all from aggregates, on the fake clock.
func TestOpsStats(t *testing.T) {
	t.Parallel()
	b := setup(t)
	act := b.echo("ops.stats")
	old, _ := b.dispatch(t, act, "old")
	b.complete(t, old, `"ok"`)
	b.clock.Advance(10 * time.Minute) // old finished outside the 5-minute window
	okID, _ := b.dispatch(t, act, "ok")
	b.complete(t, okID, `"ok"`)
	_, _ = b.dispatch(t, act, "bad")
	b.failClaimed(t, b.claimOne(t, "w1"))
	_, _ = b.dispatch(t, act, "later", stent.WithRunAt(b.clock.Now().Add(time.Hour)))
	_, _ = b.dispatch(t, act, "other", stent.WithQueue("other"))
	_, _ = b.dispatch(t, act, "running", stent.WithQueue("other"))
	b.claim(t, store.ClaimParams{Queues: []string{"other"}, Limit: 1})

	s, err := b.client.Stats(b.ctx, 0)
	require.NoError(t, err)
	requireTime(t, b.clock.Now(), s.Now)
	require.Equal(t, map[stent.ExecutionState]int64{"completed": 2, "failed": 1, "pending": 2, "running": 1}, s.Executions)
	require.Equal(t, map[string]int64{"completed": 2, "failed": 1, "pending": 2, "running": 1}, s.Tasks)
	require.Equal(t, []stent.QueueDepth{{Queue: "default", Pending: 1, Due: 0, Running: 0},
		{Queue: "other", Pending: 1, Due: 1, Running: 1}}, s.Queues)
	require.Equal(t, int64(1), s.DeadLetters)
	require.Equal(t, stent.DefaultStatsWindow, s.Window)
	require.Equal(t, [3]int64{1, 1, 0}, [3]int64{s.Completed, s.Failed, s.Cancelled})
	require.InDelta(t, 2.0/5, s.Throughput, 1e-9)
	require.InDelta(t, 0.5, s.ErrorRate, 1e-9)

	s, err = b.client.Stats(b.ctx, time.Hour)
	require.NoError(t, err)
	require.Equal(t, int64(2), s.Completed, "the wider window includes old")

	_, err = b.client.Stats(b.ctx, time.Millisecond)
	var ia *stent.InvalidArgumentError
	require.ErrorAs(t, err, &ia)
}

func TestOpsListTasks(t *testing.T) {
	t.Parallel()
	b := setup(t)
	act := b.echo("ops.tasks")
	id1, t1 := b.dispatch(t, act, "a")
	b.clock.Advance(time.Second)
	_, t2 := b.dispatch(t, act, "b", stent.WithQueue("q2"))
	b.clock.Advance(time.Second)
	_, t3 := b.dispatch(t, act, "c")
	ts := b.claim(t, store.ClaimParams{WorkerID: "w9", Limit: 1}) // the oldest due task of default: t1
	require.Len(t, ts, 1)
	claimed := ts[0]
	require.Equal(t, t1, claimed.ID)

	ids := func(p stent.TaskListParams) []int64 {
		t.Helper()
		ts, err := b.client.ListTasks(b.ctx, p)
		require.NoError(t, err)
		out := []int64{}
		for _, tk := range ts {
			out = append(out, tk.ID)
		}
		return out
	}
	require.Equal(t, []int64{t3, t2, t1}, ids(stent.TaskListParams{}))
	require.Equal(t, []int64{t3, t1}, ids(stent.TaskListParams{Queue: "default"}))
	require.Equal(t, []int64{t1}, ids(stent.TaskListParams{State: "running", Worker: "w9"}))
	require.Equal(t, []int64{t1}, ids(stent.TaskListParams{ExecutionID: &id1}))
	require.Equal(t, []int64{t3, t2, t1}, ids(stent.TaskListParams{Name: "ops.tasks", Kind: "activity"}))
	require.Equal(t, []int64{}, ids(stent.TaskListParams{Kind: "workflow"}))
	require.Equal(t, []int64{t3, t2}, ids(stent.TaskListParams{Limit: 2}))
	require.Equal(t, []int64{t1}, ids(stent.TaskListParams{Limit: 2, BeforeID: t2}))

	for _, p := range []stent.TaskListParams{{State: "sleeping"}, {Kind: "job"}, {Limit: -1}, {Limit: 10001}} {
		_, err := b.client.ListTasks(b.ctx, p)
		var ia *stent.InvalidArgumentError
		require.ErrorAs(t, err, &ia, "%+v", p)
	}

	active, err := b.client.ListActive(b.ctx, 10)
	require.NoError(t, err)
	require.Len(t, active, 3)
	require.Equal(t, id1, active[2].ID)
	require.Equal(t, stent.StateRunning, active[2].State)
	require.Equal(t, 1, active[2].Tasks)
	require.NoError(t, b.store.CompleteTask(b.ctx, store.Completion{TaskID: claimed.ID, Token: claimed.LeaseToken, Output: []byte(`"x"`)}))
	recent, err := b.client.ListRecentFinished(b.ctx, 5)
	require.NoError(t, err)
	require.Len(t, recent, 1)
	require.Equal(t, id1, recent[0].ID)
	_, err = b.client.ListActive(b.ctx, 0)
	require.Error(t, err)
}

func TestOpsListWorkers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.echo("ops.workers")
	b.liveWorker(t, "w1")
	b.dispatch(t, b.echo("ops.workers2"), "x")
	b.liveWorker(t, "w2")
	b.claimOne(t, "w2")

	ws, err := b.client.ListWorkers(b.ctx)
	require.NoError(t, err)
	require.Len(t, ws, 2)
	require.Equal(t, "w1", ws[0].ID)
	require.True(t, ws[0].Live)
	require.Equal(t, 0, ws[0].Held)
	require.Equal(t, 1, ws[1].Held)
	requireTime(t, b.clock.Now(), ws[1].HeartbeatAt)

	b.clock.Advance(3 * time.Minute)
	ws, err = b.client.ListWorkers(b.ctx)
	require.NoError(t, err)
	require.False(t, ws[0].Live, "no heartbeat for 3 minutes")
}

// TestOpsPurgeAndDeadLetters: the dry run counts exactly what the batches then delete, and
// bulk discards honour their filters.
func TestOpsPurgeAndDeadLetters(t *testing.T) {
	t.Parallel()
	b := setup(t)
	act := b.echo("ops.purge")
	for range 5 {
		id, _ := b.dispatch(t, act, "x")
		b.complete(t, id, `"ok"`)
	}
	for range 3 {
		b.dispatch(t, act, "bad")
		b.failClaimed(t, b.claimOne(t, "w1"))
	}
	b.clock.Advance(48 * time.Hour)
	b.dispatch(t, act, "bad")
	b.failClaimed(t, b.claimOne(t, "w1"))

	est, err := b.client.EstimatePurge(b.ctx, 24*time.Hour, stent.PurgeParams{})
	require.NoError(t, err)
	require.Equal(t, stent.PurgeEstimate{Executions: 5, Tasks: 5, Kept: 3}, *est)
	n, err := b.client.PurgeBatch(b.ctx, 24*time.Hour, 2, stent.PurgeParams{})
	require.NoError(t, err)
	require.Equal(t, int64(2), n)
	est, err = b.client.EstimatePurge(b.ctx, 24*time.Hour, stent.PurgeParams{})
	require.NoError(t, err)
	require.Equal(t, int64(3), est.Executions)

	count := func(f stent.DeadLetterFilter) int64 {
		n, err := b.client.CountDeadLetters(b.ctx, f)
		require.NoError(t, err)
		return n
	}
	require.Equal(t, int64(4), count(stent.DeadLetterFilter{}))
	require.Equal(t, int64(3), count(stent.DeadLetterFilter{OlderThan: time.Hour}))
	require.Equal(t, int64(0), count(stent.DeadLetterFilter{Name: "ops.other"}))
	n, err = b.client.DiscardDeadLetters(b.ctx, stent.DeadLetterFilter{OlderThan: time.Hour}, 2)
	require.NoError(t, err)
	require.Equal(t, int64(2), n)
	n, err = b.client.DiscardDeadLetters(b.ctx, stent.DeadLetterFilter{OlderThan: time.Hour}, 2)
	require.NoError(t, err)
	require.Equal(t, int64(1), n)
	require.Equal(t, int64(1), count(stent.DeadLetterFilter{}), "the recent one stays")

	_, err = b.client.PurgeBatch(b.ctx, time.Hour, 0, stent.PurgeParams{})
	require.Error(t, err)
	_, err = b.client.EstimatePurge(b.ctx, -time.Hour, stent.PurgeParams{})
	require.Error(t, err)
	_, err = b.client.DiscardDeadLetters(b.ctx, stent.DeadLetterFilter{OlderThan: -1}, 10)
	require.Error(t, err)
}

// TestOpsChanges: a dispatch wakes the changes channel; stop ends the listener and may be
// called twice.
func TestOpsChanges(t *testing.T) {
	t.Parallel()
	b := setup(t)
	act := b.echo("ops.changes")
	changes, stop, err := b.client.Changes(b.ctx)
	require.NoError(t, err)
	defer stop()
	// The first value may be the listener's (re)connect hint; wait until a dispatch made
	// after it is seen.
	ctx, cancel := context.WithTimeout(b.ctx, waitTimeout)
	defer cancel()
	select {
	case <-changes:
	case <-ctx.Done():
		t.Fatal("no connect hint")
	}
	b.dispatch(t, act, "x")
	select {
	case <-changes:
	case <-ctx.Done():
		t.Fatal("the dispatch did not notify")
	}
	stop()
	stop()
	_, _, err = b.client.Changes(canceledContext())
	require.True(t, errors.Is(err, context.Canceled))
}

func canceledContext() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

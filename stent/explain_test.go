package stent_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/internal/store"
	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/stenttest"
	"github.com/stentdev/stent/worker"
)

// explainBundle is a test database with a few definitions, for stent.explain cases seeded at
// the SQL level (claims, checkpoints, suspensions) on the fake clock.
type explainBundle struct {
	*testBundle
	plain    *stent.Activity[string, string]
	limited  *stent.Activity[string, string]
	rated    *stent.Activity[string, string]
	workflow *stent.Workflow[string, string]
}

func setupExplain(t *testing.T) *explainBundle {
	t.Helper()
	b := &explainBundle{testBundle: setup(t)}
	b.plain = b.echo("explain.plain", stent.Retry(noJitter(3, 10*time.Second)))
	b.limited = b.echo("explain.limited", stent.MaxConcurrent(1))
	b.rated = b.echo("explain.rated", stent.RateLimit(1, time.Minute))
	b.workflow = stent.NewWorkflow("explain.wf", func(stent.Context, string) (string, error) { return "", nil },
		stent.InRegistry(b.reg))
	b.register(t, b.plain, b.limited, b.rated, b.workflow)
	return b
}

// explain returns the execution's rows, checking that the Go API and the SQL function agree.
func (b *explainBundle) explain(t *testing.T, id uuid.UUID) []stent.Reason {
	t.Helper()
	rs, err := b.client.Explain(b.ctx, id)
	require.NoError(t, err)
	var n int
	require.NoError(t, b.pool.QueryRow(b.ctx, "select count(*) from stent.explain($1)", id).Scan(&n))
	require.Len(t, rs, n, "Client.Explain and stent.explain")
	for _, r := range rs {
		require.NotEmpty(t, r.Detail, r.Reason)
	}
	return rs
}

// only requires exactly one row and returns it.
func (b *explainBundle) only(t *testing.T, id uuid.UUID) stent.Reason {
	t.Helper()
	rs := b.explain(t, id)
	require.Len(t, rs, 1, "%+v", rs)
	return rs[0]
}

// claimRoot claims the execution's root task (the only due task of its function).
func (b *explainBundle) claimRoot(t *testing.T, id uuid.UUID, name string) *store.Task {
	t.Helper()
	ts := b.claim(t, store.ClaimParams{Names: []string{name}, WorkerID: "w-holder"})
	require.Len(t, ts, 1)
	require.Equal(t, id, ts[0].ExecutionID)
	return ts[0]
}

// TestExplainEachReason: stent.explain (Client.Explain) names the right reason, task, time
// and holder for every way an execution can be held back.
func TestExplainEachReason(t *testing.T) {
	t.Parallel()

	t.Run("NotFound", func(t *testing.T) {
		t.Parallel()
		b := setupExplain(t)
		_, err := b.client.Explain(b.ctx, uuid.New())
		require.ErrorIs(t, err, stent.ErrNotFound)
		_, err = b.pool.Exec(b.ctx, "select * from stent.explain($1)", uuid.New())
		requireSQLState(t, err, "ST002")
	})

	t.Run("NoWorkerThenQueued", func(t *testing.T) {
		t.Parallel()
		b := setupExplain(t)
		id, taskID := b.dispatch(t, b.plain, "x")
		r := b.only(t, id)
		require.Equal(t, stent.Reason{TaskID: taskID, TaskName: "explain.plain", TaskKind: "activity", TaskState: "pending",
			Reason: stent.ReasonNoWorker, Detail: r.Detail, Holders: []string{}}, r)
		require.Contains(t, r.Detail, "no live worker serves queue default and function explain.plain")

		b.liveWorker(t, "w-live")
		r = b.only(t, id)
		require.Equal(t, stent.ReasonQueued, r.Reason)
		require.Equal(t, taskID, r.TaskID)

		b.clock.Advance(3 * time.Minute) // the worker's heartbeat is now stale
		r = b.only(t, id)
		require.Equal(t, stent.ReasonNoWorker, r.Reason)
		require.Contains(t, r.Detail, "last heartbeat")

		_, other := b.dispatch(t, b.plain, "elsewhere", stent.WithQueue("nobody-listens"))
		b.liveWorker(t, "w-live")
		r = b.only(t, b.task(t, other).ExecutionID)
		require.Equal(t, stent.ReasonNoWorker, r.Reason)
		require.Contains(t, r.Detail, "other queues")

		var ghost uuid.UUID
		require.NoError(t, b.pool.QueryRow(b.ctx, "select execution_id from stent.dispatch('ghost.fn')").Scan(&ghost))
		r = b.only(t, ghost)
		require.Equal(t, stent.ReasonNoWorker, r.Reason)
		require.Contains(t, r.Detail, "no worker ever registered ghost.fn")
	})

	t.Run("ScheduledAndBackingOff", func(t *testing.T) {
		t.Parallel()
		b := setupExplain(t)
		b.liveWorker(t, "w-live")
		later, _ := b.dispatch(t, b.plain, "later", stent.WithDelay(time.Hour))
		r := b.only(t, later)
		require.Equal(t, stent.ReasonScheduled, r.Reason)
		requireTime(t, b.clock.Now().Add(time.Hour), *r.Until)

		failing, _ := b.dispatch(t, b.plain, "failing")
		tk := b.claimOne(t, "w1")
		require.Equal(t, failing, tk.ExecutionID)
		b.fail(t, tk, -1, stent.ScopeTask)
		r = b.only(t, failing)
		require.Equal(t, stent.ReasonBackingOff, r.Reason)
		require.Contains(t, r.Detail, "attempt 1 failed: slow down")
		requireTime(t, b.clock.Now().Add(10*time.Second), *r.Until)
	})

	t.Run("ConcurrencySlotFullAndLeased", func(t *testing.T) {
		t.Parallel()
		b := setupExplain(t)
		b.liveWorker(t, "w-live")
		first, firstTask := b.dispatch(t, b.limited, "1")
		second, _ := b.dispatch(t, b.limited, "2")
		b.claimRoot(t, first, "explain.limited")

		r := b.only(t, second)
		require.Equal(t, stent.ReasonConcurrencyLimit, r.Reason)
		require.Equal(t, []string{fmt.Sprintf("task %d on w-holder", firstTask)}, r.Holders)
		require.Contains(t, r.Detail, "1 of 1 slots")

		r = b.only(t, first)
		require.Equal(t, stent.Reason{TaskID: firstTask, TaskName: "explain.limited", TaskKind: "activity", TaskState: "running",
			Reason: stent.ReasonLeased, Detail: "attempt 1 leased by worker w-holder", Until: r.Until, WorkerID: "w-holder",
			Holders: []string{"w-holder"}}, r)
		requireTime(t, b.clock.Now().Add(30*time.Second), *r.Until)

		b.clock.Advance(time.Minute) // the holder stopped renewing
		r = b.only(t, first)
		require.Equal(t, stent.ReasonLeaseExpired, r.Reason)
		require.Equal(t, "w-holder", r.WorkerID)
	})

	t.Run("RateLimited", func(t *testing.T) {
		t.Parallel()
		b := setupExplain(t)
		b.liveWorker(t, "w-live")
		first, _ := b.dispatch(t, b.rated, "1")
		second, _ := b.dispatch(t, b.rated, "2")
		start := b.clock.Now()
		b.claimRoot(t, first, "explain.rated")
		b.clock.Advance(10 * time.Second)
		r := b.only(t, second)
		require.Equal(t, stent.ReasonRateLimited, r.Reason)
		requireTime(t, start.Add(time.Minute), *r.Until)
	})

	t.Run("Paused", func(t *testing.T) {
		t.Parallel()
		b := setupExplain(t)
		b.liveWorker(t, "w-live")
		id, _ := b.dispatch(t, b.plain, "x")
		require.NoError(t, b.client.PauseQueue(b.ctx, stent.DefaultQueue))
		require.NoError(t, b.client.PauseFunction(b.ctx, "explain.plain"))
		rs := b.explain(t, id)
		require.Len(t, rs, 2)
		require.Equal(t, stent.ReasonPausedQueue, rs[0].Reason)
		require.Equal(t, "queue default paused", rs[0].Detail)
		require.Equal(t, stent.ReasonPausedFunction, rs[1].Reason)
		require.NoError(t, b.client.ResumeQueue(b.ctx, stent.DefaultQueue))
		require.Equal(t, stent.ReasonPausedFunction, b.only(t, id).Reason)
	})

	t.Run("WaitingOnChild", func(t *testing.T) {
		t.Parallel()
		b := setupExplain(t)
		b.liveWorker(t, "w-live")
		id, err := b.workflow.Dispatch(b.ctx, b.client, "x")
		require.NoError(t, err)
		root := b.claimRoot(t, id, "explain.wf")
		child, err := b.store.CallChild(b.ctx, root.ID, root.LeaseToken, 0, []byte(`{"name": "explain.limited"}`))
		require.NoError(t, err)
		parked, err := b.store.SuspendTask(b.ctx, root.ID, root.LeaseToken, []int64{child.ID}, nil)
		require.NoError(t, err)
		require.True(t, parked)

		rs := b.explain(t, id)
		require.Len(t, rs, 2)
		require.Equal(t, stent.Reason{TaskID: root.ID, TaskName: "explain.wf", TaskKind: "workflow", TaskState: "waiting",
			Reason: stent.ReasonWaitingChild, Detail: "suspended until 1 awaited call(s) finish",
			Holders: []string{fmt.Sprintf("task %d explain.limited (pending)", child.ID)}}, rs[0])
		require.Equal(t, child.ID, rs[1].TaskID)
		require.Equal(t, stent.ReasonQueued, rs[1].Reason)
	})

	t.Run("WaitingOnSignal", func(t *testing.T) {
		t.Parallel()
		b := setupExplain(t)
		b.liveWorker(t, "w-live")
		id, err := b.workflow.Dispatch(b.ctx, b.client, "x")
		require.NoError(t, err)
		root := b.claimRoot(t, id, "explain.wf")
		w, err := b.store.WaitSignal(b.ctx, root.ID, root.LeaseToken, 0, "approve", 2*time.Hour)
		require.NoError(t, err)
		require.Equal(t, "parked", w.State)

		r := b.only(t, id)
		require.Equal(t, stent.ReasonWaitingSignal, r.Reason)
		require.Equal(t, root.ID, r.TaskID)
		require.Contains(t, r.Detail, "signal approve")
		requireTime(t, b.clock.Now().Add(2*time.Hour), *r.Until)

		require.NoError(t, b.client.Signal(b.ctx, id, "approve", approval{By: "ann"}))
		require.Equal(t, stent.ReasonQueued, b.only(t, id).Reason, "the signal made it due")
	})

	t.Run("Sleeping", func(t *testing.T) {
		t.Parallel()
		b := setupExplain(t)
		b.liveWorker(t, "w-live")
		id, err := b.workflow.Dispatch(b.ctx, b.client, "x")
		require.NoError(t, err)
		root := b.claimRoot(t, id, "explain.wf")
		timer, err := b.store.RecordSleep(b.ctx, root.ID, root.LeaseToken, 0, "stent.sleep", 30*time.Minute, nil)
		require.NoError(t, err)
		_, err = b.store.SuspendTask(b.ctx, root.ID, root.LeaseToken, nil, &timer.RunAt)
		require.NoError(t, err)

		r := b.only(t, id)
		require.Equal(t, stent.ReasonSleeping, r.Reason)
		require.Equal(t, root.ID, r.TaskID)
		requireTime(t, b.clock.Now().Add(30*time.Minute), *r.Until)
	})

	t.Run("SharedBackoff", func(t *testing.T) {
		t.Parallel()
		b := setupExplain(t)
		b.liveWorker(t, "w-live")
		first, _ := b.dispatch(t, b.plain, "1")
		tk := b.claimOne(t, "w1")
		require.Equal(t, first, tk.ExecutionID)
		second, secondTask := b.dispatch(t, b.plain, "2")
		b.fail(t, tk, 5*time.Minute, stent.ScopeFunction)
		r := b.only(t, second)
		require.Equal(t, stent.ReasonBackoff, r.Reason)
		require.Equal(t, secondTask, r.TaskID)
		requireTime(t, b.clock.Now().Add(5*time.Minute), *r.Until)
	})

	t.Run("WaitingOnCachedResult", func(t *testing.T) {
		t.Parallel()
		b := setupExplain(t)
		b.liveWorker(t, "w-live")
		call := []byte(`{"name": "explain.plain", "input": "same", "cache_key": "k-same"}`)
		var children []*store.Task
		var roots []*store.Task
		for range 2 {
			id, err := b.workflow.Dispatch(b.ctx, b.client, "x")
			require.NoError(t, err)
			root := b.claimRoot(t, id, "explain.wf")
			child, err := b.store.CallChild(b.ctx, root.ID, root.LeaseToken, 0, call)
			require.NoError(t, err)
			_, err = b.store.SuspendTask(b.ctx, root.ID, root.LeaseToken, []int64{child.ID}, nil)
			require.NoError(t, err)
			roots, children = append(roots, root), append(children, child)
		}
		require.Equal(t, "pending", children[0].State, "the first call computes the result")
		require.Equal(t, "waiting", children[1].State, "the second waits for it")

		rs := b.explain(t, roots[1].ExecutionID)
		require.Len(t, rs, 2)
		require.Equal(t, stent.ReasonWaitingChild, rs[0].Reason)
		require.Equal(t, []string{fmt.Sprintf("task %d explain.plain (waiting)", children[1].ID)}, rs[0].Holders)
		require.Equal(t, stent.Reason{TaskID: children[1].ID, TaskName: "explain.plain", TaskKind: "activity",
			TaskState: "waiting", Reason: stent.ReasonWaitingCache,
			Detail:  fmt.Sprintf("waiting for task %d, which computes the same cached result", children[0].ID),
			Holders: []string{fmt.Sprintf("task %d", children[0].ID)}}, rs[1])
	})

	t.Run("Finished", func(t *testing.T) {
		t.Parallel()
		b := setupExplain(t)
		id, taskID := b.dispatch(t, b.plain, "x")
		_, err := b.client.Cancel(b.ctx, id)
		require.NoError(t, err)
		r := b.only(t, id)
		require.Equal(t, stent.Reason{TaskID: taskID, TaskName: "explain.plain", TaskKind: "activity", TaskState: "cancelled",
			Reason: stent.ReasonFinished, Detail: r.Detail, Holders: []string{}}, r)
		require.Contains(t, r.Detail, "execution cancelled at")
		require.Contains(t, r.Detail, ": execution cancelled")
	})
}

// TestExplainWithWorker: with a real worker, a running workflow that calls a slow activity
// is explained as waiting for that call, which is leased by the worker; once it finishes,
// one 'finished' row remains.
func TestExplainWithWorker(t *testing.T) {
	t.Parallel()
	b := setup(t)
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	slow := stent.NewActivity("explain.slow", func(ctx context.Context, _ string) (string, error) {
		started <- struct{}{}
		select {
		case <-release:
			return "done", nil
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}, stent.InRegistry(b.reg))
	wf := stent.NewWorkflow("explain.caller", func(ctx stent.Context, in string) (string, error) {
		return slow.Call(ctx, in)
	}, stent.InRegistry(b.reg))
	stenttest.StartWorker(t, b.client, worker.Config{ID: "w-explain", ResidentWait: -1})
	id, err := wf.Dispatch(b.ctx, b.client, "x")
	require.NoError(t, err)
	<-started
	pollUntil(t, "the workflow to suspend", func() bool { return b.reason(t, id, stent.ReasonWaitingChild) != nil })
	leased := b.reason(t, id, stent.ReasonLeased)
	require.NotNil(t, leased)
	require.Equal(t, "explain.slow", leased.TaskName)
	require.Equal(t, "w-explain", leased.WorkerID)

	close(release)
	_, err = wf.Wait(b.ctx, b.client, id)
	require.NoError(t, err)
	rs, err := b.client.Explain(b.ctx, id)
	require.NoError(t, err)
	require.Len(t, rs, 1)
	require.Equal(t, stent.ReasonFinished, rs[0].Reason)
	require.Equal(t, "explain.caller", rs[0].TaskName)
}

package worker_test

import (
	"context"
	"errors"
	"fmt"
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

// slowPolling is a worker configuration under which only a notification can make the worker
// claim again within a test's lifetime: it polls hourly (backing off from 3 minutes) and runs
// no maintenance.
func slowPolling(id string) worker.Config {
	return worker.Config{ID: id, Concurrency: 4, PollInterval: time.Hour, MaintenanceInterval: time.Hour}
}

// recorder returns an activity body that reports each input on a channel, then returns it.
func recorder(ran chan<- string) func(context.Context, string) (string, error) {
	return func(_ context.Context, in string) (string, error) {
		ran <- in
		return in, nil
	}
}

// awaitListening waits until the test's worker LISTENs (see listenerPIDs), so that a
// notification sent from now on reaches it.
func (b *testBundle) awaitListening() {
	b.t.Helper()
	pollUntil(b.t, "the worker's LISTEN connection", func() bool { return len(listenerPIDs(b)) == 1 })
}

// awaitState polls until the execution's root task is in state.
func (b *testBundle) awaitState(id uuid.UUID, state string) {
	b.t.Helper()
	pollUntil(b.t, "task state "+state, func() bool { return b.taskState(id) == state })
}

// TestSlotFreedWakesWorker: a worker waiting on a function's concurrency limit claims the held
// back task as soon as another claimer completes the running one — woken by the notification
// the completion sends, since its next poll is minutes away.
func TestSlotFreedWakesWorker(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ran := make(chan string, 3)
	limited := stent.NewActivity("flow.slot", recorder(ran), b.in(), stent.MaxConcurrent(1))
	sentinel := stent.NewActivity("flow.sentinel", recorder(ran), b.in())

	// Another claimer holds the only slot before the worker starts.
	holder := store.New(b.pool)
	_, err := limited.Dispatch(b.ctx(), b.client, "A")
	require.NoError(t, err)
	held, err := holder.ClaimTasks(b.ctx(), store.ClaimParams{WorkerID: "holder", Queues: []string{"default"},
		Names: []string{"flow.slot"}, Limit: 1, Lease: time.Minute})
	require.NoError(t, err)
	require.Len(t, held, 1)
	idB, err := limited.Dispatch(b.ctx(), b.client, "B")
	require.NoError(t, err)

	b.startWorker(slowPolling("waiter"))
	b.awaitListening()
	// The sentinel's dispatch wakes the worker: once it ran and completed, the worker has
	// claimed after it listened (and again when the sentinel's slot freed), skipping B.
	idC, err := sentinel.Dispatch(b.ctx(), b.client, "C")
	require.NoError(t, err)
	require.Equal(t, "C", receive(t, ran, "the sentinel"), "the worker's claims skip the held-back task")
	b.awaitState(idC, "completed")
	require.Equal(t, "pending", b.taskState(idB))
	require.Zero(t, b.root(idB).Attempt)

	ok, err := holder.CompleteTasks(b.ctx(), []store.Completion{{TaskID: held[0].ID, Token: held[0].LeaseToken, Output: []byte(`"A"`)}})
	require.NoError(t, err)
	require.True(t, ok[held[0].ID])
	require.Equal(t, "B", receive(t, ran, "the held-back task (woken by the slot notification)"))
	b.awaitState(idB, "completed")
}

// TestResumeWakesWorker: a worker does not claim a paused function's tasks, and claims them at
// once when the function is resumed (the resume notifies; the worker's next poll is minutes
// away).
func TestResumeWakesWorker(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ran := make(chan string, 2)
	paused := stent.NewActivity("flow.paused", recorder(ran), b.in())
	sentinel := stent.NewActivity("flow.sentinel", recorder(ran), b.in())
	require.NoError(t, b.client.PauseFunction(b.ctx(), "flow.paused"))
	id, err := paused.Dispatch(b.ctx(), b.client, "paused")
	require.NoError(t, err)

	b.startWorker(slowPolling("resume"))
	b.awaitListening()
	sid, err := sentinel.Dispatch(b.ctx(), b.client, "sentinel") // see TestSlotFreedWakesWorker
	require.NoError(t, err)
	require.Equal(t, "sentinel", receive(t, ran, "the sentinel"))
	b.awaitState(sid, "completed")
	require.Equal(t, "pending", b.taskState(id))
	require.Zero(t, b.root(id).Attempt)

	require.NoError(t, b.client.ResumeFunction(b.ctx(), "flow.paused"))
	require.Equal(t, "paused", receive(t, ran, "the resumed task"))
	out, err := paused.Wait(b.ctx(), b.client, id)
	require.NoError(t, err)
	require.Equal(t, "paused", out)
}

// TestWorkersShareLimit: eight workers with four slots each, each on a pool of its own, run a
// function limited to 2: never more than 2 of its attempts run at once — in the functions and
// in the database — and every task completes.
func TestWorkersShareLimit(t *testing.T) {
	t.Parallel()
	const tasks, limit = 60, 2
	b := setup(t)
	var running, maxRunning atomic.Int32
	act := stent.NewActivity("flow.shared", func(ctx context.Context, n int) (int, error) {
		cur := running.Add(1)
		defer running.Add(-1)
		for m := maxRunning.Load(); cur > m && !maxRunning.CompareAndSwap(m, cur); m = maxRunning.Load() {
		}
		return n, nil
	}, b.in(), stent.MaxConcurrent(limit))
	for i := range 8 {
		pool := stenttest.Pool(t, stenttest.WithURL(b.url), stenttest.WithMaxConns(4))
		client := stenttest.Client(t, pool, stent.Config{Registry: b.reg, Logger: testLogger()})
		stenttest.StartWorker(t, client, worker.Config{ID: fmt.Sprint("shared-", i), Concurrency: 4})
	}

	var dbMax atomic.Int64
	stop, polled := make(chan struct{}), make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				polled <- nil
				return
			default:
			}
			var n int64
			if err := b.pool.QueryRow(context.Background(), "select count(*) from stent.tasks where name = 'flow.shared' and state = 'running'").Scan(&n); err != nil {
				polled <- err
				return
			}
			dbMax.Store(max(dbMax.Load(), n))
		}
	}()
	ins := make([]int, tasks)
	for i := range ins {
		ins[i] = i
	}
	ids, err := act.DispatchMany(b.ctx(), b.client, ins)
	require.NoError(t, err)
	for i, id := range ids {
		out, err := act.Wait(b.ctx(), b.client, id)
		require.NoError(t, err)
		require.Equal(t, i, out)
	}
	close(stop)
	require.NoError(t, <-polled)
	require.LessOrEqual(t, maxRunning.Load(), int32(limit), "in the functions")
	require.LessOrEqual(t, dbMax.Load(), int64(limit), "in the database")
	require.Equal(t, int64(tasks), b.queryInt("select count(*) from stent.tasks where name = 'flow.shared' and state = 'completed' and attempt = 1"))
	t.Logf("at most %d running in functions, %d in the database", maxRunning.Load(), dbMax.Load())
}

// TestRetryAfterEndToEnd: an activity that returns stent.RetryAfter on its first attempt waits
// the given time (on the database's fake clock) without using up an attempt — MaxAttempts 1
// still gets its retry — and with RetryAfterScope(ScopeFunction) the worker makes every task
// of the function wait with it.
func TestRetryAfterEndToEnd(t *testing.T) {
	t.Parallel()
	b := setupWithClock(t, time.Date(2032, 1, 2, 3, 4, 5, 0, time.UTC))
	attempts := make(chan stent.AttemptInfo, 8)
	var calls atomic.Int32
	act := stent.NewActivity("flow.429", func(ctx context.Context, in string) (string, error) {
		info, _ := stent.AttemptFrom(ctx)
		attempts <- info
		if calls.Add(1) == 1 {
			return "", stent.RetryAfter(time.Hour, errors.New("429 too many requests"))
		}
		return "done " + in, nil
	}, b.in(), stent.Retry(stent.RetryPolicy{MaxAttempts: 1}), stent.RetryAfterScope(stent.ScopeFunction))
	b.startWorker(worker.Config{ID: "ra-worker"})

	id, err := act.Dispatch(b.ctx(), b.client, "first")
	require.NoError(t, err)
	require.Equal(t, 1, receive(t, attempts, "the first attempt").Attempt)
	b.awaitState(id, "pending")
	tk := b.root(id)
	require.Zero(t, tk.Attempt, "the attempt is not counted")
	require.True(t, b.clock.Now().Add(time.Hour).Equal(tk.RunAt), "runs an hour later: %s", tk.RunAt)
	require.NotNil(t, tk.Error)
	require.Contains(t, tk.Error.Message, "429")
	require.Equal(t, int64(1), b.queryInt("select count(*) from stent.backoffs where name = 'flow.429' and until = $1", tk.RunAt),
		"the worker passed the function scope")

	other, err := act.Dispatch(b.ctx(), b.client, "second")
	require.NoError(t, err)
	b.clock.Advance(59 * time.Minute)
	bl, err := b.client.TaskBlockers(b.ctx(), b.root(other).ID)
	require.NoError(t, err)
	var reasons []string
	for _, x := range bl {
		reasons = append(reasons, x.Reason)
	}
	// (The worker's last heartbeat is an hour old on the fake clock: no_worker is right too.)
	require.Contains(t, reasons, "backoff", "the whole function waits")
	require.NotContains(t, reasons, "scheduled")

	b.clock.Advance(time.Minute)
	for in, id := range map[string]uuid.UUID{"first": id, "second": other} {
		out, err := act.Wait(b.ctx(), b.client, id)
		require.NoError(t, err)
		require.Equal(t, "done "+in, out)
		require.Equal(t, 1, b.root(id).Attempt)
	}
	require.Equal(t, 1, receive(t, attempts, "the retry").Attempt)
	require.Equal(t, 1, receive(t, attempts, "the other task").Attempt)
	require.Len(t, attempts, 0)
}

// TestLimitsOverrideSurvivesRegistration: workers register their definitions' limits; a limit
// set at run time overrides them for every worker that starts later, until it is reset, when
// the next worker's registration restores the code's limits. The key path registers too, so a
// dispatch from SQL gets its concurrency key.
func TestLimitsOverrideSurvivesRegistration(t *testing.T) {
	t.Parallel()
	b := setup(t)
	noop := func(context.Context, map[string]string) (string, error) { return "", nil }
	stent.NewActivity("flow.reg", noop, b.in(), stent.MaxConcurrent(5), stent.MaxConcurrentPerKey(2),
		stent.RateLimit(20, time.Minute), stent.RateLimitPerKey(3, time.Second), stent.KeyField("tenant"))
	stent.NewActivity("flow.reg.free", noop, b.in())
	limits := func() map[string]stent.Limits {
		ls, err := b.client.ListLimits(b.ctx())
		require.NoError(t, err)
		return ls
	}
	start := func(id string) { b.startWorker(worker.Config{ID: id, Queues: []string{"idle"}}) }
	code := stent.Limits{MaxConcurrent: 5, MaxConcurrentPerKey: 2,
		Rate: stent.Rate{Count: 20, Per: time.Minute}, RatePerKey: stent.Rate{Count: 3, Per: time.Second}}

	start("reg-1")
	require.Equal(t, map[string]stent.Limits{"flow.reg": code}, limits())
	require.NoError(t, b.client.SetLimits(b.ctx(), "flow.reg", stent.Limits{MaxConcurrent: 1}))
	require.NoError(t, b.client.SetLimits(b.ctx(), "flow.reg.free", stent.Limits{MaxConcurrent: 3}))
	start("reg-2")
	require.Equal(t, map[string]stent.Limits{
		"flow.reg":      {MaxConcurrent: 1, Overridden: true},
		"flow.reg.free": {MaxConcurrent: 3, Overridden: true},
	}, limits(), "registration keeps the overrides")

	require.NoError(t, b.client.ResetLimits(b.ctx(), "flow.reg"))
	require.NoError(t, b.client.ResetLimits(b.ctx(), "flow.reg.free"))
	start("reg-3")
	require.Equal(t, map[string]stent.Limits{"flow.reg": code}, limits(), "registration restores the code's limits")

	var taskID int64
	require.NoError(t, b.pool.QueryRow(b.ctx(), `select task_id from stent.dispatch('flow.reg', '{"tenant": "acme"}')`).Scan(&taskID))
	var key string
	require.NoError(t, b.pool.QueryRow(b.ctx(), "select concurrency_key from stent.tasks where id = $1", taskID).Scan(&key))
	require.Equal(t, "acme", key)
}

package stent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/internal/store"
	"github.com/stentdev/stent/stent"
)

// register writes the definitions' settings and limits to stent.functions and stent.limits
// the way a starting worker does (stent.register_functions), so that SQL-level claims see the
// limits of MaxConcurrent, RateLimit and the other flow-control options.
func (b *testBundle) register(t *testing.T, defs ...stent.Definition) {
	t.Helper()
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	var out []map[string]any
	for _, d := range defs {
		o := d.Options()
		r := map[string]any{
			"name": d.Name(), "kind": d.Kind(), "queue": o.Queue, "priority": o.Priority,
			"max_attempts": o.Retry.MaxAttempts, "retry_initial_delay_ms": ms(o.Retry.InitialDelay),
			"retry_backoff_factor": o.Retry.BackoffFactor, "retry_max_delay_ms": ms(o.Retry.MaxDelay),
			"retry_jitter": o.Retry.Jitter,
		}
		if o.KeyPath != nil {
			r["key_path"] = o.KeyPath
		}
		for k, v := range map[string]int{"max_concurrent": o.MaxConcurrent, "key_max_concurrent": o.MaxConcurrentPerKey,
			"rate": o.Rate.Count, "key_rate": o.RatePerKey.Count} {
			if v > 0 {
				r[k] = v
			}
		}
		if o.Rate.Count > 0 {
			r["rate_period_ms"] = ms(o.Rate.Per)
		}
		if o.RatePerKey.Count > 0 {
			r["key_rate_period_ms"] = ms(o.RatePerKey.Per)
		}
		out = append(out, r)
	}
	raw, err := json.Marshal(out)
	require.NoError(t, err)
	require.NoError(t, b.store.RegisterFunctions(b.ctx, raw))
}

// liveWorker records a running worker serving the default queue and every registered function,
// so that task_blockers does not report no_worker.
func (b *testBundle) liveWorker(t *testing.T, id string) {
	t.Helper()
	require.NoError(t, b.store.RegisterWorker(b.ctx, store.WorkerInfo{ID: id, Hostname: "test", PID: 1,
		Queues: []string{stent.DefaultQueue}, Functions: b.reg.Names(), Concurrency: 10}))
}

// blockers returns a task's blockers by reason, requiring each reason at most once.
func (b *testBundle) blockers(t *testing.T, id int64) map[string]stent.Blocker {
	t.Helper()
	bs, err := b.client.TaskBlockers(b.ctx, id)
	require.NoError(t, err)
	out := map[string]stent.Blocker{}
	for _, bl := range bs {
		require.NotContains(t, out, bl.Reason, "reason twice")
		require.NotEmpty(t, bl.Detail, bl.Reason)
		out[bl.Reason] = bl
	}
	return out
}

// reasons lists a task's blocker reasons, in no particular order.
func (b *testBundle) reasons(t *testing.T, id int64) []string {
	t.Helper()
	var rs []string
	for r := range b.blockers(t, id) {
		rs = append(rs, r)
	}
	return rs
}

// fail reports a failed attempt; retryAfter < 0 uses the retry policy.
func (b *testBundle) fail(t *testing.T, tk *store.Task, retryAfter time.Duration, scope stent.Scope) store.FailResult {
	t.Helper()
	res, err := b.store.FailTask(b.ctx, tk.ID, tk.LeaseToken, errJSON("http_429", "slow down"), true, retryAfter, string(scope))
	require.NoError(t, err)
	return res
}

// completeClaimed completes claimed tasks, requiring every completion to apply.
func (b *testBundle) completeClaimed(t *testing.T, ts ...*store.Task) {
	t.Helper()
	cs := make([]store.Completion, len(ts))
	for i, tk := range ts {
		cs[i] = store.Completion{TaskID: tk.ID, Token: tk.LeaseToken, Output: []byte(`"ok"`)}
	}
	res, err := b.store.CompleteTasks(b.ctx, cs)
	require.NoError(t, err)
	for _, tk := range ts {
		require.True(t, res[tk.ID], "completion of task %d", tk.ID)
	}
}

// ids returns the ids of claimed tasks.
func ids(ts []*store.Task) []int64 {
	out := make([]int64, len(ts))
	for i, tk := range ts {
		out[i] = tk.ID
	}
	return out
}

// listenTasks opens a connection of its own that LISTENs on stent_tasks.
func (b *testBundle) listenTasks(t *testing.T) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(b.ctx, b.pool.Config().ConnString())
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	_, err = conn.Exec(b.ctx, "listen stent_tasks")
	require.NoError(t, err)
	return conn
}

// awaitNotification waits for a notification with the given payload on conn, skipping others.
func awaitNotification(t *testing.T, conn *pgx.Conn, payload string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	for {
		n, err := conn.WaitForNotification(ctx)
		require.NoError(t, err, "waiting for a notification %q", payload)
		if n.Payload == payload {
			return
		}
	}
}

// TestPauseResume: a paused queue or function is not claimed (its tasks stay pending with no
// attempt counted) while other work is; an attempt already running still completes; resuming
// makes the tasks claimable and announces their queue on stent_tasks at once.
func TestPauseResume(t *testing.T) {
	t.Parallel()

	for _, tc := range []struct {
		kind           string
		pause, resume  func(*testBundle) error
		pausedQueue    string // where the paused function's tasks are
		otherQueue     string // where the work that keeps flowing is
		pausedFunction bool
	}{
		{kind: "Queue", pausedQueue: "default", otherQueue: "other",
			pause:  func(b *testBundle) error { return b.client.PauseQueue(b.ctx, "default") },
			resume: func(b *testBundle) error { return b.client.ResumeQueue(b.ctx, "default") }},
		{kind: "Function", pausedQueue: "default", otherQueue: "default", pausedFunction: true,
			pause:  func(b *testBundle) error { return b.client.PauseFunction(b.ctx, "pause.target") },
			resume: func(b *testBundle) error { return b.client.ResumeFunction(b.ctx, "pause.target") }},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			// The target is limited, so the pause must hold on the limited claim path too.
			target := b.echo("pause.target", stent.MaxConcurrent(100))
			other := b.echo("pause.other", stent.Queue(tc.otherQueue))
			b.register(t, target, other)
			queues := []string{"default", "other"}
			_, first := b.dispatch(t, target, "first")
			running := b.claim(t, store.ClaimParams{Queues: queues})
			require.Equal(t, []int64{first}, ids(running))

			require.NoError(t, tc.pause(b))
			require.NoError(t, tc.pause(b), "pausing twice is harmless")
			_, held := b.dispatch(t, target, "held")
			_, free := b.dispatch(t, other, "free")
			require.Equal(t, []int64{free}, ids(b.claim(t, store.ClaimParams{Queues: queues})), "only unpaused work is claimed")
			require.Empty(t, b.claim(t, store.ClaimParams{Queues: queues}))
			tk := b.task(t, held)
			require.Equal(t, "pending", tk.State)
			require.Zero(t, tk.Attempt)
			reason := map[bool]string{false: "paused_queue", true: "paused_function"}[tc.pausedFunction]
			require.Contains(t, b.blockers(t, held), reason)
			b.completeClaimed(t, running[0]) // running work finishes

			conn := b.listenTasks(t)
			require.NoError(t, tc.resume(b))
			awaitNotification(t, conn, tc.pausedQueue)
			require.NotContains(t, b.blockers(t, held), reason)
			require.Equal(t, []int64{held}, ids(b.claim(t, store.ClaimParams{Queues: queues})))
			require.ErrorIs(t, tc.resume(b), stent.ErrNotFound, "resuming what is not paused")
		})
	}

	t.Run("Errors", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var ia *stent.InvalidArgumentError
		require.ErrorAs(t, b.client.PauseQueue(b.ctx, ""), &ia)
		require.ErrorAs(t, b.client.PauseQueue(b.ctx, "bad queue!"), &ia)
		require.ErrorAs(t, b.client.PauseQueue(b.ctx, strings.Repeat("q", 129)), &ia)
		require.ErrorAs(t, b.client.PauseFunction(b.ctx, ""), &ia)
		require.ErrorAs(t, b.client.PauseFunction(b.ctx, "-dash"), &ia)
		require.ErrorIs(t, b.client.ResumeQueue(b.ctx, "never-paused"), stent.ErrNotFound)
		require.ErrorIs(t, b.client.ResumeFunction(b.ctx, "never.paused"), stent.ErrNotFound)
		require.NoError(t, b.client.PauseQueue(b.ctx, "q1"))
		require.ErrorIs(t, b.client.ResumeFunction(b.ctx, "q1"), stent.ErrNotFound, "a queue pause is not a function pause")
		require.NoError(t, b.client.ResumeQueue(b.ctx, "q1"))

		_, err := b.pool.Exec(b.ctx, "select stent.pause('table', 'x')")
		requireSQLState(t, err, "ST003")
		_, err = b.pool.Exec(b.ctx, "select stent.pause('queue', '')")
		requireSQLState(t, err, "ST003")
		require.Zero(t, b.count(t, "select count(*) from stent.pauses"))
	})
}

// TestTaskBlockers: stent.task_blockers (Client.TaskBlockers) names every reason a task is not
// running — with the running tasks and workers holding the slots of a concurrency limit and
// the instant a rate window or wait ends — and nothing for a task that is claimable now.
func TestTaskBlockers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	plain := b.echo("why.plain", stent.Retry(noJitter(3, 10*time.Second)))
	limited := b.echo("why.limited", stent.MaxConcurrent(1))
	perKey := b.echo("why.key", stent.MaxConcurrentPerKey(1))
	rated := b.echo("why.rated", stent.RateLimit(1, time.Minute))
	keyRated := b.echo("why.keyrated", stent.RateLimitPerKey(1, time.Minute))
	shared := b.echo("why.shared", stent.RetryAfterScope(stent.ScopeFunction))
	b.register(t, plain, limited, perKey, rated, keyRated, shared)
	b.liveWorker(t, "w-live")
	start := b.clock.Now()
	claimOf := func(name string, limit int32) []int64 {
		return ids(b.claim(t, store.ClaimParams{WorkerID: "w-holder", Names: []string{name}, Limit: limit}))
	}

	_, err := b.client.TaskBlockers(b.ctx, 1<<40)
	require.ErrorIs(t, err, stent.ErrNotFound)

	_, ready := b.dispatch(t, plain, "ready")
	require.Empty(t, b.reasons(t, ready), "claimable now")
	require.Equal(t, []int64{ready}, claimOf("why.plain", 10))
	bl := b.blockers(t, ready)
	require.ElementsMatch(t, []string{"leased"}, b.reasons(t, ready))
	require.Equal(t, []string{"w-holder"}, bl["leased"].Holders)
	requireTime(t, start.Add(30*time.Second), *bl["leased"].Until)

	_, l1 := b.dispatch(t, limited, "1")
	_, l2 := b.dispatch(t, limited, "2")
	require.Equal(t, []int64{l1}, claimOf("why.limited", 10))
	bl = b.blockers(t, l2)
	require.ElementsMatch(t, []string{"concurrency_limit"}, b.reasons(t, l2))
	require.Equal(t, []string{fmt.Sprintf("task %d on w-holder", l1)}, bl["concurrency_limit"].Holders)
	require.Nil(t, bl["concurrency_limit"].Until)

	_, ka1 := b.dispatch(t, perKey, "a1", stent.WithConcurrencyKey("a"))
	_, ka2 := b.dispatch(t, perKey, "a2", stent.WithConcurrencyKey("a"))
	_, kb := b.dispatch(t, perKey, "b", stent.WithConcurrencyKey("b"))
	require.Equal(t, []int64{ka1}, claimOf("why.key", 1))
	require.ElementsMatch(t, []string{"key_concurrency_limit"}, b.reasons(t, ka2))
	require.Equal(t, []string{fmt.Sprintf("task %d on w-holder", ka1)}, b.blockers(t, ka2)["key_concurrency_limit"].Holders)
	require.Empty(t, b.reasons(t, kb), "another key has room")

	_, r1 := b.dispatch(t, rated, "1")
	_, r2 := b.dispatch(t, rated, "2")
	_, kr1 := b.dispatch(t, keyRated, "1", stent.WithConcurrencyKey("k"))
	_, kr2 := b.dispatch(t, keyRated, "2", stent.WithConcurrencyKey("k"))
	require.Equal(t, []int64{r1}, claimOf("why.rated", 10))
	require.Equal(t, []int64{kr1}, claimOf("why.keyrated", 10))
	b.clock.Advance(10 * time.Second) // the windows end a minute after the starts, not after now
	require.ElementsMatch(t, []string{"rate_limited"}, b.reasons(t, r2))
	requireTime(t, start.Add(time.Minute), *b.blockers(t, r2)["rate_limited"].Until)
	require.ElementsMatch(t, []string{"key_rate_limited"}, b.reasons(t, kr2))
	requireTime(t, start.Add(time.Minute), *b.blockers(t, kr2)["key_rate_limited"].Until)

	now := b.clock.Now()
	_, s1 := b.dispatch(t, shared, "1")
	_, s2 := b.dispatch(t, shared, "2")
	tk := b.claim(t, store.ClaimParams{Names: []string{"why.shared"}, Limit: 1})[0]
	require.Equal(t, s1, tk.ID)
	b.fail(t, tk, 5*time.Minute, stent.ScopeFunction)
	require.ElementsMatch(t, []string{"backoff"}, b.reasons(t, s2))
	requireTime(t, now.Add(5*time.Minute), *b.blockers(t, s2)["backoff"].Until)
	require.ElementsMatch(t, []string{"backing_off", "backoff"}, b.reasons(t, s1), "the task that asked waits too")
	require.Contains(t, b.blockers(t, s1)["backing_off"].Detail, "attempt 1 failed")

	_, delayed := b.dispatch(t, plain, "later", stent.WithDelay(time.Hour))
	require.ElementsMatch(t, []string{"scheduled"}, b.reasons(t, delayed))
	requireTime(t, now.Add(time.Hour), *b.blockers(t, delayed)["scheduled"].Until)

	_, retried := b.dispatch(t, plain, "retried")
	tk = b.claim(t, store.ClaimParams{Names: []string{"why.plain"}})[0]
	require.Equal(t, retried, tk.ID)
	b.fail(t, tk, -1, stent.ScopeTask)
	bl = b.blockers(t, retried)
	require.ElementsMatch(t, []string{"backing_off"}, b.reasons(t, retried))
	requireTime(t, now.Add(10*time.Second), *bl["backing_off"].Until)
	require.Contains(t, bl["backing_off"].Detail, "slow down")

	_, paused := b.dispatch(t, plain, "paused")
	require.NoError(t, b.client.PauseQueue(b.ctx, "default"))
	require.NoError(t, b.client.PauseFunction(b.ctx, "why.plain"))
	require.ElementsMatch(t, []string{"paused_queue", "paused_function"}, b.reasons(t, paused))
	require.NoError(t, b.client.ResumeQueue(b.ctx, "default"))
	require.NoError(t, b.client.ResumeFunction(b.ctx, "why.plain"))
	require.Empty(t, b.reasons(t, paused))

	_, orphan := b.dispatch(t, plain, "orphan", stent.WithQueue("orphans"))
	require.ElementsMatch(t, []string{"no_worker"}, b.reasons(t, orphan), "no worker serves the queue")
	b.clock.Advance(3 * time.Minute) // the worker's heartbeat is now stale
	require.ElementsMatch(t, []string{"no_worker"}, b.reasons(t, paused))
}

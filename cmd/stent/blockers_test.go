package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stent"
)

// blockersBundle has functions registered by a live worker "w1" (registered through SQL, so
// nothing claims behind the test's back) and claims tasks for it with stent.claim_tasks.
type blockersBundle struct {
	*flowBundle
	act *stent.Activity[string, string]
}

func setupBlockers(t *testing.T) *blockersBundle {
	t.Helper()
	b := &blockersBundle{flowBundle: setupFlow(t)}
	b.act = stent.NewActivity("cli.limited", func(_ context.Context, s string) (string, error) { return s, nil },
		stent.InRegistry(b.reg))
	_, err := b.pool.Exec(t.Context(),
		`select stent.register_worker('w1', 'host', 1, '{default}', '{cli.limited}', '{}', 4)`)
	require.NoError(t, err)
	return b
}

// dispatch dispatches one task of cli.limited and returns its id.
func (b *blockersBundle) dispatch(t *testing.T, opts ...stent.DispatchOption) int64 {
	t.Helper()
	id, err := b.act.Dispatch(t.Context(), b.client, "x", opts...)
	require.NoError(t, err)
	exec, err := b.client.Get(t.Context(), id)
	require.NoError(t, err)
	return exec.Tasks[0].ID
}

// claim claims one task for worker w1 with a one-hour lease and returns its id.
func (b *blockersBundle) claim(t *testing.T) int64 {
	t.Helper()
	var id int64
	require.NoError(t, b.pool.QueryRow(t.Context(),
		`select id from stent.claim_tasks('w1', '{default}', '{cli.limited}', '{}', 1, '1 hour')`).Scan(&id))
	return id
}

func TestBlockersConcurrencyLimit(t *testing.T) {
	t.Parallel()
	b := setupBlockers(t)
	first, second := b.dispatch(t), b.dispatch(t)
	later := b.dispatch(t, stent.WithRunAt(t0.Add(2*time.Hour)))

	require.Equal(t, result{code: exitOK, stdout: fmt.Sprintf(
		"Task %d (cli.limited, queue default) is pending and nothing holds it back: the next claim takes it.\n", second)},
		b.stent(t, "blockers", fmt.Sprint(second)))

	require.Equal(t, first, b.claim(t))
	require.Equal(t, exitOK, b.stent(t, "limits", "set", "cli.limited", "--max-concurrent", "1").code)

	require.Equal(t, result{code: exitOK, stdout: fmt.Sprintf("Task %d (cli.limited, queue default) is running:\n"+
		"  leased  attempt 1 leased by worker w1; until 2030-01-02T04:04:05Z\n"+
		"          holders: w1\n", first)}, b.stent(t, "blockers", fmt.Sprint(first)))
	require.Equal(t, result{code: exitOK, stdout: fmt.Sprintf("Task %d (cli.limited, queue default) is pending, held back by:\n"+
		"  concurrency_limit  1 of 1 slots of cli.limited in use\n"+
		"                     holders: task %d on w1\n", second, first)}, b.stent(t, "blockers", fmt.Sprint(second)))
	require.Equal(t, result{code: exitOK, stdout: fmt.Sprintf("Task %d (cli.limited, queue default) is pending, held back by:\n"+
		"  scheduled          scheduled to start later; until 2030-01-02T05:04:05Z\n"+
		"  concurrency_limit  1 of 1 slots of cli.limited in use\n"+
		"                     holders: task %d on w1\n", later, first)}, b.stent(t, "blockers", fmt.Sprint(later)))

	require.Equal(t, exitOK, b.stent(t, "pause", "queue", "default").code)
	res := b.stent(t, "-o", "json", "blockers", fmt.Sprint(second))
	require.Equal(t, exitOK, res.code, res.stderr)
	require.JSONEq(t, fmt.Sprintf(`{"task_id": %d, "name": "cli.limited", "state": "pending", "queue": "default", "blockers": [
		{"reason": "paused_queue", "detail": "queue default paused", "until": null, "holders": []},
		{"reason": "concurrency_limit", "detail": "1 of 1 slots of cli.limited in use", "until": null,
		 "holders": ["task %d on w1"]}]}`, second, first), res.stdout)
	res = b.stent(t, "-o", "json", "blockers", fmt.Sprint(first))
	require.Equal(t, exitOK, res.code, res.stderr)
	require.JSONEq(t, fmt.Sprintf(`{"task_id": %d, "name": "cli.limited", "state": "running", "queue": "default", "blockers": [
		{"reason": "leased", "detail": "attempt 1 leased by worker w1", "until": "2030-01-02T04:04:05Z", "holders": ["w1"]}]}`,
		first), res.stdout)
}

func TestBlockersKeyAndRateLimits(t *testing.T) {
	t.Parallel()
	b := setupBlockers(t)
	require.Equal(t, exitOK, b.stent(t, "limits", "set", "cli.limited", "--max-concurrent-per-key", "1", "--rate", "2/1m").code)
	acme1 := b.dispatch(t, stent.WithConcurrencyKey("acme"))
	acme2 := b.dispatch(t, stent.WithConcurrencyKey("acme"))
	other := b.dispatch(t, stent.WithConcurrencyKey("other"))
	none := b.dispatch(t)

	require.Equal(t, acme1, b.claim(t))
	// acme's only slot is taken; other keys and tasks without a key are free.
	require.Equal(t, result{code: exitOK, stdout: fmt.Sprintf("Task %d (cli.limited, queue default) is pending, held back by:\n"+
		"  key_concurrency_limit  1 of 1 slots of key acme in use\n"+
		"                         holders: task %d on w1\n", acme2, acme1)}, b.stent(t, "blockers", fmt.Sprint(acme2)))
	require.Equal(t, exitOK, b.stent(t, "blockers", fmt.Sprint(none)).code)

	require.Equal(t, other, b.claim(t), "the claim skips acme's held-back task")
	// Two starts in the window: the rate limit holds back every task until t0+1m.
	res := b.stent(t, "blockers", fmt.Sprint(none))
	require.Equal(t, result{code: exitOK, stdout: fmt.Sprintf("Task %d (cli.limited, queue default) is pending, held back by:\n"+
		"  rate_limited  2 starts in the last 00:01:00; until 2030-01-02T03:05:05Z\n", none)}, res)
	res = b.stent(t, "-o", "json", "blockers", fmt.Sprint(acme2))
	require.Equal(t, exitOK, res.code, res.stderr)
	require.JSONEq(t, fmt.Sprintf(`{"task_id": %d, "name": "cli.limited", "state": "pending", "queue": "default", "blockers": [
		{"reason": "key_concurrency_limit", "detail": "1 of 1 slots of key acme in use", "until": null, "holders": ["task %d on w1"]},
		{"reason": "rate_limited", "detail": "2 starts in the last 00:01:00", "until": "2030-01-02T03:05:05Z", "holders": []}]}`,
		acme2, acme1), res.stdout)
}

func TestBlockersBadInput(t *testing.T) {
	t.Parallel()
	b := setupFlow(t)
	require.Equal(t, result{code: exitFailure, stderr: "stent: task 4242 not found\n"}, b.stent(t, "blockers", "4242"))
	for _, arg := range []string{"abc", "0", "-5", "1.5"} {
		res := b.stent(t, "blockers", "--", arg)
		require.Equal(t, exitUsage, res.code, arg)
		require.Contains(t, res.stderr, fmt.Sprintf("stent: task id must be a whole number from 1, got %q\n", arg))
	}
	res := b.stent(t, "blockers")
	require.Equal(t, exitUsage, res.code)
	require.Contains(t, res.stderr, "accepts 1 arg(s), received 0")
}

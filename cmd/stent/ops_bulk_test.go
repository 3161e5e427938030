package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stent"
)

func TestDLQCommands(t *testing.T) {
	t.Parallel()
	b := setupOps(t)
	b.seedOps(t)

	require.Equal(t, result{code: exitFailure, stderr: "stent: dead letter 99 not found\n"}, b.cli(t, "dlq", "show", "99"))
	require.Equal(t, result{code: exitFailure, stderr: "stent: dead letter 99 not found\n"}, b.cli(t, "dlq", "replay", "99"))
	require.Equal(t, result{code: exitFailure, stderr: "stent: dead letter 99 not found\n"}, b.cli(t, "dlq", "discard", "99", "--yes"))
	res := b.cli(t, "dlq", "show", "x")
	require.Equal(t, exitUsage, res.code)
	require.Contains(t, res.stderr, `dead letter id must be a whole number from 1, got "x"`)

	// Paging: one per page, then the next.
	res = b.cli(t, "-o", "json", "dlq", "list", "--limit", "1")
	require.Equal(t, exitOK, res.code, res.stderr)
	var page dlqListResult
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &page))
	require.Len(t, page.DeadLetters, 1)
	require.Equal(t, int64(2), page.DeadLetters[0].ID)
	require.Equal(t, int64(2), *page.Next)
	res = b.cli(t, "dlq", "list", "--limit", "1", "--after", "2")
	require.Equal(t, exitOK, res.code, res.stderr)
	require.Contains(t, res.stdout, "shop.fail")
	require.NotContains(t, res.stdout, "More:")

	res = b.cliIn(t, t.Context(), &terminal{strings.NewReader("no\n")}, "dlq", "discard", "1")
	require.Equal(t, exitFailure, res.code)
	require.Equal(t, "Discard dead letter 1 (shop.fail, execution "+b.ids[opsFailed].String()+")? [y/N] stent: aborted\n", res.stderr)
	require.Equal(t, result{code: exitOK, stdout: "Replayed dead letter 1: task 7 is pending again.\n"}, b.cli(t, "dlq", "replay", "1"))
	e, err := b.client.Get(t.Context(), b.ids[opsFailed])
	require.NoError(t, err)
	require.Equal(t, stent.StatePending, e.State)
	res = b.cli(t, "-o", "json", "dlq", "discard", "2", "--yes")
	require.Equal(t, exitOK, res.code, res.stderr)
	require.JSONEq(t, `{"dead_letter_id": 2, "discarded": true}`, res.stdout)
	e, err = b.client.Get(t.Context(), b.ids[opsCrashed])
	require.NoError(t, err)
	require.Equal(t, stent.StateFailed, e.State, "discarding leaves the execution failed")
	require.Equal(t, result{code: exitOK, stdout: "No dead letters.\n"}, b.cli(t, "dlq", "list"))
}

// seedDeadLetters makes n failed executions of shop.bulk, each with a dead letter.
func (b *opsBundle) seedDeadLetters(t *testing.T, n int) {
	t.Helper()
	b.exec(t, `select stent.register_worker('w-bulk', 'host-2', 1, '{bulk}', '{shop.bulk}', '{}', 100)`)
	b.exec(t, `select stent.dispatch('shop.bulk', to_jsonb(i), 'bulk', p_max_attempts => 1, p_kind => 'activity')
		from generate_series(1, $1) i`, n)
	b.exec(t, `select stent.fail_task(c.id, c.lease_token, '{"kind": "error", "message": "bulk"}', false)
		from stent.claim_tasks('w-bulk', '{bulk}', '{shop.bulk}', '{}', $1, '1 hour') c`, n)
}

func TestDLQBulk(t *testing.T) {
	t.Parallel()
	b := setupOps(t)
	b.seedOps(t)
	b.seedDeadLetters(t, 1203)
	count := func(name string) int64 {
		n, err := b.client.CountDeadLetters(t.Context(), stent.DeadLetterFilter{Name: name})
		require.NoError(t, err)
		return n
	}
	require.Equal(t, int64(1205), count(""))
	// stats counts past 1,000 rows (the Python CLI listed 1,000 rows to count them).
	res := b.cli(t, "-o", "json", "stats")
	require.Equal(t, exitOK, res.code, res.stderr)
	var st statsResult
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &st))
	require.Equal(t, int64(1205), st.Executions["failed"])
	require.Equal(t, int64(1205), st.DeadLetters)
	require.Equal(t, int64(1205), st.Failed, "all failed within the window")

	res = b.cli(t, "dlq", "replay-all", "--name", "shop.bulk")
	require.Equal(t, exitFailure, res.code)
	require.Contains(t, res.stderr, "refusing to continue without confirmation")

	// On a terminal: the question, then a progress bar on stderr.
	var stderr fakeTerminalWriter
	res = b.runWith(t, &terminal{strings.NewReader("y\n")}, &stderr, "dlq", "replay-all", "--name", "shop.bulk")
	require.Equal(t, exitOK, res.code, stderr.String())
	require.Equal(t, "Replayed 1203 of 1203 dead letter(s) of shop.bulk.\n", res.stdout)
	require.True(t, strings.HasPrefix(stderr.String(), "Replay 1203 dead letter(s) of shop.bulk? [y/N] \rreplaying ["), stderr.String())
	require.True(t, strings.HasSuffix(stderr.String(), "] 1203/1203 100%\n"), stderr.String())
	require.Equal(t, int64(0), count("shop.bulk"))
	require.Equal(t, int64(2), count(""))
	var pending int64
	require.NoError(t, b.pool.QueryRow(t.Context(), `select count(*) from stent.executions where workflow = 'shop.bulk' and state = 'pending'`).Scan(&pending))
	require.Equal(t, int64(1203), pending)

	// dlq purge: fail them again, then discard them in batches.
	b.exec(t, `select stent.fail_task(c.id, c.lease_token, '{"kind": "error", "message": "bulk"}', false)
		from stent.claim_tasks('w-bulk', '{bulk}', '{shop.bulk}', '{}', 2000, '1 hour') c`)
	require.Equal(t, int64(1203), count("shop.bulk"))
	res = b.cli(t, "-o", "json", "dlq", "purge", "--name", "shop.bulk", "--yes")
	require.Equal(t, exitOK, res.code, res.stderr)
	require.JSONEq(t, `{"matched": 1203, "done": 1203, "failed": 0, "errors": []}`, res.stdout)
	require.Equal(t, int64(0), count("shop.bulk"))
	require.Equal(t, result{code: exitOK, stdout: "Discarded 0 dead letter(s).\n"}, b.cli(t, "dlq", "purge", "--older-than", "1d"))
	require.Equal(t, int64(2), count(""))
}

func TestPurgeCommand(t *testing.T) {
	t.Parallel()
	b := setupOps(t)
	b.seedOps(t)
	b.clock.Advance(40 * 24 * time.Hour)

	dry := "Would delete 1 execution(s) with 6 task(s) finished more than 30d ago (2 kept: they have dead letters; --dead-letters deletes them too).\n"
	require.Equal(t, result{code: exitOK, stdout: dry}, b.cli(t, "purge", "--older-than", "30d", "--dry-run"))
	res := b.cli(t, "-o", "json", "purge", "--older-than", "30d", "--dry-run", "--dead-letters")
	require.Equal(t, exitOK, res.code, res.stderr)
	require.JSONEq(t, `{"older_than_seconds": 2592000, "dry_run": true, "executions": 3, "tasks": 8, "kept": 0}`, res.stdout)
	require.Equal(t, result{code: exitOK, stdout: "Would delete 0 execution(s) with 0 task(s) finished more than 41d ago.\n"},
		b.cli(t, "purge", "--older-than", "41d", "--dry-run"))

	res = b.cli(t, "purge", "--older-than", "30d")
	require.Equal(t, exitFailure, res.code)
	require.Contains(t, res.stderr, "refusing to continue without confirmation")
	var stderr fakeTerminalWriter
	res = b.runWith(t, &terminal{strings.NewReader("y\n")}, &stderr, "purge", "--older-than", "30d")
	require.Equal(t, exitOK, res.code, stderr.String())
	require.Equal(t, "Deleted 1 execution(s) finished more than 30d ago (2 kept: they have dead letters; --dead-letters deletes them too).\n", res.stdout)
	require.Contains(t, stderr.String(), "Delete 1 execution(s) with 6 task(s) finished more than 30d ago")
	require.Contains(t, stderr.String(), "] 1/1 100%\n")
	_, err := b.client.Get(t.Context(), b.ids[opsCompleted])
	require.ErrorIs(t, err, stent.ErrNotFound)

	require.Equal(t, result{code: exitOK, stdout: "Deleted 2 execution(s) finished more than 30d ago.\n"},
		b.cli(t, "purge", "--older-than", "720h", "--dead-letters", "--yes"))
	list, err := b.client.List(t.Context(), stent.ListParams{})
	require.NoError(t, err)
	require.Len(t, list.Executions, 2, "the unfinished ones stay")

	for _, args := range [][]string{{"purge"}, {"purge", "--older-than", "soon"}, {"purge", "--older-than", "-1h"}} {
		res := b.cli(t, args...)
		require.Equal(t, exitUsage, res.code, "%v: %s", args, res.stderr)
	}
}

package stent_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// TestByIDLookupsUsePrimaryKey: statements that name tasks by id and check their state find
// them through the primary key even when the statistics say no task is pending or running
// (taken before a backlog built up). Otherwise PostgreSQL answers them from the partial index
// of that state — a scan of the whole backlog for every claim, completion, heartbeat, step
// (or, for a signal, of every parked wait) — which once made each claimed row of a busy
// workflow run four times dearer. Counted with the transaction's own index statistics, so
// nothing depends on timing.
func TestByIDLookupsUsePrimaryKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const backlog = 1500
	exec := func(query string, args ...any) {
		t.Helper()
		_, err := b.pool.Exec(b.ctx, query, args...)
		require.NoError(t, err, query)
	}
	dispatch := func(n int, queue string) {
		t.Helper()
		exec(`SELECT count(*) FROM stent.dispatch_many((SELECT jsonb_agg(jsonb_build_object('name', 'idx.fn', 'input', i, 'queue', $2::text))
			FROM generate_series(1, $1::integer) AS i))`, n, queue)
	}
	// Statistics taken while nothing is pending or running.
	dispatch(backlog, "default")
	exec(`UPDATE stent.tasks SET state = 'completed', finished_at = stent.current_time()`)
	exec(`VACUUM ANALYZE stent.tasks`)
	// Then a backlog: pending tasks, and running ones held by another worker — claimed from a
	// queue of their own, so that the claim below, in queue default, does not walk their
	// claim-index entries (left until vacuum) on its way to its own.
	dispatch(backlog, "default")
	dispatch(backlog/2, "elsewhere")
	exec(`SELECT count(*) FROM stent.claim_tasks('other', '{elsewhere}', '{idx.fn}', '{}', $1, '1 hour')`, backlog/2)
	// A third of those park on a signal: waiting rows.
	exec(`SELECT count(*) FROM stent.tasks t, stent.wait_signal(t.id, t.lease_token, 0, 'go', '1 hour') AS w
		WHERE t.id IN (SELECT id FROM stent.tasks WHERE state = 'running' ORDER BY id LIMIT $1)`, backlog/6)

	tx, err := b.pool.Begin(b.ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(context.Background()) }()
	// read is how many entries the transaction has read so far from each partial index of
	// task states.
	read := func() map[string]int64 {
		t.Helper()
		out := map[string]int64{}
		for _, idx := range []string{"tasks_claim_idx", "tasks_key_claim_idx", "tasks_running_idx", "tasks_waiting_idx"} {
			var n int64
			require.NoError(t, tx.QueryRow(b.ctx, `SELECT pg_stat_get_xact_tuples_returned(('stent.' || $1)::regclass)`, idx).Scan(&n))
			out[idx] = n
		}
		return out
	}
	// step runs one statement and requires it to have read at most a few entries of each
	// partial index (a claim of n reads about n of tasks_claim_idx, to find them).
	step := func(what string, allowed map[string]int64, query string, args ...any) [][]any {
		t.Helper()
		before := read()
		rows, err := tx.Query(b.ctx, query, args...)
		require.NoError(t, err, what)
		vals, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([]any, error) { return r.Values() })
		require.NoError(t, err, what)
		for idx, n := range read() {
			require.LessOrEqual(t, n-before[idx], allowed[idx]+5, "%s read %d entries of %s", what, n-before[idx], idx)
		}
		return vals
	}

	claimed := step("claim", map[string]int64{"tasks_claim_idx": 10},
		`SELECT id, lease_token FROM stent.claim_tasks('w', '{default}', '{idx.fn}', '{}', 10, '1 hour')`)
	require.Len(t, claimed, 10)
	ids, tokens := make([]int64, len(claimed)), make([]int64, len(claimed))
	for i, r := range claimed {
		ids[i], tokens[i] = r[0].(int64), r[1].(int64)
	}
	renewed := step("renew", nil, `SELECT * FROM stent.renew_leases('w', $1, $2, '1 hour')`, ids, tokens)
	require.Len(t, renewed, 10)
	recorded := step("record steps", nil, `SELECT * FROM stent.record_steps($1)`,
		fmt.Sprintf(`[{"parent": %d, "token": %d, "seq": 0, "name": "s", "output": 1}]`, ids[0], tokens[0]))
	require.Len(t, recorded, 1)
	parked := step("wait for a signal", nil, `SELECT state FROM stent.wait_signal($1, $2, 1, 'go', '1 hour')`, ids[9], tokens[9])
	require.Equal(t, "parked", parked[0][0])
	var execID any
	require.NoError(t, tx.QueryRow(b.ctx, `SELECT execution_id FROM stent.tasks WHERE id = $1`, ids[9]).Scan(&execID))
	step("send a signal", nil, `SELECT stent.send_signal($1, 'go')`, execID)
	ids, tokens = ids[:9], tokens[:9]
	completed := step("complete", nil, `SELECT task_id FROM stent.complete_tasks($1, $2, array_fill('1'::jsonb, ARRAY[9]))`, ids, tokens)
	require.Len(t, completed, 9)
	var done int
	require.NoError(t, tx.QueryRow(b.ctx, `SELECT count(*) FROM stent.tasks WHERE id = ANY ($1) AND state = 'completed'`, ids).Scan(&done))
	require.Equal(t, 9, done)
}

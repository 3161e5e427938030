package worker_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/worker"
)

// listenerPIDs returns the backends of the test's database that are LISTEN connections:
// their last statement was the notifier's LISTEN batch or its keepalive ping. (The test
// never calls Client.Wait, whose notification hub would be one too.)
func listenerPIDs(b *testBundle) []int32 {
	b.t.Helper()
	rows, err := b.pool.Query(b.ctx(), `
		select pid from pg_stat_activity
		where datname = current_database() and pid <> pg_backend_pid()
		  and backend_type = 'client backend'
		  and (query ilike '%listen "stent_tasks"%' or query ilike '%listen "stent_cancel"%' or query = '-- ping')
		order by pid`)
	require.NoError(b.t, err)
	defer rows.Close()
	var pids []int32
	for rows.Next() {
		var pid int32
		require.NoError(b.t, rows.Scan(&pid))
		pids = append(pids, pid)
	}
	require.NoError(b.t, rows.Err())
	return pids
}

// pollDone waits for the execution to complete by reading it (not with Client.Wait, which
// would open another LISTEN connection).
func pollDone(b *testBundle, act *stent.Activity[string, string], in string) {
	b.t.Helper()
	id, err := act.Dispatch(b.ctx(), b.client, in)
	require.NoError(b.t, err)
	pollUntil(b.t, "the task to complete", func() bool { return b.get(id).State == stent.StateCompleted })
	require.JSONEq(b.t, `"`+in+`"`, string(b.get(id).Output))
}

// TestListenerTerminated kills the worker's LISTEN connection with pg_terminate_backend: the
// worker keeps completing tasks (the poll fallback, then notifications again) and its
// notifier reconnects on a new backend.
func TestListenerTerminated(t *testing.T) {
	t.Parallel()
	b := setup(t)
	echo := stent.NewActivity("listen.echo", func(ctx context.Context, in string) (string, error) { return in, nil }, b.in())
	b.startWorker(worker.Config{})
	pollDone(b, echo, "before")

	var old []int32
	pollUntil(t, "the worker's listener backend", func() bool {
		old = listenerPIDs(b)
		return len(old) == 1
	})
	var ok bool
	require.NoError(t, b.pool.QueryRow(b.ctx(), "select pg_terminate_backend($1)", old[0]).Scan(&ok))
	require.True(t, ok)

	pollDone(b, echo, "while reconnecting")
	pollUntil(t, "a new listener backend", func() bool {
		pids := listenerPIDs(b)
		return len(pids) == 1 && pids[0] != old[0]
	})
	pollDone(b, echo, "after")
}

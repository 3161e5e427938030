package worker_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/worker"
)

// TestShutdownKeepsFinishedResults stops a worker, past its ShutdownTimeout, while one
// attempt has returned but its completion still waits in the completer (behind another
// completion that the test blocks with a row lock). The shutdown release must only give back
// attempts still running: the finished attempt's result is recorded, not thrown away and
// run again.
func TestShutdownKeepsFinishedResults(t *testing.T) {
	t.Parallel()
	b := setup(t)
	gates := map[string]chan struct{}{"blocked": make(chan struct{}), "finished": make(chan struct{})}
	quick := stent.NewActivity("release.quick", func(ctx context.Context, in string) (string, error) {
		select {
		case <-gates[in]:
			return in, nil
		case <-b.done:
			return "", context.Canceled
		}
	}, b.in())
	started := make(chan struct{}, 2)
	var cancelled atomic.Int32
	straggler := stent.NewActivity("release.straggler", func(ctx context.Context, in string) (string, error) {
		started <- struct{}{}
		<-ctx.Done()
		cancelled.Add(1)
		return "", ctx.Err()
	}, b.in())
	rw := b.runWorker(worker.Config{Concurrency: 2, ShutdownTimeout: 200 * time.Millisecond})

	blocked, err := quick.Dispatch(b.ctx(), b.client, "blocked")
	require.NoError(t, err)
	finished, err := quick.Dispatch(b.ctx(), b.client, "finished")
	require.NoError(t, err)
	pollUntil(t, "both quick attempts to run", func() bool {
		return b.queryInt("select count(*) from stent.tasks where state = 'running'") == 2
	})
	// The stragglers wait for the two slots.
	for range 2 {
		_, err := straggler.Dispatch(b.ctx(), b.client, "s")
		require.NoError(t, err)
	}

	// Hold the row of "blocked": its completion statement will wait for the lock, and the
	// completion of "finished" queues behind it.
	tx, err := b.pool.Begin(b.ctx())
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(context.Background()) }()
	_, err = tx.Exec(b.ctx(), "select 1 from stent.tasks where execution_id = $1 for update", blocked)
	require.NoError(t, err)
	close(gates["blocked"])
	receive(t, started, "a straggler to take the first free slot")
	close(gates["finished"])
	// The second straggler can only start once "finished" has returned and left its slot.
	receive(t, started, "a straggler to take the second free slot")

	rw.cancel()
	// The shutdown timeout passes: the stragglers are released and cancelled. (A release
	// that wrongly included the blocked attempt would wait for the lock instead.)
	pollUntil(t, "the release", func() bool {
		return cancelled.Load() == 2 || b.queryInt(`select count(*) from pg_stat_activity
			where datname = current_database() and pid <> pg_backend_pid()
			  and query ilike '%stent.release_tasks(%' and wait_event_type = 'Lock'`) > 0
	})
	require.NoError(t, tx.Rollback(b.ctx()))
	require.NoError(t, rw.wait(t))

	for in, id := range map[string]uuid.UUID{"blocked": blocked, "finished": finished} {
		e := b.get(id)
		require.Equal(t, stent.StateCompleted, e.State, in)
		require.JSONEq(t, `"`+in+`"`, string(e.Output), in)
		require.Equal(t, 1, e.Tasks[0].Attempt, "%s ran once", in)
	}
	require.Equal(t, int64(2), b.queryInt(
		"select count(*) from stent.tasks where name = 'release.straggler' and state = 'pending' and attempt = 0"),
		"the stragglers were released without burning an attempt")
}

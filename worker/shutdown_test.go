package worker_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/worker"
)

// TestGracefulDrain stops a worker while an attempt runs: it drains (claiming nothing new
// though it has a free slot), lets the attempt finish and record its result, then returns
// nil and deregisters.
func TestGracefulDrain(t *testing.T) {
	t.Parallel()
	b := setup(t)
	started := make(chan string, 2)
	release := make(chan struct{})
	hold := stent.NewActivity("drain.hold", func(ctx context.Context, in string) (string, error) {
		started <- in
		select {
		case <-release:
			return "done " + in, nil
		case <-b.done:
			return "", context.Canceled
		}
	}, b.in())
	rw := b.runWorker(worker.Config{ID: "drainer", Concurrency: 2, ShutdownTimeout: time.Minute})
	require.Equal(t, worker.StateReady, rw.w.Status())

	first, err := hold.Dispatch(b.ctx(), b.client, "first")
	require.NoError(t, err)
	require.Equal(t, "first", receive(t, started, "the attempt to start"))

	rw.cancel()
	pollUntil(t, "the worker to drain", func() bool { return rw.w.Status() == worker.StateDraining })
	pollUntil(t, "the worker to show as draining", func() bool {
		return b.queryInt("select count(*) from stent.workers where id = 'drainer' and state = 'draining'") == 1
	})
	second, err := hold.Dispatch(b.ctx(), b.client, "second")
	require.NoError(t, err)

	close(release)
	require.NoError(t, rw.wait(t))
	require.Equal(t, worker.StateStopped, rw.w.Status())
	waitClosed(t, rw.w.Done(), "Done")
	require.Equal(t, int64(0), b.queryInt("select count(*) from stent.workers"), "the worker deregistered")

	out, err := hold.Wait(b.ctx(), b.client, first)
	require.NoError(t, err)
	require.Equal(t, "done first", out, "the running attempt finished and was recorded")
	task := b.root(second)
	require.Equal(t, "pending", task.State, "a draining worker claims nothing")
	require.Equal(t, 0, task.Attempt)
}

// TestStopCancelsStragglers checks what happens to an attempt still running when the drain
// ends, by HardStop or by ShutdownTimeout: its context is cancelled with worker.ErrShutdown,
// its task is released (pending, no attempt burned, nothing recorded) and Run returns. The
// released task then runs on another worker as attempt 1.
func TestStopCancelsStragglers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		timeout  time.Duration
		hardStop bool
	}{
		{"HardStop", time.Minute, true},
		{"ShutdownTimeout", 200 * time.Millisecond, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			started := make(chan struct{}, 1)
			causes := make(chan error, 1)
			var calls atomic.Int32
			stubborn := stent.NewActivity("stop.stubborn", func(ctx context.Context, in string) (string, error) {
				if calls.Add(1) > 1 {
					info, _ := stent.AttemptFrom(ctx)
					return "finished on attempt " + strconv.Itoa(info.Attempt), nil
				}
				started <- struct{}{}
				<-ctx.Done() // until the worker gives up on it
				causes <- context.Cause(ctx)
				return "", ctx.Err()
			}, b.in())
			rw := b.runWorker(worker.Config{ID: "stopper", ShutdownTimeout: tc.timeout})

			id, err := stubborn.Dispatch(b.ctx(), b.client, "x")
			require.NoError(t, err)
			receive(t, started, "the attempt to start")
			rw.cancel()
			if tc.hardStop {
				pollUntil(t, "the worker to drain", func() bool { return rw.w.Status() == worker.StateDraining })
				rw.w.HardStop()
			}
			require.ErrorIs(t, receive(t, causes, "the attempt to be cancelled"), worker.ErrShutdown)
			require.NoError(t, rw.wait(t))
			require.Equal(t, worker.StateStopped, rw.w.Status())

			task := b.root(id)
			require.Equal(t, "pending", task.State, "released")
			require.Equal(t, 0, task.Attempt, "no attempt burned")
			require.Empty(t, task.LeaseOwner)
			require.Nil(t, task.Error, "the cancelled attempt's error is not recorded")
			require.Equal(t, int64(0), b.queryInt("select count(*) from stent.workers"))

			b.startWorker(worker.Config{ID: "successor"})
			out, err := stubborn.Wait(b.ctx(), b.client, id)
			require.NoError(t, err)
			require.Equal(t, "finished on attempt 1", out)
		})
	}
}

// TestStopDuringClaim stops a worker while its claim statement is still running in the
// database (blocked here on a lock the test holds on the execution row). No task may be left
// claimed by the stopped worker: a claim the client abandons can still commit in the
// database when the cancel request loses the race (seen under load), stranding its tasks
// until their leases expire. So a stopping worker finishes its claim and drains the task.
func TestStopDuringClaim(t *testing.T) {
	t.Parallel()
	b := setup(t)
	echo := stent.NewActivity("claim.echo", func(ctx context.Context, s string) (string, error) { return s, nil }, b.in())
	rw := b.runWorker(worker.Config{ID: "claimer"})

	// A delayed task, so that the worker cannot claim it before the lock is held.
	id, err := echo.Dispatch(b.ctx(), b.client, "x", stent.WithDelay(time.Hour))
	require.NoError(t, err)
	tx, err := b.pool.Begin(b.ctx())
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(context.Background()) }()
	_, err = tx.Exec(b.ctx(), "select 1 from stent.executions where id = $1 for update", id)
	require.NoError(t, err)
	b.exec("update stent.tasks set run_at = now() - interval '1 second' where execution_id = $1", id)
	b.exec("select pg_notify('stent_tasks', 'default')")
	claims := func(waiting string) int64 {
		return b.queryInt(`select count(*) from pg_stat_activity
			where datname = current_database() and pid <> pg_backend_pid() and state = 'active'
			  and query ilike '%stent.claim_tasks(%' and coalesce(wait_event_type, '') like $1`, waiting)
	}
	pollUntil(t, "the claim to block on the lock", func() bool { return claims("Lock") == 1 })

	rw.cancel() // while the claim waits for the lock
	require.NoError(t, tx.Rollback(b.ctx()))
	require.NoError(t, rw.wait(t))
	require.Zero(t, claims("%"), "the claim finished before Run returned")
	e := b.get(id)
	require.Equal(t, stent.StateCompleted, e.State, "the stopping worker finished its claim and drained the task")
	require.Equal(t, 1, e.Tasks[0].Attempt)
}

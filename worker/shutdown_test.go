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
	require.Equal(t, int64(1), b.queryInt("select count(*) from stent.workers where id = 'drainer' and state = 'draining'"))
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

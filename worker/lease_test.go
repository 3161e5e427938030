package worker_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/worker"
)

// TestHeartbeatKeepsLongTaskLeased runs, on the real clock, a task that outlives its 2s
// lease, heartbeating every 200ms, while a second worker serving the same function (and able
// to lead maintenance) polls: heartbeats keep renewing the lease, so the task is never
// rescued nor claimed twice.
func TestHeartbeatKeepsLongTaskLeased(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var runs atomic.Int32
	started := make(chan struct{}, 10)
	release := make(chan struct{})
	long := stent.NewActivity("lease.long", func(ctx context.Context, in string) (string, error) {
		runs.Add(1)
		started <- struct{}{}
		select {
		case <-release:
			return "done " + in, nil
		case <-ctx.Done():
			return "", context.Cause(ctx)
		case <-b.done:
			return "", context.Canceled
		}
	}, b.in())
	cfg := worker.Config{LeaseDuration: 2 * time.Second, HeartbeatInterval: 200 * time.Millisecond}
	cfg.ID = "first"
	b.startWorker(cfg)

	id, err := long.Dispatch(b.ctx(), b.client, "x")
	require.NoError(t, err)
	receive(t, started, "the attempt to start")
	cfg.ID = "second"
	b.startWorker(cfg)

	// Watch the lease being renewed until the task has outlived its first lease: by then an
	// unrenewed lease would have expired and been rescued.
	first := b.root(id).LeaseExpiresAt
	require.NotNil(t, first)
	last, renewals := *first, 0
	pollUntil(t, "the task to outlive its first lease", func() bool {
		task := b.root(id)
		require.Equal(t, "running", task.State)
		require.Equal(t, "first", task.LeaseOwner)
		require.Equal(t, 1, task.Attempt)
		if task.LeaseExpiresAt.After(last) {
			last = *task.LeaseExpiresAt
			renewals++
		}
		return renewals >= 2 && last.After(first.Add(cfg.LeaseDuration))
	})
	t.Logf("lease renewed %d times", renewals)
	close(release)

	out, err := long.Wait(b.ctx(), b.client, id)
	require.NoError(t, err)
	require.Equal(t, "done x", out)
	require.Equal(t, int32(1), runs.Load(), "ran exactly once")
	task := b.root(id)
	require.Equal(t, 1, task.Attempt)
	require.Nil(t, task.Error)
	require.Equal(t, int64(0), b.queryInt("select count(*) from stent.dead_letters"))
}

// lostLeaseProbe is an activity that reports its context's cause when cancelled and then
// returns a result anyway (as careless code does), plus a quick activity to run after it.
type lostLeaseProbe struct {
	act     *stent.Activity[string, string]
	quick   *stent.Activity[string, string]
	started chan struct{}
	causes  chan error
}

func newLostLeaseProbe(b *testBundle) *lostLeaseProbe {
	p := &lostLeaseProbe{started: make(chan struct{}, 1), causes: make(chan error, 1)}
	p.act = stent.NewActivity("lease.late", func(ctx context.Context, in string) (string, error) {
		p.started <- struct{}{}
		select {
		case <-ctx.Done():
			p.causes <- context.Cause(ctx)
		case <-b.done:
		}
		return "late result", nil
	}, b.in())
	p.quick = stent.NewActivity("lease.quick", func(ctx context.Context, in string) (string, error) { return in, nil }, b.in())
	return p
}

// runAfter runs a quick task to completion. On a one-slot worker it can only start once the
// lost attempt has returned, so by the time it completed, the worker has long dealt with the
// late result.
func (p *lostLeaseProbe) runAfter(b *testBundle) {
	b.t.Helper()
	out, err := p.quick.Run(b.ctx(), b.client, "after")
	require.NoError(b.t, err)
	require.Equal(b.t, "after", out)
}

// TestLostLeaseCancelsAttempt checks that an attempt whose lease is lost has its context
// cancelled, with the cause saying why, and that its late result is discarded.
func TestLostLeaseCancelsAttempt(t *testing.T) {
	t.Parallel()

	t.Run("ExecutionCancelled", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		p := newLostLeaseProbe(b)
		b.startWorker(worker.Config{Concurrency: 1, LeaseDuration: 2 * time.Second, HeartbeatInterval: 100 * time.Millisecond})
		id, err := p.act.Dispatch(b.ctx(), b.client, "x")
		require.NoError(t, err)
		receive(t, p.started, "the attempt to start")

		st, err := b.client.Cancel(b.ctx(), id)
		require.NoError(t, err)
		require.Equal(t, stent.StateCancelled, st)
		cause := receive(t, p.causes, "the attempt's context to be cancelled")
		require.True(t, cause == stent.ErrCancelled || cause == stent.ErrLeaseLost, "cause: %v", cause)
		p.runAfter(b)

		e := b.get(id)
		require.Equal(t, stent.StateCancelled, e.State, "terminal states are sticky")
		require.Nil(t, e.Output, "the late result is discarded")
		require.Equal(t, "cancelled", e.Tasks[0].State)
	})

	t.Run("FencedOff", func(t *testing.T) {
		t.Parallel()
		// A frozen fake clock: leases never expire, so only the fence takes the task away.
		b := setupWithClock(t, time.Now())
		p := newLostLeaseProbe(b)
		b.startWorker(worker.Config{ID: "victim", Concurrency: 1, LeaseDuration: 2 * time.Second, HeartbeatInterval: 100 * time.Millisecond})
		id, err := p.act.Dispatch(b.ctx(), b.client, "x")
		require.NoError(t, err)
		receive(t, p.started, "the attempt to start")

		// Another worker takes the task over (as after a rescue and a new claim): the next
		// heartbeat finds the lease gone.
		b.exec(`update stent.tasks set lease_owner = 'thief', lease_token = lease_token + 1
			where execution_id = $1`, id)
		cause := receive(t, p.causes, "the attempt's context to be cancelled")
		require.ErrorIs(t, cause, stent.ErrLeaseLost)
		p.runAfter(b)

		// The late result did not complete the task the thief now owns.
		e := b.get(id)
		require.Equal(t, stent.StateRunning, e.State)
		require.Nil(t, e.Output)
		require.Equal(t, "running", e.Tasks[0].State)
		require.Equal(t, "thief", e.Tasks[0].LeaseOwner)
	})
}

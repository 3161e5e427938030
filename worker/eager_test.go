package worker_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/stenttest"
	"github.com/stentdev/stent/worker"
)

// quietWorker is a worker that finds no work by itself during a test: no LISTEN, and its
// next poll is minutes away. Whatever it runs was handed to it by an eager dispatch.
var quietWorker = worker.Config{PollOnly: true, PollInterval: time.Hour}

// pollCounter counts the worker's claim statements.
type pollCounter struct {
	stent.NopMetrics
	polls atomic.Int32
}

func (p *pollCounter) ClaimPolled(int) { p.polls.Add(1) }

// startQuiet starts a quiet worker and returns once its first claim (made when it starts)
// has run, so that no later claim can race the test's dispatches. b.client becomes a client
// of the same pool and registry whose metrics count the polls.
func (b *testBundle) startQuiet(cfg worker.Config) *worker.Worker {
	b.t.Helper()
	pc := &pollCounter{}
	b.client = stenttest.Client(b.t, b.pool, stent.Config{Registry: b.reg, Logger: testLogger(), Metrics: pc, WaitPollInterval: 50 * time.Millisecond})
	w := b.startWorker(cfg)
	pollUntil(b.t, "the worker's first claim", func() bool { return pc.polls.Load() > 0 })
	return w
}

// TestEagerStart checks that a dispatch through the worker's own client leases the new task
// to that worker in the dispatch statement: it is running when Dispatch returns, leased to
// that worker, and it runs to completion although the worker neither listens nor polls.
func TestEagerStart(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var runs atomic.Int32
	gate := make(chan struct{})
	echo := stent.NewActivity("eager.echo", func(ctx context.Context, s string) (string, error) {
		runs.Add(1)
		if s == "gated" {
			<-gate
		}
		return s + "!", nil
	}, b.in())
	w := b.startQuiet(quietWorker)

	id, err := echo.Dispatch(b.ctx(), b.client, "gated")
	require.NoError(t, err)
	root := b.root(id)
	require.Equal(t, "running", root.State, "leased by the dispatch itself")
	require.Equal(t, 1, root.Attempt)
	require.Equal(t, w.ID(), root.LeaseOwner, "leased to the worker of the same client")
	require.Equal(t, stent.StateRunning, b.get(id).State)
	close(gate)
	out, err := echo.Wait(b.ctx(), b.client, id)
	require.NoError(t, err)
	require.Equal(t, "gated!", out)
	require.Equal(t, int32(1), runs.Load())

	// The same key again: nothing new is created, leased or run.
	first, err := echo.Dispatch(b.ctx(), b.client, "once", stent.WithIdempotencyKey("k"))
	require.NoError(t, err)
	_, err = echo.Wait(b.ctx(), b.client, first)
	require.NoError(t, err)
	again, err := echo.Dispatch(b.ctx(), b.client, "once", stent.WithIdempotencyKey("k"))
	require.NoError(t, err)
	require.Equal(t, first, again)
	require.Equal(t, int32(2), runs.Load(), "a matched idempotency key runs nothing")
}

// TestEagerStartDeclines checks the cases in which a dispatch must leave its task pending
// for an ordinary claim: a transactional or delayed dispatch, a paused function, a limited
// function, a function the worker does not serve, and a due task already waiting ahead of
// it in the queue (a higher priority still goes first).
func TestEagerStartDeclines(t *testing.T) {
	t.Parallel()
	b := setup(t)
	noop := func(ctx context.Context, s string) (string, error) { return s, nil }
	echo := stent.NewActivity("decline.echo", noop, b.in())
	paused := stent.NewActivity("decline.paused", noop, b.in())
	limited := stent.NewActivity("decline.limited", noop, b.in())
	other := stent.NewActivity("decline.other", noop, b.in())
	cfg := quietWorker
	cfg.Functions = []string{"decline.echo", "decline.paused", "decline.limited"}
	b.startQuiet(cfg)
	ctx := b.ctx()
	require.NoError(t, b.client.PauseFunction(ctx, "decline.paused"))
	require.NoError(t, b.client.SetLimits(ctx, "decline.limited", stent.Limits{MaxConcurrent: 5}))

	tx, err := b.pool.Begin(ctx)
	require.NoError(t, err)
	id, err := echo.DispatchTx(ctx, b.client, tx, "tx")
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))
	require.Equal(t, "pending", b.taskState(id), "in the caller's transaction")

	for what, dispatch := range map[string]func() (uuid.UUID, error){
		"delayed":       func() (uuid.UUID, error) { return echo.Dispatch(ctx, b.client, "later", stent.WithDelay(time.Hour)) },
		"paused":        func() (uuid.UUID, error) { return paused.Dispatch(ctx, b.client, "paused") },
		"limited":       func() (uuid.UUID, error) { return limited.Dispatch(ctx, b.client, "limited") },
		"not served":    func() (uuid.UUID, error) { return other.Dispatch(ctx, b.client, "other") },
		"queued behind": func() (uuid.UUID, error) { return echo.Dispatch(ctx, b.client, "behind") },
	} {
		id, err := dispatch()
		require.NoError(t, err, what)
		require.Equal(t, "pending", b.taskState(id), what)
	}
	id, err = echo.Dispatch(ctx, b.client, "urgent", stent.WithPriority(5))
	require.NoError(t, err)
	require.NotEqual(t, "pending", b.taskState(id), "a higher priority has nothing ahead of it")
	_, err = echo.Wait(ctx, b.client, id)
	require.NoError(t, err)
}

// TestEagerStartFullWorker checks that a dispatch finding the worker's slots taken leaves
// the task pending (and announced), and that the worker claims it once a slot frees.
func TestEagerStartFullWorker(t *testing.T) {
	t.Parallel()
	b := setup(t)
	started, release := make(chan struct{}, 1), make(chan struct{})
	blocker := stent.NewActivity("full.blocker", func(ctx context.Context, s string) (string, error) {
		started <- struct{}{}
		<-release
		return s, nil
	}, b.in())
	echo := stent.NewActivity("full.echo", func(ctx context.Context, s string) (string, error) { return s, nil }, b.in())
	b.startWorker(worker.Config{Concurrency: 1})
	ctx := b.ctx()

	held, err := blocker.Dispatch(ctx, b.client, "hold")
	require.NoError(t, err)
	receive(t, started, "the blocker to start")
	id, err := echo.Dispatch(ctx, b.client, "waits")
	require.NoError(t, err)
	require.Equal(t, "pending", b.taskState(id), "no free slot")
	close(release)
	_, err = blocker.Wait(ctx, b.client, held)
	require.NoError(t, err)
	out, err := echo.Wait(ctx, b.client, id)
	require.NoError(t, err)
	require.Equal(t, "waits", out)
}

// TestEagerStartDisabled checks that DisableEagerStart leaves every dispatch to the claim.
func TestEagerStartDisabled(t *testing.T) {
	t.Parallel()
	b := setup(t)
	echo := stent.NewActivity("off.echo", func(ctx context.Context, s string) (string, error) { return s, nil }, b.in())
	cfg := quietWorker
	cfg.DisableEagerStart = true
	b.startQuiet(cfg)
	id, err := echo.Dispatch(b.ctx(), b.client, "x")
	require.NoError(t, err)
	require.Equal(t, "pending", b.taskState(id))
}

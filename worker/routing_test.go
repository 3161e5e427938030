package worker_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/worker"
)

// TestTagRouting checks that a tagged worker takes untagged tasks and tasks sharing one of
// its tags, and leaves the others.
func TestTagRouting(t *testing.T) {
	t.Parallel()
	b := setup(t)
	echo := stent.NewActivity("tags.echo", func(ctx context.Context, s string) (string, error) { return s, nil }, b.in())
	b.startWorker(worker.Config{Tags: []string{"gpu", "eu"}})

	cpu, err := echo.Dispatch(b.ctx(), b.client, "cpu", stent.WithTags("cpu"))
	require.NoError(t, err)
	for _, tags := range [][]string{nil, {"gpu"}, {"us", "eu"}} {
		out, err := echo.Run(b.ctx(), b.client, "ok", stent.WithTags(tags...))
		require.NoError(t, err, "tags %v", tags)
		require.Equal(t, "ok", out)
	}
	require.Equal(t, "pending", b.taskState(cpu), "no shared tag")
}

// TestPollOnly runs a worker without LISTEN/NOTIFY: it still finds work by polling, and it
// learns that a running attempt's execution was cancelled from its heartbeat (the lease is
// gone), cancelling the attempt with stent.ErrLeaseLost.
func TestPollOnly(t *testing.T) {
	t.Parallel()
	b := setup(t)
	echo := stent.NewActivity("poll.echo", func(ctx context.Context, s string) (string, error) { return s, nil }, b.in())
	started := make(chan struct{}, 1)
	causes := make(chan error, 1)
	held := stent.NewActivity("poll.held", func(ctx context.Context, s string) (string, error) {
		started <- struct{}{}
		select {
		case <-ctx.Done():
			causes <- context.Cause(ctx)
		case <-b.done:
		}
		return "late", nil
	}, b.in())
	b.startWorker(worker.Config{PollOnly: true, LeaseDuration: 2 * time.Second, HeartbeatInterval: 100 * time.Millisecond})
	require.Empty(t, listenerPIDs(b), "no LISTEN connection")

	pollDone(b, echo, "polled")
	id, err := held.Dispatch(b.ctx(), b.client, "x")
	require.NoError(t, err)
	receive(t, started, "the attempt to start")
	_, err = b.client.Cancel(b.ctx(), id)
	require.NoError(t, err)
	require.ErrorIs(t, receive(t, causes, "the attempt to be cancelled"), stent.ErrLeaseLost)
	require.Equal(t, stent.StateCancelled, b.get(id).State)
}

// TestDelayedTask checks that a worker whose fallback poll is minutes away still runs a
// task dispatched with a short delay when it becomes due: it sleeps until the next due
// time the database reports, not until its next poll.
func TestDelayedTask(t *testing.T) {
	t.Parallel()
	b := setup(t)
	echo := stent.NewActivity("delay.echo", func(ctx context.Context, s string) (string, error) { return s, nil }, b.in())
	b.startWorker(worker.Config{PollInterval: 10 * time.Minute})

	id, err := echo.Dispatch(b.ctx(), b.client, "later", stent.WithDelay(300*time.Millisecond))
	require.NoError(t, err)
	out, err := echo.Wait(b.ctx(), b.client, id)
	require.NoError(t, err)
	require.Equal(t, "later", out)
	task := b.root(id)
	require.NotNil(t, task.StartedAt)
	require.False(t, task.StartedAt.Before(task.RunAt), "not claimed before it was due")
}

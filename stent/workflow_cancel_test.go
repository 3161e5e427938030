package stent_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/stenttest"
	"github.com/stentdev/stent/worker"
)

// TestWorkflowCancel: cancelling a workflow while it sleeps, while it waits for a signal, and
// while one of its activities runs cancels every unfinished task; the running activity sees
// its context cancelled (cause ErrCancelled); waiting returns ErrCancelled; and cancelled is
// sticky — the timer passing, a signal or the activity returning change nothing.
func TestWorkflowCancel(t *testing.T) {
	t.Parallel()
	b := setup(t)
	started := make(chan struct{}, 1)
	sawCancel := make(chan error, 1)
	block := stent.NewActivity("wf.block", func(ctx context.Context, _ string) (string, error) {
		started <- struct{}{}
		<-ctx.Done()
		sawCancel <- context.Cause(ctx)
		return "finished anyway", nil
	}, stent.InRegistry(b.reg))
	wf := stent.NewWorkflow("wf.cancellable", func(ctx stent.Context, mode string) (string, error) {
		switch mode {
		case "sleep":
			return "", stent.Sleep(ctx, time.Hour)
		case "signal":
			_, err := stent.WaitSignal[string](ctx, "go", time.Hour)
			return "", err
		default:
			return block.Call(ctx, "x")
		}
	}, stent.InRegistry(b.reg))
	stenttest.StartWorker(t, b.client, worker.Config{PollInterval: 10 * time.Millisecond})

	for _, mode := range []string{"sleep", "signal", "activity"} {
		id, err := wf.Dispatch(b.ctx, b.client, mode)
		require.NoError(t, err)
		if mode == "activity" {
			<-started
		} else {
			pollUntil(t, mode+" parked", func() bool {
				return b.rootTask(t, id).State == "pending" && b.rootTask(t, id).RunAt.After(b.clock.Now())
			})
		}
		state, err := b.client.Cancel(b.ctx, id)
		require.NoError(t, err)
		require.Equal(t, stent.StateCancelled, state)
		_, err = wf.Wait(b.ctx, b.client, id)
		require.ErrorIs(t, err, stent.ErrCancelled, mode)
		require.Equal(t, 0, b.count(t, "SELECT count(*) FROM stent.tasks WHERE execution_id = $1 AND state NOT IN ('cancelled', 'completed', 'failed')", id), mode)

		switch mode {
		case "sleep":
			b.clock.Advance(2 * time.Hour)
		case "signal":
			require.ErrorIs(t, b.client.Signal(b.ctx, id, "go", "now"), stent.ErrWrongState)
		case "activity":
			require.ErrorIs(t, <-sawCancel, stent.ErrCancelled)
		}
		e, err := b.client.Get(b.ctx, id)
		require.NoError(t, err)
		require.Equal(t, stent.StateCancelled, e.State, "cancelled is sticky (%s)", mode)
	}
}

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

// TestExecutionDeadline: an execution still sleeping at its deadline (measured from its
// scheduled start) ends timed_out with an error stored, its tasks are cancelled, waiting for
// it returns ErrTimedOut, and an activity's own timeout is an ordinary attempt failure.
func TestExecutionDeadline(t *testing.T) {
	t.Parallel()
	b := setup(t)
	wf := stent.NewWorkflow("wf.slow", func(ctx stent.Context, _ string) (string, error) {
		if err := stent.Sleep(ctx, 48*time.Hour); err != nil {
			return "", err
		}
		return "late", nil
	}, stent.InRegistry(b.reg))
	id, err := wf.Dispatch(b.ctx, b.client, "x", stent.WithDelay(time.Hour), stent.WithMaxDuration(24*time.Hour))
	require.NoError(t, err)
	require.True(t, b.execution(t, id).Deadline.Equal(b.clock.Now().Add(25*time.Hour)), "from the scheduled start")
	stenttest.StartWorker(t, b.client, worker.Config{PollInterval: 10 * time.Millisecond})

	b.clock.Advance(time.Hour)
	pollUntil(t, "sleeping", func() bool { return b.count(t, "SELECT count(*) FROM stent.tasks WHERE kind = 'sleep'") == 1 })
	b.clock.Advance(25 * time.Hour)
	_, err = wf.Wait(b.ctx, b.client, id)
	require.ErrorIs(t, err, stent.ErrTimedOut)
	var ee *stent.ExecutionError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, "timed_out", ee.Err.Kind)
	require.Contains(t, ee.Err.Message, "deadline")
	require.Equal(t, 0, b.count(t, "SELECT count(*) FROM stent.tasks WHERE state NOT IN ('completed', 'failed', 'cancelled')"))

}

// TestActivityTimeoutIsNotExecutionTimeout: an activity's own per-attempt timeout is an
// ordinary attempt failure (kind timeout), never mistaken for the execution's deadline.
func TestActivityTimeoutIsNotExecutionTimeout(t *testing.T) {
	t.Parallel()
	b := setup(t)
	slow := stent.NewActivity("wf.slowact", func(ctx context.Context, _ string) (string, error) {
		<-ctx.Done()
		return "", ctx.Err()
	}, stent.Timeout(50*time.Millisecond), stent.Retry(stent.RetryPolicy{MaxAttempts: 1}), stent.InRegistry(b.reg))
	stenttest.StartWorker(t, b.client, worker.Config{})
	_, err := slow.Run(b.ctx, b.client, "x", stent.WithMaxDuration(time.Hour))
	var ee *stent.ExecutionError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, stent.StateFailed, ee.State)
	require.Equal(t, stent.KindTimeout, ee.Err.Kind)
	require.NotErrorIs(t, err, stent.ErrTimedOut)
}

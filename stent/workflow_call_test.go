package stent_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/stenttest"
	"github.com/stentdev/stent/worker"
)

// TestWorkflowCallsActivities: a workflow calls three activities one after the other on a
// worker with a single slot (the waiting workflow holds no slot, so there is no deadlock);
// each activity runs once, the workflow is suspended while each runs and woken after, and the
// checkpoints are at positions 0, 1, 2.
func TestWorkflowCallsActivities(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var runs atomic.Int32
	double := stent.NewActivity("wf.double", func(ctx context.Context, n int) (int, error) {
		runs.Add(1)
		return n * 2, nil
	}, stent.InRegistry(b.reg))
	wf := stent.NewWorkflow("wf.chain", func(ctx stent.Context, n int) (int, error) {
		for range 3 {
			v, err := double.Call(ctx, n)
			if err != nil {
				return 0, err
			}
			n = v
		}
		return n, nil
	}, stent.InRegistry(b.reg))
	stenttest.StartWorker(t, b.client, worker.Config{Concurrency: 1})

	got, err := wf.Run(b.ctx, b.client, 3)
	require.NoError(t, err)
	require.Equal(t, 24, got)
	require.EqualValues(t, 3, runs.Load(), "each activity ran once")
	require.Equal(t, 3, b.count(t, "SELECT count(*) FROM stent.tasks WHERE kind = 'activity' AND state = 'completed' AND seq IN (0, 1, 2)"))
	require.Equal(t, 1, b.count(t, "SELECT count(*) FROM stent.tasks WHERE kind = 'workflow' AND state = 'completed' AND attempt = 1"),
		"suspensions do not count as attempts")
}

// TestWorkflowChildFailure: an activity that fails for good returns its *TaskError to the
// workflow, which can handle it (a compensation), and a sub-workflow's result comes back to
// its parent.
func TestWorkflowChildFailure(t *testing.T) {
	t.Parallel()
	b := setup(t)
	charge := stent.NewActivity("wf.charge", func(ctx context.Context, amount int) (string, error) {
		return "", stent.Permanent(fmt.Errorf("card declined for %d", amount))
	}, stent.InRegistry(b.reg))
	sub := stent.NewWorkflow("wf.sub", func(ctx stent.Context, s string) (string, error) {
		return stent.Step(ctx, "upper", func(context.Context) (string, error) { return s + "!", nil })
	}, stent.InRegistry(b.reg))
	wf := stent.NewWorkflow("wf.saga", func(ctx stent.Context, amount int) (string, error) {
		_, err := charge.Call(ctx, amount)
		var te *stent.TaskError
		if !errors.As(err, &te) {
			return "", fmt.Errorf("expected a task error, got %v", err)
		}
		return sub.Call(ctx, "compensated after "+te.Message)
	}, stent.InRegistry(b.reg))
	stenttest.StartWorker(t, b.client, worker.Config{Concurrency: 2})

	got, err := wf.Run(b.ctx, b.client, 42)
	require.NoError(t, err)
	require.Equal(t, "compensated after card declined for 42!", got)
}

package stent_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/stenttest"
	"github.com/stentdev/stent/worker"
)

// Ports of the Python Stent's execution, scheduling and wait_for tests to workflows, plus the
// dead-letter replay it got wrong (it re-ran every finished child).

// TestWorkflowReplayDeadLetterKeepsCheckpoints: a workflow that fails for good after two
// activities goes to the dead-letter queue; replaying it re-runs its code, and the two
// finished activities are not run again.
func TestWorkflowReplayDeadLetterKeepsCheckpoints(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var actRuns, wfRuns atomic.Int32
	var fail atomic.Bool
	fail.Store(true)
	act := stent.NewActivity("port.act", func(ctx context.Context, n int) (int, error) {
		actRuns.Add(1)
		return n * 10, nil
	}, stent.InRegistry(b.reg))
	wf := stent.NewWorkflow("port.dlq", func(ctx stent.Context, _ string) (int, error) {
		wfRuns.Add(1)
		a, err := act.Call(ctx, 1)
		if err != nil {
			return 0, err
		}
		c, err := act.Call(ctx, 2)
		if err != nil {
			return 0, err
		}
		if fail.Load() {
			return 0, stent.Permanent(errors.New("downstream refused"))
		}
		return a + c, nil
	}, stent.InRegistry(b.reg))
	stenttest.StartWorker(t, b.client, worker.Config{Concurrency: 2})

	id, err := wf.Dispatch(b.ctx, b.client, "x")
	require.NoError(t, err)
	_, err = wf.Wait(b.ctx, b.client, id)
	var ee *stent.ExecutionError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, stent.StateFailed, ee.State)
	dls, err := b.client.ListDeadLetters(b.ctx, stent.DeadLetterListParams{Name: "port.dlq"})
	require.NoError(t, err)
	require.Len(t, dls, 1)

	fail.Store(false)
	_, err = b.client.ReplayDeadLetter(b.ctx, dls[0].ID)
	require.NoError(t, err)
	got, err := wf.Wait(b.ctx, b.client, id)
	require.NoError(t, err)
	require.Equal(t, 30, got)
	require.EqualValues(t, 2, actRuns.Load(), "finished activities kept their results")
}

// TestWorkflowIdempotentDispatch: idempotency keys apply to workflows: 20 concurrent
// dispatches with one key make one execution, whose code runs once.
func TestWorkflowIdempotentDispatch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var runs atomic.Int32
	wf := stent.NewWorkflow("port.idem", func(ctx stent.Context, s string) (string, error) {
		runs.Add(1)
		return s + "!", nil
	}, stent.InRegistry(b.reg))
	ids := make(chan string, 20)
	for range 20 {
		go func() {
			id, err := wf.Dispatch(b.ctx, b.client, "hi", stent.WithIdempotencyKey("order-7"))
			if err != nil {
				ids <- "error: " + err.Error()
				return
			}
			ids <- id.String()
		}()
	}
	first := <-ids
	for range 19 {
		require.Equal(t, first, <-ids)
	}
	stenttest.StartWorker(t, b.client, worker.Config{})
	res, err := wf.Run(b.ctx, b.client, "hi", stent.WithIdempotencyKey("order-7"))
	require.NoError(t, err)
	require.Equal(t, "hi!", res)
	require.EqualValues(t, 1, runs.Load())
	require.Equal(t, 1, b.count(t, "SELECT count(*) FROM stent.executions"))
}

// TestWorkflowDelayedAndWaitTimeout: a delayed workflow stays pending until its start (fake
// clock); Wait honours its context (the Python wait_for expiry), leaving the execution alone.
func TestWorkflowDelayedAndWaitTimeout(t *testing.T) {
	t.Parallel()
	b := setup(t)
	wf := stent.NewWorkflow("port.delayed", func(ctx stent.Context, n int) (int, error) { return n * 2, nil }, stent.InRegistry(b.reg))
	stenttest.StartWorker(t, b.client, worker.Config{PollInterval: 10 * time.Millisecond})
	id, err := wf.Dispatch(b.ctx, b.client, 21, stent.WithDelay(2*time.Second))
	require.NoError(t, err)

	wctx, cancel := context.WithTimeout(b.ctx, 100*time.Millisecond)
	_, err = wf.Wait(wctx, b.client, id)
	cancel()
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Equal(t, stent.StatePending, b.executionState(t, id))

	b.clock.Advance(2 * time.Second)
	got, err := wf.Wait(b.ctx, b.client, id)
	require.NoError(t, err)
	require.Equal(t, 42, got)
}

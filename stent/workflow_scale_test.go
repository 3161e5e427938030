package stent_test

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/stenttest"
	"github.com/stentdev/stent/worker"
)

// TestSuspendedWorkflowsHoldNothing: 1,000 workflows parked on a signal cost no goroutine and
// no worker slot: the worker (20 slots) parks them all, its goroutine count stays flat, and
// it still runs other work at once.
func TestSuspendedWorkflowsHoldNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const n = 1000
	wf := stent.NewWorkflow("scale.parked", func(ctx stent.Context, _ int) (string, error) {
		return stent.WaitSignal[string](ctx, "go", 24*time.Hour)
	}, stent.InRegistry(b.reg))
	quick := stent.NewActivity("scale.quick", func(ctx context.Context, s string) (string, error) { return s, nil }, stent.InRegistry(b.reg))
	ins := make([]int, n)
	_, err := wf.DispatchMany(b.ctx, b.client, ins)
	require.NoError(t, err)
	stenttest.StartWorker(t, b.client, worker.Config{Concurrency: 20})

	pollUntil(t, "all parked", func() bool {
		return b.count(t, "SELECT count(*) FROM stent.tasks WHERE kind = 'signal' AND state = 'waiting'") == n
	})
	goroutines := runtime.NumGoroutine()
	got, err := quick.Run(b.ctx, b.client, "still serving")
	require.NoError(t, err)
	require.Equal(t, "still serving", got)
	require.Less(t, runtime.NumGoroutine(), goroutines+20, "parked workflows have no goroutines")
	require.Equal(t, 0, b.count(t, "SELECT count(*) FROM stent.tasks WHERE state = 'running'"), "and hold no slot")
}

// TestWorkflowReorderedCalls: a replay after a code change that swaps two calls fails the
// execution with the non-determinism error at the first differing position.
func TestWorkflowReorderedCalls(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var attempts atomic.Int32
	step := func(ctx stent.Context, name string) error {
		_, err := stent.Step(ctx, name, func(context.Context) (string, error) { return name, nil })
		return err
	}
	wf := stent.NewWorkflow("scale.reordered", func(ctx stent.Context, _ string) (string, error) {
		first, second := "reserve", "charge"
		if attempts.Add(1) > 1 {
			first, second = second, first // the new deployment swapped them
		}
		_ = step(ctx, first)
		_ = step(ctx, second)
		if attempts.Load() == 1 {
			return "", errors.New("crash before finishing")
		}
		return "done", nil
	}, stent.Retry(stent.RetryPolicy{MaxAttempts: 3, InitialDelay: time.Second, Jitter: stent.NoJitter}), stent.InRegistry(b.reg))
	id, err := wf.Dispatch(b.ctx, b.client, "x")
	require.NoError(t, err)
	stenttest.StartWorker(t, b.client, worker.Config{PollInterval: 10 * time.Millisecond})
	pollUntil(t, "first attempt failed", func() bool { return attempts.Load() >= 1 && b.rootTask(t, id).State == "pending" })
	b.clock.Advance(2 * time.Second)
	_, err = wf.Wait(b.ctx, b.client, id)
	var ee *stent.ExecutionError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, stent.KindNonDeterminism, ee.Err.Kind)
	require.Contains(t, ee.Err.Message, "call 0 is step:charge but step:reserve was recorded there")
}

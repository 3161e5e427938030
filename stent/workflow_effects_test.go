package stent_test

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/stenttest"
	"github.com/stentdev/stent/worker"
)

// TestWorkflowEffectsExactlyOnce: Progress, Incr and SetState apply once per call site even
// though the workflow runs three times (two failed attempts replay them), and Client.Get
// returns them.
func TestWorkflowEffectsExactlyOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var attempts atomic.Int32
	wf := stent.NewWorkflow("wf.effects", func(ctx stent.Context, _ string) (float64, error) {
		a := attempts.Add(1)
		if err := stent.Progress(ctx, "started", map[string]int{"items": 3}); err != nil {
			return 0, err
		}
		v, err := stent.Incr(ctx, "processed", 2)
		if err != nil {
			return 0, err
		}
		if _, err := stent.Incr(ctx, "processed", 1.5); err != nil {
			return 0, err
		}
		if err := stent.SetState(ctx, "phase", "charging"); err != nil {
			return 0, err
		}
		if a < 3 {
			return 0, errors.New("fail after the effects")
		}
		return v, nil
	}, stent.Retry(stent.RetryPolicy{MaxAttempts: 3, InitialDelay: time.Second, Jitter: stent.NoJitter}), stent.InRegistry(b.reg))
	id, err := wf.Dispatch(b.ctx, b.client, "x")
	require.NoError(t, err)
	stenttest.StartWorker(t, b.client, worker.Config{PollInterval: 10 * time.Millisecond})
	for want := int32(1); want <= 2; want++ {
		pollUntil(t, "attempt failed", func() bool { return attempts.Load() >= want && b.rootTask(t, id).State == "pending" })
		b.clock.Advance(10 * time.Second)
	}
	got, err := wf.Wait(b.ctx, b.client, id)
	require.NoError(t, err)
	require.Equal(t, 2.0, got, "the first increment's recorded value")

	e, err := b.client.Get(b.ctx, id)
	require.NoError(t, err)
	require.Equal(t, map[string]float64{"processed": 3.5}, e.Counters, "counted once, not three times")
	require.Len(t, e.Progress, 1)
	require.Equal(t, "started", e.Progress[0].Message)
	require.JSONEq(t, `{"items":3}`, string(e.Progress[0].Detail))
	require.JSONEq(t, `"charging"`, string(e.CustomState["phase"]))
}

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

// TestWorkflowMap: a fan-out of 100 activities returns their outputs in input order, each
// activity runs once, and the workflow runs its code twice: once to fan out, once when the
// last child woke it.
func TestWorkflowMap(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var runs, wfRuns atomic.Int32
	square := stent.NewActivity("wf.square", func(ctx context.Context, n int) (int, error) {
		runs.Add(1)
		return n * n, nil
	}, stent.InRegistry(b.reg))
	wf := stent.NewWorkflow("wf.fanout", func(ctx stent.Context, n int) (int, error) {
		wfRuns.Add(1)
		in := make([]int, n)
		for i := range in {
			in[i] = i
		}
		out, err := square.Map(ctx, in)
		if err != nil {
			return 0, err
		}
		for i, v := range out {
			if v != i*i {
				return 0, fmt.Errorf("item %d is %d", i, v)
			}
		}
		sum := 0
		for _, v := range out {
			sum += v
		}
		return sum, nil
	}, stent.InRegistry(b.reg))
	stenttest.StartWorker(t, b.client, worker.Config{Concurrency: 20})

	got, err := wf.Run(b.ctx, b.client, 100)
	require.NoError(t, err)
	require.Equal(t, 328350, got)
	require.EqualValues(t, 100, runs.Load())
	require.LessOrEqual(t, wfRuns.Load(), int32(3), "woken once when all children finished (plus at most a replay when they finished before it suspended)")
}

// TestWorkflowMapResults: per-item outcomes instead of failing on the first error.
func TestWorkflowMapResults(t *testing.T) {
	t.Parallel()
	b := setup(t)
	check := stent.NewActivity("wf.check", func(ctx context.Context, n int) (int, error) {
		if n%2 == 1 {
			return 0, stent.Permanent(fmt.Errorf("odd %d", n))
		}
		return n, nil
	}, stent.InRegistry(b.reg))
	wf := stent.NewWorkflow("wf.mapresults", func(ctx stent.Context, _ string) ([]string, error) {
		res, err := check.MapResults(ctx, []int{0, 1, 2, 3})
		if err != nil {
			return nil, err
		}
		out := make([]string, len(res))
		for i, r := range res {
			var te *stent.TaskError
			if errors.As(r.Err, &te) {
				out[i] = "error: " + te.Message
			} else {
				out[i] = fmt.Sprint(r.Value)
			}
		}
		return out, nil
	}, stent.InRegistry(b.reg))
	failFast := stent.NewWorkflow("wf.mapfail", func(ctx stent.Context, _ string) (string, error) {
		_, err := check.Map(ctx, []int{2, 3})
		if err == nil {
			return "", errors.New("expected an error")
		}
		return err.Error(), nil
	}, stent.InRegistry(b.reg))
	stenttest.StartWorker(t, b.client, worker.Config{Concurrency: 4})

	got, err := wf.Run(b.ctx, b.client, "x")
	require.NoError(t, err)
	require.Equal(t, []string{"0", "error: odd 1", "2", "error: odd 3"}, got)
	msg, err := failFast.Run(b.ctx, b.client, "x")
	require.NoError(t, err)
	require.Contains(t, msg, "odd 3")
}

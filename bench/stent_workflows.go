package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/stentdev/stent/stent"
)

// stentSteps runs o.workflows workflows of 10 sequential inline steps, then as many of 10
// sequential activities, each batch dispatched in bulk and drained by one worker.
func stentSteps(ctx context.Context, e *env, _ system, o options) (sample, error) {
	inline, err := stentStepRun(ctx, e, o, false)
	if err != nil {
		return nil, fmt.Errorf("inline steps: %w", err)
	}
	acts, err := stentStepRun(ctx, e, o, true)
	if err != nil {
		return nil, fmt.Errorf("activities: %w", err)
	}
	return sample{mInline: inline, mActivities: acts}, nil
}

// stentStepRun returns workflows/s for 10-step workflows, as activities or inline steps.
func stentStepRun(ctx context.Context, e *env, o options, activities bool) (float64, error) {
	reg := stent.NewRegistry()
	var stepRuns atomic.Int64
	act := stent.NewActivity("bench.step", func(ctx context.Context, n int) (int, error) {
		stepRuns.Add(1)
		return n + 1, nil
	}, stent.InRegistry(reg))
	wf := stent.NewWorkflow("bench.steps", func(ctx stent.Context, n int) (int, error) {
		for i := range 10 {
			var err error
			if activities {
				n, err = act.Call(ctx, n)
			} else {
				n, err = stent.Step(ctx, fmt.Sprintf("s%d", i), func(context.Context) (int, error) {
					stepRuns.Add(1)
					return n + 1, nil
				})
			}
			if err != nil {
				return 0, err
			}
		}
		return n, nil
	}, stent.InRegistry(reg))

	r, err := newStentRun(ctx, e, o, reg)
	if err != nil {
		return 0, err
	}
	defer r.close()
	ins := make([]int, o.workflows)
	for i := range ins {
		ins[i] = i
	}
	ids, err := wf.DispatchMany(ctx, r.client, ins)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	stop, err := r.startWorker(ctx, o)
	if err != nil {
		return 0, err
	}
	var werr error
	for i, id := range ids {
		out, err := wf.Wait(ctx, r.client, id)
		if err == nil && out != i+10 {
			err = fmt.Errorf("workflow %d returned %d, want %d", i, out, i+10)
		}
		if err != nil {
			werr = err
			break
		}
	}
	elapsed := time.Since(start)
	if os.Getenv("BENCH_DIAG") != "" {
		printTopStatements(ctx, r.db.pool)
	}
	if err := errors.Join(werr, stop()); err != nil {
		return 0, err
	}
	if got, want := stepRuns.Load(), int64(10*o.workflows); got != want {
		return 0, fmt.Errorf("%d steps ran, want %d (each once)", got, want)
	}
	return float64(o.workflows) / elapsed.Seconds(), nil
}

// stentFanout runs one workflow that maps o.fanout activities and sums their results.
func stentFanout(ctx context.Context, e *env, _ system, o options) (sample, error) {
	reg := stent.NewRegistry()
	t := newTracker(o.fanout)
	act := stent.NewActivity("bench.child", func(ctx context.Context, n int) (int, error) {
		t.ran(n)
		return n, nil
	}, stent.InRegistry(reg))
	wf := stent.NewWorkflow("bench.fanout", func(ctx stent.Context, n int) (int, error) {
		in := make([]int, n)
		for i := range in {
			in[i] = i
		}
		out, err := act.Map(ctx, in)
		if err != nil {
			return 0, err
		}
		sum := 0
		for _, v := range out {
			sum += v
		}
		return sum, nil
	}, stent.InRegistry(reg))
	r, err := newStentRun(ctx, e, o, reg)
	if err != nil {
		return nil, err
	}
	defer r.close()
	stop, err := r.startWorker(ctx, o)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	id, err := wf.Dispatch(ctx, r.client, o.fanout)
	var sum int
	if err == nil {
		sum, err = wf.Wait(ctx, r.client, id)
	}
	elapsed := time.Since(start)
	if err := errors.Join(err, stop(), t.verifyOnce(), checkSum(sum, o.fanout)); err != nil {
		return nil, err
	}
	return sample{mFanout: elapsed.Seconds()}, nil
}

// checkSum checks a fan-out's result: the sum of 0..n-1.
func checkSum(sum, n int) error {
	if want := n * (n - 1) / 2; sum != want {
		return fmt.Errorf("fan-out returned %d, want %d", sum, want)
	}
	return nil
}

package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/worker"
)

// The workflow workloads: -workload workflows runs 2,000 workflows of 10 sequential inline
// steps, 2,000 workflows of 10 sequential activities, and one workflow fanning out to 1,000
// activities, each on a fresh database with one worker of -concurrency slots. Every step and
// activity is counted, and every run checks that each ran exactly once.

var wfReg = stent.NewRegistry()

var (
	wfStepRuns, wfActRuns atomic.Int64
)

var wfAct = stent.NewActivity("bench.wf.act", func(ctx context.Context, n int) (int, error) {
	wfActRuns.Add(1)
	return n + 1, nil
}, stent.InRegistry(wfReg))

var wfSteps = stent.NewWorkflow("bench.wf.steps", func(ctx stent.Context, n int) (int, error) {
	for i := range 10 {
		v, err := stent.Step(ctx, fmt.Sprintf("s%d", i), func(context.Context) (int, error) {
			wfStepRuns.Add(1)
			return n + 1, nil
		})
		if err != nil {
			return 0, err
		}
		n = v
	}
	return n, nil
}, stent.InRegistry(wfReg))

var wfActs = stent.NewWorkflow("bench.wf.activities", func(ctx stent.Context, n int) (int, error) {
	for range 10 {
		v, err := wfAct.Call(ctx, n)
		if err != nil {
			return 0, err
		}
		n = v
	}
	return n, nil
}, stent.InRegistry(wfReg))

var wfFan = stent.NewWorkflow("bench.wf.fanout", func(ctx stent.Context, n int) (int, error) {
	in := make([]int, n)
	for i := range in {
		in[i] = i
	}
	out, err := wfAct.Map(ctx, in)
	if err != nil {
		return 0, err
	}
	return len(out), nil
}, stent.InRegistry(wfReg))

type wfResult struct {
	name    string
	count   int
	elapsed time.Duration
}

func workflows(ctx context.Context, e *env, o options) ([]wfResult, error) {
	var out []wfResult
	run := func(name string, count int, def *stent.Workflow[int, int], input int, wantSteps, wantActs int64) error {
		pool, drop, err := e.freshDB(ctx, o.concurrency+10)
		if err != nil {
			return err
		}
		defer drop()
		client, err := stent.NewClient(pool, stent.Config{Registry: wfReg})
		if err != nil {
			return err
		}
		defer client.Close()
		wfStepRuns.Store(0)
		wfActRuns.Store(0)
		ins := make([]int, count)
		for i := range ins {
			ins[i] = input
		}
		ids, err := def.DispatchMany(ctx, client, ins)
		if err != nil {
			return err
		}
		w, err := worker.New(client, worker.Config{Concurrency: o.concurrency})
		if err != nil {
			return err
		}
		wctx, stop := context.WithCancel(ctx)
		errc := make(chan error, 1)
		start := time.Now()
		go func() { errc <- w.Run(wctx) }()
		for _, id := range ids {
			if _, err := def.Wait(ctx, client, id); err != nil {
				stop()
				<-errc
				return err
			}
		}
		elapsed := time.Since(start)
		stop()
		if err := <-errc; err != nil {
			return err
		}
		if wfStepRuns.Load() != wantSteps || wfActRuns.Load() != wantActs {
			return fmt.Errorf("%s: %d steps and %d activities ran, want %d and %d", name, wfStepRuns.Load(), wfActRuns.Load(), wantSteps, wantActs)
		}
		out = append(out, wfResult{name: name, count: count, elapsed: elapsed})
		return nil
	}
	if err := run("10 inline steps", 2000, wfSteps, 0, 20000, 0); err != nil {
		return nil, err
	}
	if err := run("10 activities", 2000, wfActs, 0, 0, 20000); err != nil {
		return nil, err
	}
	if err := run("fan-out to 1,000 activities", 1, wfFan, 1000, 0, 1000); err != nil {
		return nil, err
	}
	return out, nil
}

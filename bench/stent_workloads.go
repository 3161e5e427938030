package main

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/worker"
)

// The Stent side of the workloads. Each run has its own registry, so that one workload's
// functions never show up in another's claims.

type job struct {
	N int `json:"n"`
}

// stentRun is a fresh database with a migrated Stent schema and a client on it.
type stentRun struct {
	db     *database
	client *stent.Client
}

func newStentRun(ctx context.Context, e *env, o options, reg *stent.Registry) (*stentRun, error) {
	db, err := e.freshDB(ctx, o.concurrency+10)
	if err != nil {
		return nil, err
	}
	if err := stent.Migrate(ctx, db.pool); err != nil {
		db.drop()
		return nil, err
	}
	client, err := stent.NewClient(db.pool, stent.Config{Registry: reg})
	if err != nil {
		db.drop()
		return nil, err
	}
	return &stentRun{db: db, client: client}, nil
}

func (r *stentRun) close() {
	r.client.Close()
	r.db.drop()
}

// startWorker runs a worker until the returned stop function is called; stop returns the
// worker's error.
func (r *stentRun) startWorker(ctx context.Context, o options) (stop func() error, err error) {
	w, err := worker.New(r.client, worker.Config{Concurrency: o.concurrency})
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- w.Run(wctx) }()
	select {
	case <-w.Ready():
	case err := <-errc:
		cancel()
		return nil, err
	}
	return func() error { cancel(); return <-errc }, nil
}

// noopActivity registers bench.noop on reg, recording its runs in t.
func noopActivity(reg *stent.Registry, t *tracker) *stent.Activity[job, struct{}] {
	return stent.NewActivity("bench.noop", func(ctx context.Context, j job) (struct{}, error) {
		t.ran(j.N)
		return struct{}{}, nil
	}, stent.InRegistry(reg))
}

func stentBurndown(ctx context.Context, e *env, _ system, o options) (sample, error) {
	reg, t := stent.NewRegistry(), newTracker(o.jobs)
	noop := noopActivity(reg, t)
	r, err := newStentRun(ctx, e, o, reg)
	if err != nil {
		return nil, err
	}
	defer r.close()
	jobs := make([]job, o.jobs)
	for i := range jobs {
		jobs[i].N = i
	}
	ids, err := noop.DispatchMany(ctx, r.client, jobs)
	if err != nil {
		return nil, err
	}
	vacuum(ctx, r.db.pool, "stent.tasks", "stent.executions")
	before, err := readDBLoad(ctx, r.db.pool)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	stop, err := r.startWorker(ctx, o)
	if err != nil {
		return nil, err
	}
	err = t.wait(ctx, drainTimeout)
	if err == nil {
		// Finished means recorded: wait for the last completion batch to commit.
		_, err = noop.Wait(ctx, r.client, ids[len(ids)-1])
		err = errors.Join(err, pollCount(ctx, r.db.pool, "SELECT /*bench*/ count(*) FROM stent.executions WHERE state = 'completed'", o.jobs, time.Millisecond))
	}
	elapsed := time.Since(start)
	after, lerr := readDBLoad(ctx, r.db.pool)
	if os.Getenv("BENCH_DIAG") != "" {
		printTopStatements(ctx, r.db.pool)
	}
	if err := errors.Join(err, lerr, stop(), t.verifyOnce()); err != nil {
		return nil, err
	}
	s := sample{mRate: float64(o.jobs) / elapsed.Seconds()}
	s.perTask(before, after, o.jobs)
	return s, nil
}

func stentLatency(ctx context.Context, e *env, _ system, o options) (sample, error) {
	reg, t := stent.NewRegistry(), newTracker(o.latencyJobs)
	noop := noopActivity(reg, t)
	r, err := newStentRun(ctx, e, o, reg)
	if err != nil {
		return nil, err
	}
	defer r.close()
	stop, err := r.startWorker(ctx, o)
	if err != nil {
		return nil, err
	}
	err = paced(ctx, o, t, func(i int) error {
		_, err := noop.Dispatch(ctx, r.client, job{N: i})
		return err
	})
	if err == nil {
		err = t.wait(ctx, drainTimeout)
	}
	if os.Getenv("BENCH_DIAG") != "" {
		printTopStatements(ctx, r.db.pool)
	}
	if err := errors.Join(err, stop(), t.verifyOnce()); err != nil {
		return nil, err
	}
	return t.latencySample(), nil
}

// paced calls enqueue(i) for each latency job at o.rate per second, recording in t when
// each enqueue began and how long the call took.
func paced(ctx context.Context, o options, t *tracker, enqueue func(i int) error) error {
	tick := time.NewTicker(time.Duration(float64(time.Second) / o.rate))
	defer tick.Stop()
	for i := range o.latencyJobs {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		}
		t.markEnqueued(i)
		start := time.Now()
		if err := enqueue(i); err != nil {
			return err
		}
		t.calls = append(t.calls, time.Since(start))
	}
	return nil
}

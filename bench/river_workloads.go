package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// The River side of the workloads: River's defaults, or its fastest fetch setting
// (FetchCooldown 1 ms), one client with o.concurrency workers on the default queue.

// riverCompleted counts completed jobs (River records completions in batches after Work
// returns, so a run ends when the database shows them all).
const riverCompleted = "SELECT /*bench*/ count(*) FROM river_job WHERE state = 'completed'"

type riverNoopArgs struct {
	N int `json:"n"`
}

func (riverNoopArgs) Kind() string { return "bench_noop" }

type riverNoopWorker struct {
	river.WorkerDefaults[riverNoopArgs]
	t *tracker
}

func (w *riverNoopWorker) Work(ctx context.Context, job *river.Job[riverNoopArgs]) error {
	w.t.ran(job.Args.N)
	return nil
}

type riverStepsArgs struct {
	N int `json:"n"`
}

func (riverStepsArgs) Kind() string { return "bench_steps" }

// riverStepsWorker runs 10 resumable steps, each committing its checkpoint in a transaction
// of its own (ResumableSetStepTx), River's equivalent of a durable step.
type riverStepsWorker struct {
	river.WorkerDefaults[riverStepsArgs]
	pool  *pgxpool.Pool
	steps atomic.Int64
	t     *tracker
}

func (w *riverStepsWorker) Work(ctx context.Context, job *river.Job[riverStepsArgs]) error {
	for i := range 10 {
		river.ResumableStep(ctx, fmt.Sprintf("s%d", i), nil, func(ctx context.Context) error {
			tx, err := w.pool.Begin(ctx)
			if err != nil {
				return err
			}
			defer func() { _ = tx.Rollback(ctx) }()
			w.steps.Add(1)
			if _, err := river.ResumableSetStepTx[*riverpgxv5.Driver](ctx, tx, job); err != nil {
				return err
			}
			return tx.Commit(ctx)
		})
	}
	w.t.ran(job.Args.N)
	return nil
}

// riverClient migrates River's schema into db and returns a client with workers.
func riverClient(ctx context.Context, db *database, sys system, o options, workers *river.Workers) (*river.Client[pgx.Tx], error) {
	driver := riverpgxv5.New(db.pool)
	migrator, err := rivermigrate.New(driver, nil)
	if err != nil {
		return nil, err
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return nil, err
	}
	cfg := &river.Config{
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		Queues:  map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: o.concurrency}},
		Workers: workers,
	}
	if sys.fast {
		cfg.FetchCooldown = time.Millisecond
	}
	return river.NewClient(driver, cfg)
}

// riverInsertAll inserts jobs args(0..n-1) in bulk.
func riverInsertAll(ctx context.Context, c *river.Client[pgx.Tx], n int, args func(i int) river.JobArgs) error {
	const batch = 5000
	for lo := 0; lo < n; lo += batch {
		params := make([]river.InsertManyParams, 0, batch)
		for i := lo; i < min(lo+batch, n); i++ {
			params = append(params, river.InsertManyParams{Args: args(i)})
		}
		if _, err := c.InsertManyFast(ctx, params); err != nil {
			return err
		}
	}
	return nil
}

// riverNoopRun is a fresh database with River's schema and a client whose no-op worker
// records n jobs in its tracker.
func riverNoopRun(ctx context.Context, e *env, sys system, o options, n int) (*database, *river.Client[pgx.Tx], *tracker, error) {
	db, err := e.freshDB(ctx, o.concurrency+10)
	if err != nil {
		return nil, nil, nil, err
	}
	t := newTracker(n)
	workers := river.NewWorkers()
	river.AddWorker(workers, &riverNoopWorker{t: t})
	c, err := riverClient(ctx, db, sys, o, workers)
	if err != nil {
		db.drop()
		return nil, nil, nil, err
	}
	return db, c, t, nil
}

func riverBurndown(ctx context.Context, e *env, sys system, o options) (sample, error) {
	db, c, t, err := riverNoopRun(ctx, e, sys, o, o.jobs)
	if err != nil {
		return nil, err
	}
	defer db.drop()
	if err := riverInsertAll(ctx, c, o.jobs, func(i int) river.JobArgs { return riverNoopArgs{N: i} }); err != nil {
		return nil, err
	}
	vacuum(ctx, db.pool, "river_job")
	before, err := readDBLoad(ctx, db.pool)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if err := c.Start(ctx); err != nil {
		return nil, err
	}
	err = t.wait(ctx, drainTimeout)
	if err == nil {
		err = pollCount(ctx, db.pool, riverCompleted, o.jobs, time.Millisecond)
	}
	elapsed := time.Since(start)
	after, lerr := readDBLoad(ctx, db.pool)
	if err := errors.Join(err, lerr, c.Stop(ctx), t.verifyOnce()); err != nil {
		return nil, err
	}
	s := sample{mRate: float64(o.jobs) / elapsed.Seconds()}
	s.perTask(before, after, o.jobs)
	return s, nil
}

func riverLatency(ctx context.Context, e *env, sys system, o options) (sample, error) {
	db, c, t, err := riverNoopRun(ctx, e, sys, o, o.latencyJobs)
	if err != nil {
		return nil, err
	}
	defer db.drop()
	if err := c.Start(ctx); err != nil {
		return nil, err
	}
	// Let the client's queue producer start listening before the first insert.
	select {
	case <-time.After(time.Second):
	case <-ctx.Done():
	}
	err = paced(ctx, o, t, func(i int) error {
		_, err := c.Insert(ctx, riverNoopArgs{N: i}, nil)
		return err
	})
	if err == nil {
		err = t.wait(ctx, drainTimeout)
	}
	if err := errors.Join(err, c.Stop(ctx), t.verifyOnce()); err != nil {
		return nil, err
	}
	return t.latencySample(), nil
}

func riverSteps(ctx context.Context, e *env, sys system, o options) (sample, error) {
	db, err := e.freshDB(ctx, 2*o.concurrency+10)
	if err != nil {
		return nil, err
	}
	defer db.drop()
	t := newTracker(o.workflows)
	w := &riverStepsWorker{pool: db.pool, t: t}
	workers := river.NewWorkers()
	river.AddWorker(workers, w)
	c, err := riverClient(ctx, db, sys, o, workers)
	if err != nil {
		return nil, err
	}
	if err := riverInsertAll(ctx, c, o.workflows, func(i int) river.JobArgs { return riverStepsArgs{N: i} }); err != nil {
		return nil, err
	}
	start := time.Now()
	if err := c.Start(ctx); err != nil {
		return nil, err
	}
	err = t.wait(ctx, drainTimeout)
	if err == nil {
		err = pollCount(ctx, db.pool, riverCompleted, o.workflows, time.Millisecond)
	}
	elapsed := time.Since(start)
	if err := errors.Join(err, c.Stop(ctx), t.verifyOnce()); err != nil {
		return nil, err
	}
	if got, want := w.steps.Load(), int64(10*o.workflows); got != want {
		return nil, fmt.Errorf("%d steps ran, want %d", got, want)
	}
	return sample{mWorkflows: float64(o.workflows) / elapsed.Seconds()}, nil
}

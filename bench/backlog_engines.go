package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dbos-inc/dbos-transact-golang/dbos"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/stentdev/stent/stent"
)

// prepareSchema installs the engine's schema in db.
func prepareSchema(ctx context.Context, db *database, peer string) error {
	switch peer {
	case "stent":
		return stent.Migrate(ctx, db.pool)
	case "river":
		migrator, err := rivermigrate.New(riverpgxv5.New(db.pool), nil)
		if err != nil {
			return err
		}
		_, err = migrator.Migrate(ctx, rivermigrate.DirectionUp, nil)
		return err
	case "dbos":
		return dbos.Migrate(ctx, db.url, dbos.WithMigrateLogger(quietLogger))
	}
	return fmt.Errorf("unknown engine %q", peer)
}

// fillBacklog inserts o.backlog pending no-op tasks in bulk.
func fillBacklog(ctx context.Context, db *database, sys system, o options) error {
	if err := prepareSchema(ctx, db, sys.peer); err != nil {
		return err
	}
	switch sys.peer {
	case "stent":
		reg := stent.NewRegistry()
		noop := noopActivity(reg, newTracker(0))
		client, err := stent.NewClient(db.pool, stent.Config{Registry: reg})
		if err != nil {
			return err
		}
		defer client.Close()
		const batch = 10000
		for lo := 0; lo < o.backlog; lo += batch {
			jobs := make([]job, 0, batch)
			for i := lo; i < min(lo+batch, o.backlog); i++ {
				jobs = append(jobs, job{N: i})
			}
			if _, err := noop.DispatchMany(ctx, client, jobs); err != nil {
				return err
			}
		}
		vacuum(ctx, db.pool, "stent.tasks", "stent.executions")
	case "river":
		c, err := river.NewClient(riverpgxv5.New(db.pool), &river.Config{Logger: quietLogger})
		if err != nil {
			return err
		}
		if err := riverInsertAll(ctx, c, o.backlog, func(i int) river.JobArgs { return riverNoopArgs{N: i} }); err != nil {
			return err
		}
		vacuum(ctx, db.pool, "river_job")
	case "dbos":
		r := &dbosRun{db: db}
		if _, err := r.enqueueAll(ctx, "bench.noop", o.backlog); err != nil {
			return err
		}
		vacuum(ctx, db.pool, "dbos.workflow_status")
	}
	return nil
}

// childPool opens the child's pool on the run's database.
func childPool(ctx context.Context, url string, o options) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = int32(o.concurrency + 10)
	return pgxpool.NewWithConfig(ctx, cfg)
}

// childBacklog drains n pending no-op tasks with one worker and reports the claim rate and
// peak RSS.
func childBacklog(ctx context.Context, url string, sys system, o options, n int) (childReport, error) {
	pool, err := childPool(ctx, url, o)
	if err != nil {
		return childReport{}, err
	}
	defer pool.Close()
	t := newTracker(n)
	rss := sampleRSS()
	start := time.Now()
	var stop func() error
	switch sys.peer {
	case "stent":
		reg := stent.NewRegistry()
		noopActivity(reg, t)
		client, err := stent.NewClient(pool, stent.Config{Registry: reg})
		if err != nil {
			return childReport{}, err
		}
		defer client.Close()
		r := &stentRun{client: client}
		stop, err = r.startWorker(ctx, o)
		if err != nil {
			return childReport{}, err
		}
	case "river":
		workers := river.NewWorkers()
		river.AddWorker(workers, &riverNoopWorker{t: t})
		c, err := riverClient(ctx, &database{pool: pool}, sys, o, workers)
		if err != nil {
			return childReport{}, err
		}
		if err := c.Start(ctx); err != nil {
			return childReport{}, err
		}
		stop = func() error { return c.Stop(ctx) }
	case "dbos":
		dctx, err := dbosExecutor(ctx, pool, sys, o)
		if err != nil {
			return childReport{}, err
		}
		dbos.RegisterWorkflow(dctx, func(ctx dbos.Context, n int) (int, error) {
			t.ran(n)
			return n, nil
		}, dbos.WithWorkflowName("bench.noop"))
		if err := dbos.Launch(dctx); err != nil {
			return childReport{}, err
		}
		stop = func() error { return dbos.Shutdown(dctx, 10*time.Second) }
	}
	err = t.wait(ctx, drainTimeout)
	elapsed := time.Since(start)
	peak := rss.peak()
	if err := errors.Join(err, stop(), t.verifyOnce()); err != nil {
		return childReport{}, err
	}
	return childReport{Rate: float64(n) / elapsed.Seconds(), RSSMB: peak}, nil
}

// dbosExecutor returns a DBOS executor context on pool with the benchmark's queue.
func dbosExecutor(ctx context.Context, pool *pgxpool.Pool, sys system, o options) (dbos.Context, error) {
	dctx, err := dbos.NewContext(ctx, dbos.Config{AppName: "bench", SystemDBPool: pool, Logger: quietLogger})
	if err != nil {
		return nil, err
	}
	qopts := []dbos.QueueOption{dbos.WithWorkerConcurrency(o.concurrency)}
	if sys.fast {
		qopts = append(qopts, dbos.WithQueueBasePollingInterval(time.Millisecond))
	}
	if _, err := dbos.RegisterQueue(dctx, dbosQueue, qopts...); err != nil {
		return nil, err
	}
	return dctx, nil
}

// childSuspended starts n workflows that each wait for a signal, reports goroutines and RSS
// once all wait, then signals them and checks their results.
func childSuspended(ctx context.Context, url string, sys system, o options, n int) (childReport, error) {
	pool, err := childPool(ctx, url, o)
	if err != nil {
		return childReport{}, err
	}
	defer pool.Close()
	switch sys.peer {
	case "stent":
		return stentSuspended(ctx, pool, o, n)
	case "dbos":
		return dbosSuspended(ctx, pool, sys, o, n)
	}
	return childReport{}, fmt.Errorf("no suspended workload for %s", sys.peer)
}

func stentSuspended(ctx context.Context, pool *pgxpool.Pool, o options, n int) (childReport, error) {
	reg := stent.NewRegistry()
	wf := stent.NewWorkflow("bench.waiter", func(ctx stent.Context, i int) (int, error) {
		v, err := stent.WaitSignal[int](ctx, "go", time.Hour)
		return i + v, err
	}, stent.InRegistry(reg))
	client, err := stent.NewClient(pool, stent.Config{Registry: reg})
	if err != nil {
		return childReport{}, err
	}
	defer client.Close()
	ins := make([]int, n)
	for i := range ins {
		ins[i] = i
	}
	ids, err := wf.DispatchMany(ctx, client, ins)
	if err != nil {
		return childReport{}, err
	}
	stop, err := (&stentRun{client: client}).startWorker(ctx, o)
	if err != nil {
		return childReport{}, err
	}
	defer func() { _ = stop() }()
	if err := pollCount(ctx, pool, "SELECT /*bench*/ count(*) FROM stent.tasks WHERE state = 'waiting' AND kind = 'signal'", n, 10*time.Millisecond); err != nil {
		return childReport{}, err
	}
	rep := childReport{Goroutines: settle(), RSSMB: procStatusKB("VmRSS") / 1024}
	for _, id := range ids {
		if err := client.Signal(ctx, id, "go", 1); err != nil {
			return rep, err
		}
	}
	for i, id := range ids {
		if v, err := wf.Wait(ctx, client, id); err != nil || v != i+1 {
			return rep, errors.Join(err, fmt.Errorf("waiter %d returned %d, want %d", i, v, i+1))
		}
	}
	return rep, nil
}

func dbosSuspended(ctx context.Context, pool *pgxpool.Pool, sys system, o options, n int) (childReport, error) {
	dctx, err := dbosExecutor(ctx, pool, sys, o)
	if err != nil {
		return childReport{}, err
	}
	defer func() { _ = dbos.Shutdown(dctx, 10*time.Second) }()
	waiter := func(ctx dbos.Context, i int) (int, error) {
		v, err := dbos.Recv[int](ctx, "go", time.Hour)
		return i + v, err
	}
	dbos.RegisterWorkflow(dctx, waiter, dbos.WithWorkflowName("bench.waiter"))
	if err := dbos.Launch(dctx); err != nil {
		return childReport{}, err
	}
	handles := make([]dbos.WorkflowHandle[int], n)
	for i := range handles {
		id := uuid.NewString()
		h, err := dbos.RunWorkflow(dctx, waiter, i, dbos.WithWorkflowID(id))
		if err != nil {
			return childReport{}, err
		}
		handles[i] = h
	}
	// Recv records its wait in notifications state; every workflow has started once each
	// has its status row PENDING and its Recv step registered.
	if err := pollCount(ctx, pool, "SELECT /*bench*/ count(*) FROM dbos.workflow_status WHERE status = 'PENDING' AND name = 'bench.waiter'", n, 10*time.Millisecond); err != nil {
		return childReport{}, err
	}
	rep := childReport{Goroutines: settle(), RSSMB: procStatusKB("VmRSS") / 1024}
	for _, h := range handles {
		if err := dbos.Send(dctx, h.GetWorkflowID(), 1, "go"); err != nil {
			return rep, err
		}
	}
	for i, h := range handles {
		if v, err := h.GetResult(); err != nil || v != i+1 {
			return rep, errors.Join(err, fmt.Errorf("waiter %d returned %d, want %d", i, v, i+1))
		}
	}
	return rep, nil
}

// pollCount polls query every interval until it returns want (or drainTimeout passes).
func pollCount(ctx context.Context, pool *pgxpool.Pool, query string, want int, every time.Duration) error {
	deadline := time.Now().Add(drainTimeout)
	for {
		var got int
		if err := pool.QueryRow(ctx, query).Scan(&got); err != nil {
			return err
		}
		if got == want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d reached (%s)", got, want, query)
		}
		time.Sleep(every)
	}
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dbos-inc/dbos-transact-golang/dbos"
)

// The DBOS side of the workloads: one DBOS executor with a queue of o.concurrency worker
// concurrency, with DBOS's default queue polling (1 s) or its fastest (1 ms). Work is
// enqueued on the queue (DBOS's distributed path), in bulk through a DBOS client where the
// workload inserts before the worker starts.

const dbosQueue = "bench"

// dbosSucceeded counts the workflows recorded SUCCESS.
const dbosSucceeded = "SELECT /*bench*/ count(*) FROM dbos.workflow_status WHERE status = 'SUCCESS'"

var quietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// dbosRun is a fresh database with DBOS's schema and an executor context (not launched).
type dbosRun struct {
	db    *database
	ctx   dbos.Context
	queue dbos.Queue
}

func newDBOSRun(ctx context.Context, e *env, sys system, o options, conns int) (*dbosRun, error) {
	db, err := e.freshDB(ctx, conns)
	if err != nil {
		return nil, err
	}
	if err := dbos.Migrate(ctx, db.url, dbos.WithMigrateLogger(quietLogger)); err != nil {
		db.drop()
		return nil, fmt.Errorf("dbos migrate: %w", err)
	}
	dctx, err := dbos.NewContext(ctx, dbos.Config{AppName: "bench", SystemDBPool: db.pool, Logger: quietLogger})
	if err != nil {
		db.drop()
		return nil, err
	}
	qopts := []dbos.QueueOption{dbos.WithWorkerConcurrency(o.concurrency)}
	if sys.fast {
		qopts = append(qopts, dbos.WithQueueBasePollingInterval(time.Millisecond))
	}
	q, err := dbos.RegisterQueue(dctx, dbosQueue, qopts...)
	if err != nil {
		db.drop()
		return nil, err
	}
	return &dbosRun{db: db, ctx: dctx, queue: q}, nil
}

func (r *dbosRun) close() {
	_ = dbos.Shutdown(r.ctx, 10*time.Second)
	r.db.drop()
}

// enqueueAll enqueues workflow name with inputs 0..n-1 through a DBOS client, 32 at a time
// (DBOS has no bulk enqueue).
func (r *dbosRun) enqueueAll(ctx context.Context, name string, n int) ([]dbos.WorkflowHandle[int], error) {
	client, err := dbos.NewClient(ctx, dbos.ClientConfig{AppName: "bench", DatabaseURL: r.db.url, Logger: quietLogger})
	if err != nil {
		return nil, err
	}
	defer func() { _ = dbos.Shutdown(client, 10*time.Second) }()
	handles := make([]dbos.WorkflowHandle[int], n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range 32 {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				h, err := dbos.Enqueue[int](client, dbosQueue, name, i)
				if err != nil {
					mu.Lock()
					firstErr = cmpErr(firstErr, err)
					mu.Unlock()
					return
				}
				handles[i] = h
			}
		})
	}
	wg.Wait()
	return handles, firstErr
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func dbosBurndown(ctx context.Context, e *env, sys system, o options) (sample, error) {
	r, err := newDBOSRun(ctx, e, sys, o, o.concurrency+10)
	if err != nil {
		return nil, err
	}
	defer r.close()
	t := newTracker(o.jobs)
	dbos.RegisterWorkflow(r.ctx, func(ctx dbos.Context, n int) (int, error) {
		t.ran(n)
		return n, nil
	}, dbos.WithWorkflowName("bench.noop"))
	if _, err := r.enqueueAll(ctx, "bench.noop", o.jobs); err != nil {
		return nil, err
	}
	vacuum(ctx, r.db.pool, "dbos.workflow_status")
	before, err := readDBLoad(ctx, r.db.pool)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if err := dbos.Launch(r.ctx); err != nil {
		return nil, err
	}
	err = t.wait(ctx, drainTimeout)
	if err == nil {
		err = pollCount(ctx, r.db.pool, dbosSucceeded, o.jobs, time.Millisecond)
	}
	elapsed := time.Since(start)
	after, lerr := readDBLoad(ctx, r.db.pool)
	if err := errors.Join(err, lerr, t.verifyOnce()); err != nil {
		return nil, err
	}
	s := sample{mRate: float64(o.jobs) / elapsed.Seconds()}
	s.perTask(before, after, o.jobs)
	return s, nil
}

func dbosLatency(ctx context.Context, e *env, sys system, o options) (sample, error) {
	r, err := newDBOSRun(ctx, e, sys, o, o.concurrency+10)
	if err != nil {
		return nil, err
	}
	defer r.close()
	t := newTracker(o.latencyJobs)
	noop := func(ctx dbos.Context, n int) (int, error) {
		t.ran(n)
		return n, nil
	}
	dbos.RegisterWorkflow(r.ctx, noop, dbos.WithWorkflowName("bench.noop"))
	if err := dbos.Launch(r.ctx); err != nil {
		return nil, err
	}
	err = paced(ctx, o, t, func(i int) error {
		_, err := dbos.RunWorkflow(r.ctx, noop, i, dbos.WithQueue(r.queue))
		return err
	})
	if err == nil {
		err = t.wait(ctx, drainTimeout)
	}
	if err := errors.Join(err, t.verifyOnce()); err != nil {
		return nil, err
	}
	return t.latencySample(), nil
}

// dbosSteps runs o.workflows workflows of 10 RunAsStep steps twice: enqueued in bulk on the
// queue (DBOS's distributed path, like Stent's and River's), and started directly in the
// executor's process with RunWorkflow (DBOS's fastest path, no queue).
func dbosSteps(ctx context.Context, e *env, sys system, o options) (sample, error) {
	queued, err := dbosStepRun(ctx, e, sys, o, true)
	if err != nil {
		return nil, fmt.Errorf("queued: %w", err)
	}
	direct, err := dbosStepRun(ctx, e, sys, o, false)
	if err != nil {
		return nil, fmt.Errorf("direct: %w", err)
	}
	return sample{mWorkflows: queued, mDirect: direct}, nil
}

func dbosStepRun(ctx context.Context, e *env, sys system, o options, queued bool) (float64, error) {
	r, err := newDBOSRun(ctx, e, sys, o, o.concurrency+10)
	if err != nil {
		return 0, err
	}
	defer r.close()
	var steps atomic.Int64
	wf := func(ctx dbos.Context, n int) (int, error) {
		for range 10 {
			v, err := dbos.RunAsStep(ctx, func(context.Context) (int, error) {
				steps.Add(1)
				return n + 1, nil
			})
			if err != nil {
				return 0, err
			}
			n = v
		}
		return n, nil
	}
	dbos.RegisterWorkflow(r.ctx, wf, dbos.WithWorkflowName("bench.steps"))
	var ids []string
	if queued {
		handles, err := r.enqueueAll(ctx, "bench.steps", o.workflows)
		if err != nil {
			return 0, err
		}
		for _, h := range handles {
			ids = append(ids, h.GetWorkflowID())
		}
	}
	start := time.Now()
	if err := dbos.Launch(r.ctx); err != nil {
		return 0, err
	}
	if !queued {
		for i := range o.workflows {
			h, err := dbos.RunWorkflow(r.ctx, wf, i)
			if err != nil {
				return 0, err
			}
			ids = append(ids, h.GetWorkflowID())
		}
	}
	if err := pollCount(ctx, r.db.pool, dbosSucceeded, o.workflows, time.Millisecond); err != nil {
		return 0, err
	}
	elapsed := time.Since(start)
	for i, id := range ids {
		// Read each result through the executor (the enqueuing client is gone).
		h, err := dbos.RetrieveWorkflow[int](r.ctx, id)
		if err != nil {
			return 0, err
		}
		out, err := h.GetResult()
		if err == nil && out != i+10 {
			err = fmt.Errorf("workflow %d returned %d, want %d", i, out, i+10)
		}
		if err != nil {
			return 0, err
		}
	}
	if got, want := steps.Load(), int64(10*o.workflows); got != want {
		return 0, fmt.Errorf("%d steps ran, want %d (each once)", got, want)
	}
	return float64(o.workflows) / elapsed.Seconds(), nil
}

func dbosFanout(ctx context.Context, e *env, sys system, o options) (sample, error) {
	r, err := newDBOSRun(ctx, e, sys, o, o.concurrency+10)
	if err != nil {
		return nil, err
	}
	defer r.close()
	t := newTracker(o.fanout)
	child := func(ctx dbos.Context, n int) (int, error) {
		t.ran(n)
		return n, nil
	}
	dbos.RegisterWorkflow(r.ctx, child, dbos.WithWorkflowName("bench.child"))
	parent := func(ctx dbos.Context, n int) (int, error) {
		handles := make([]dbos.WorkflowHandle[int], n)
		for i := range handles {
			h, err := dbos.RunWorkflow(ctx, child, i, dbos.WithQueue(r.queue))
			if err != nil {
				return 0, err
			}
			handles[i] = h
		}
		sum := 0
		for _, h := range handles {
			v, err := h.GetResult()
			if err != nil {
				return 0, err
			}
			sum += v
		}
		return sum, nil
	}
	dbos.RegisterWorkflow(r.ctx, parent, dbos.WithWorkflowName("bench.fanout"))
	if err := dbos.Launch(r.ctx); err != nil {
		return nil, err
	}
	start := time.Now()
	h, err := dbos.RunWorkflow(r.ctx, parent, o.fanout)
	var sum int
	if err == nil {
		sum, err = h.GetResult()
	}
	elapsed := time.Since(start)
	if err := errors.Join(err, t.verifyOnce(), checkSum(sum, o.fanout)); err != nil {
		return nil, err
	}
	return sample{mFanout: elapsed.Seconds()}, nil
}

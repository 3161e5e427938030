package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/worker"
)

type job struct {
	N int `json:"n"`
}

// runs counts executions per job number; latencies records enqueue-to-start per job.
var (
	runs      []atomic.Int32
	started   []atomic.Int64 // nanoseconds since base when the job was enqueued
	latencies []atomic.Int64 // nanoseconds from enqueue to start
	done      atomic.Int64
	base      = time.Now()
)

var noop = stent.NewActivity("bench.noop", func(ctx context.Context, j job) (struct{}, error) {
	if j.N < len(started) {
		if s := started[j.N].Load(); s > 0 {
			latencies[j.N].Store(int64(time.Since(base)) - s)
		}
	}
	runs[j.N].Add(1)
	done.Add(1)
	return struct{}{}, nil
})

func reset(n int) {
	runs = make([]atomic.Int32, n)
	started = make([]atomic.Int64, n)
	latencies = make([]atomic.Int64, n)
	done.Store(0)
}

type burndownResult struct {
	elapsed           time.Duration
	rate              float64
	statementsPerTask float64
	walPerTask        float64
}

func burndown(ctx context.Context, e *env, o options) (burndownResult, error) {
	pool, drop, err := e.freshDB(ctx, o.concurrency+10)
	if err != nil {
		return burndownResult{}, err
	}
	defer drop()
	client, err := stent.NewClient(pool, stent.Config{})
	if err != nil {
		return burndownResult{}, err
	}
	defer client.Close()
	reset(o.jobs)
	jobs := make([]job, o.jobs)
	for i := range jobs {
		jobs[i].N = i
	}
	if _, err := noop.DispatchMany(ctx, client, jobs); err != nil {
		return burndownResult{}, err
	}
	_, _ = pool.Exec(ctx, "VACUUM ANALYZE stent.tasks")
	_, _ = pool.Exec(ctx, "VACUUM ANALYZE stent.executions")
	before, err := snapshot(ctx, pool)
	if err != nil {
		return burndownResult{}, err
	}

	w, err := worker.New(client, worker.Config{Concurrency: o.concurrency})
	if err != nil {
		return burndownResult{}, err
	}
	wctx, stop := context.WithCancel(ctx)
	errc := make(chan error, 1)
	start := time.Now()
	go func() { errc <- w.Run(wctx) }()
	if err := waitCompleted(ctx, pool, o.jobs); err != nil {
		stop()
		return burndownResult{}, err
	}
	elapsed := time.Since(start)
	after, err := snapshot(ctx, pool)
	if os.Getenv("BENCH_DIAG") != "" {
		rows, _ := pool.Query(ctx, `SELECT calls, round(total_exec_time::numeric,1), round(mean_exec_time::numeric,3), left(regexp_replace(query, '\s+', ' ', 'g'), 70) FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) ORDER BY total_exec_time DESC LIMIT 8`)
		for rows.Next() {
			var c int64
			var tot, mean float64
			var q string
			_ = rows.Scan(&c, &tot, &mean, &q)
			fmt.Printf("  %6d calls %8.1f ms total %7.3f ms mean  %s\n", c, tot, mean, q)
		}
		rows.Close()
	}
	stop()
	if werr := <-errc; werr != nil {
		return burndownResult{}, werr
	}
	if err != nil {
		return burndownResult{}, err
	}
	if err := verifyOnce(o.jobs); err != nil {
		return burndownResult{}, err
	}
	return burndownResult{
		elapsed:           elapsed,
		rate:              float64(o.jobs) / elapsed.Seconds(),
		statementsPerTask: float64(after.calls-before.calls) / float64(o.jobs),
		walPerTask:        float64(after.wal-before.wal) / float64(o.jobs),
	}, nil
}

type latencyResult struct{ p50, p95, p99 float64 }

func latency(ctx context.Context, e *env, o options) (latencyResult, error) {
	pool, drop, err := e.freshDB(ctx, o.concurrency+10)
	if err != nil {
		return latencyResult{}, err
	}
	defer drop()
	client, err := stent.NewClient(pool, stent.Config{})
	if err != nil {
		return latencyResult{}, err
	}
	defer client.Close()
	reset(o.latencyJobs)
	w, err := worker.New(client, worker.Config{Concurrency: o.concurrency})
	if err != nil {
		return latencyResult{}, err
	}
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- w.Run(wctx) }()
	<-w.Ready()

	tick := time.NewTicker(time.Duration(float64(time.Second) / o.rate))
	defer tick.Stop()
	for i := range o.latencyJobs {
		<-tick.C
		started[i].Store(int64(time.Since(base)))
		if _, err := noop.Dispatch(ctx, client, job{N: i}); err != nil {
			return latencyResult{}, err
		}
	}
	if err := waitCompleted(ctx, pool, o.latencyJobs); err != nil {
		return latencyResult{}, err
	}
	stop()
	if err := <-errc; err != nil {
		return latencyResult{}, err
	}
	if err := verifyOnce(o.latencyJobs); err != nil {
		return latencyResult{}, err
	}
	lat := make([]time.Duration, o.latencyJobs)
	for i := range lat {
		lat[i] = time.Duration(latencies[i].Load())
	}
	slices.Sort(lat)
	return latencyResult{p50: percentile(lat, 0.50), p95: percentile(lat, 0.95), p99: percentile(lat, 0.99)}, nil
}

// waitCompleted waits until every job ran in-process and the database shows every execution
// completed (completions are written in batches after the functions return).
func waitCompleted(ctx context.Context, pool *pgxpool.Pool, n int) error {
	deadline := time.Now().Add(10 * time.Minute)
	for done.Load() < int64(n) {
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d jobs ran", done.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
	for {
		var completed int
		if err := pool.QueryRow(ctx, "SELECT count(*) /*bench*/ FROM stent.executions WHERE state = 'completed'").Scan(&completed); err != nil {
			return err
		}
		if completed == n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d executions completed", completed, n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func verifyOnce(n int) error {
	for i := range n {
		if c := runs[i].Load(); c != 1 {
			return fmt.Errorf("job %d ran %d times", i, c)
		}
	}
	return nil
}

type stat struct {
	calls int64
	wal   int64
}

// snapshot reads the statement count (pg_stat_statements, this database, excluding the
// benchmark's own queries) and the WAL position.
func snapshot(ctx context.Context, pool *pgxpool.Pool) (stat, error) {
	var s stat
	err := pool.QueryRow(ctx, `SELECT
		coalesce((SELECT sum(calls)::bigint FROM pg_stat_statements
		          WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
		            AND query NOT LIKE '%bench%' AND query NOT LIKE '%pg_stat_statements%'
		            AND query NOT LIKE '%pg_current_wal_lsn%'), 0),
		pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint`).Scan(&s.calls, &s.wal)
	return s, err
}

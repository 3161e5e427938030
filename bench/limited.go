package main

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/worker"
)

// The limited workload: a burn-down of no-op activities (bench.noop) with a concurrency-
// limited function (bench.limited, MaxConcurrent) queued ahead of them in the same queue, on
// one worker. It measures what the limit costs the other function (its tasks/s against the
// plain burn-down), that limited tasks do not hide the others, and that the limited function
// runs at its limit and never above it: its running count is polled from SQL throughout.

const (
	limitedMax  = 5                    // bench.limited's MaxConcurrent
	limitedWork = 5 * time.Millisecond // each bench.limited attempt's simulated I/O
	limitedPoll = time.Millisecond     // interval of the SQL check of the running count
)

// limitedRuns counts executions per bench.limited job; limitedInFlight is how many run in
// this process now, limitedPeak the most seen.
var (
	noopRuns        []atomic.Int32 // bench.noop of this workload
	noopDone        atomic.Int64
	limitedRuns     []atomic.Int32
	limitedDone     atomic.Int64
	limitedInFlight atomic.Int64
	limitedPeak     atomic.Int64
)

// The workload's own registry: registering bench.limited in DefaultRegistry would give the
// other workloads' workers a limited function too, and so a row in stent.limits.
var limitedReg = stent.NewRegistry()

// limitedNoop is bench.noop (the same counters) in the workload's registry.
var limitedNoop = stent.NewActivity("bench.noop", func(ctx context.Context, j job) (struct{}, error) {
	noopRuns[j.N].Add(1)
	noopDone.Add(1)
	return struct{}{}, nil
}, stent.InRegistry(limitedReg))

var limitedAct = stent.NewActivity("bench.limited", func(ctx context.Context, j job) (struct{}, error) {
	n := limitedInFlight.Add(1)
	for p := limitedPeak.Load(); n > p && !limitedPeak.CompareAndSwap(p, n); p = limitedPeak.Load() {
	}
	time.Sleep(limitedWork)
	limitedInFlight.Add(-1)
	limitedRuns[j.N].Add(1)
	limitedDone.Add(1)
	return struct{}{}, nil
}, stent.MaxConcurrent(limitedMax), stent.InRegistry(limitedReg))

type limitedResult struct {
	unlimitedElapsed   time.Duration // until every bench.noop execution completed
	unlimitedRate      float64       // bench.noop tasks/s
	limitedElapsed     time.Duration // until every bench.limited execution completed
	limitedRate        float64       // bench.limited tasks/s
	maxRunningSQL      int           // most bench.limited tasks in state running, polled from SQL
	maxInFlight        int           // most bench.limited attempts executing at once in the worker
	polls              int           // SQL polls of the running count
	meanRunningSQL     float64       // mean of the polled running counts
	limitedAtUnlimited int           // bench.limited jobs done when every bench.noop was
}

func limited(ctx context.Context, e *env, o options) (limitedResult, error) {
	db, err := e.freshDB(ctx, o.concurrency+10)
	if err != nil {
		return limitedResult{}, err
	}
	defer db.drop()
	pool := db.pool
	if err := stent.Migrate(ctx, pool); err != nil {
		return limitedResult{}, err
	}
	client, err := stent.NewClient(pool, stent.Config{Registry: limitedReg})
	if err != nil {
		return limitedResult{}, err
	}
	defer client.Close()
	noopRuns = make([]atomic.Int32, o.jobs)
	noopDone.Store(0)
	limitedRuns = make([]atomic.Int32, o.limitedJobs)
	limitedDone.Store(0)
	limitedPeak.Store(0)

	// The limited tasks go in first: in claim order (priority, run_at, id) they are ahead of
	// every no-op task.
	lj := make([]job, o.limitedJobs)
	for i := range lj {
		lj[i].N = i
	}
	if _, err := limitedAct.DispatchMany(ctx, client, lj); err != nil {
		return limitedResult{}, err
	}
	jobs := make([]job, o.jobs)
	for i := range jobs {
		jobs[i].N = i
	}
	if _, err := limitedNoop.DispatchMany(ctx, client, jobs); err != nil {
		return limitedResult{}, err
	}
	_, _ = pool.Exec(ctx, "VACUUM ANALYZE stent.tasks")
	_, _ = pool.Exec(ctx, "VACUUM ANALYZE stent.executions")

	if o.control {
		// The control run: the same work with bench.limited's limit overridden to none.
		if err := client.SetLimits(ctx, "bench.limited", stent.Limits{}); err != nil {
			return limitedResult{}, err
		}
	}
	w, err := worker.New(client, worker.Config{Concurrency: o.concurrency})
	if err != nil {
		return limitedResult{}, err
	}
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	errc := make(chan error, 1)
	pctx, stopPoll := context.WithCancel(ctx)
	pollc := make(chan pollResult, 1)
	go func() { pollc <- pollRunning(pctx, pool) }()
	start := time.Now()
	go func() { errc <- w.Run(wctx) }()

	var r limitedResult
	if err := waitDone(ctx, pool, "bench.noop", &noopDone, o.jobs); err != nil {
		stopPoll()
		return r, err
	}
	r.unlimitedElapsed = time.Since(start)
	r.limitedAtUnlimited = int(limitedDone.Load())
	if err := waitDone(ctx, pool, "bench.limited", &limitedDone, o.limitedJobs); err != nil {
		stopPoll()
		return r, err
	}
	r.limitedElapsed = time.Since(start)
	stopPoll()
	if os.Getenv("BENCH_DIAG") != "" {
		printTopStatements(ctx, pool)
	}
	pr := <-pollc
	stop()
	if err := <-errc; err != nil {
		return r, err
	}
	if pr.err != nil {
		return r, pr.err
	}
	for i := range noopRuns {
		if c := noopRuns[i].Load(); c != 1 {
			return r, fmt.Errorf("job %d ran %d times", i, c)
		}
	}
	for i := range limitedRuns {
		if c := limitedRuns[i].Load(); c != 1 {
			return r, fmt.Errorf("limited job %d ran %d times", i, c)
		}
	}
	r.unlimitedRate = float64(o.jobs) / r.unlimitedElapsed.Seconds()
	r.limitedRate = float64(o.limitedJobs) / r.limitedElapsed.Seconds()
	r.maxRunningSQL, r.polls, r.maxInFlight = pr.max, pr.polls, int(limitedPeak.Load())
	if pr.polls > 0 {
		r.meanRunningSQL = float64(pr.sum) / float64(pr.polls)
	}
	if !o.control && (r.maxRunningSQL > limitedMax || r.maxInFlight > limitedMax) {
		return r, fmt.Errorf("limit of %d exceeded: %d running in SQL, %d in flight", limitedMax, r.maxRunningSQL, r.maxInFlight)
	}
	return r, nil
}

type pollResult struct {
	max, polls, sum int
	err             error
}

// pollRunning reads bench.limited's running count from SQL every limitedPoll until ctx
// ends, and returns the largest and their sum. (As fast as one connection allows would take a whole core
// of the server away from the workload.)
func pollRunning(ctx context.Context, pool *pgxpool.Pool) pollResult {
	var r pollResult
	for ctx.Err() == nil {
		var n int
		err := pool.QueryRow(ctx, "SELECT count(*) /*bench*/ FROM stent.tasks WHERE state = 'running' AND name = 'bench.limited'").Scan(&n)
		if err != nil {
			if ctx.Err() == nil {
				r.err = err
			}
			break
		}
		r.polls++
		r.sum += n
		r.max = max(r.max, n)
		time.Sleep(limitedPoll)
	}
	return r
}

// waitDone waits until counter reaches n in-process and the database shows n completed
// executions of the function (completions are written in batches after the functions return).
func waitDone(ctx context.Context, pool *pgxpool.Pool, name string, counter *atomic.Int64, n int) error {
	deadline := time.Now().Add(10 * time.Minute)
	for counter.Load() < int64(n) {
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d %s jobs ran", counter.Load(), n, name)
		}
		time.Sleep(time.Millisecond)
	}
	for {
		var completed int
		if err := pool.QueryRow(ctx, "SELECT count(*) /*bench*/ FROM stent.executions WHERE state = 'completed' AND workflow = $1",
			name).Scan(&completed); err != nil {
			return err
		}
		if completed == n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d %s executions completed", completed, n, name)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// runLimited runs the limited workload o.runs times and prints each run and the medians.
func runLimited(ctx context.Context, e *env, o options) {
	var rates, limitedRates []float64
	for i := range o.runs {
		r, err := limited(ctx, e, o)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench: limited:", err)
			os.Exit(1)
		}
		fmt.Printf("limited run %d: %d unlimited tasks in %s = %.0f tasks/s (%d limited done by then); "+
			"%d limited tasks in %s = %.0f tasks/s (ideal %.0f); running in SQL: max %d, mean %.2f (%d polls); "+
			"max %d in flight (limit %d)\n",
			i+1, o.jobs, r.unlimitedElapsed.Round(time.Millisecond), r.unlimitedRate, r.limitedAtUnlimited, o.limitedJobs,
			r.limitedElapsed.Round(time.Millisecond), r.limitedRate, limitedMax/limitedWork.Seconds(),
			r.maxRunningSQL, r.meanRunningSQL, r.polls, r.maxInFlight, limitedMax)
		rates, limitedRates = append(rates, r.unlimitedRate), append(limitedRates, r.limitedRate)
	}
	med, lo, hi := summary(rates)
	lmed, llo, lhi := summary(limitedRates)
	fmt.Printf("limited: unlimited median %.0f tasks/s (min %.0f, max %.0f); limited median %.0f tasks/s (min %.0f, max %.0f)\n",
		med, lo, hi, lmed, llo, lhi)
}

// printTopStatements prints the statements that took the most server time (BENCH_DIAG=1).
func printTopStatements(ctx context.Context, pool *pgxpool.Pool) {
	rs, err := pool.Query(ctx, `SELECT calls, rows, round(total_exec_time::numeric, 1), round(mean_exec_time::numeric, 3),
		left(regexp_replace(query, '\s+', ' ', 'g'), 70) FROM pg_stat_statements
		WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
		ORDER BY total_exec_time DESC LIMIT 14`)
	if err != nil {
		return
	}
	defer rs.Close()
	for rs.Next() {
		var calls, rows int64
		var total, mean float64
		var q string
		if rs.Scan(&calls, &rows, &total, &mean, &q) == nil {
			fmt.Printf("  %6d calls %8d rows %8.1f ms total %7.3f ms mean  %s\n", calls, rows, total, mean, q)
		}
	}
}

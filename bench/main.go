// Command bench measures Stent on a throwaway PostgreSQL (started from the local server
// binaries with default durability: fsync and synchronous_commit on), a fresh database per
// run:
//
//	go run ./bench                       # all workloads, 3 runs each
//	go run ./bench -workload burndown -runs 5 -jobs 20000
//	DATABASE_URL=postgres://… go run ./bench   # use an existing server (creates databases)
//
// Workloads: burndown (N no-op activities inserted in one statement, then drained by one
// worker with -concurrency slots; tasks/s) and latency (idle worker, jobs enqueued one by
// one at -rate per second; enqueue-to-start p50/p95/p99, measured from just before the
// enqueue call to the first line of the activity). Every run verifies that every job ran
// exactly once before its figure counts. limited (-limited-jobs activities limited to 5 at a
// time, 5 ms each, queued ahead of a burn-down of -jobs no-ops; see limited.go) is run only
// when named.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"sort"
	"time"
)

func main() {
	var opts options
	flag.StringVar(&opts.workload, "workload", "all", "burndown, latency, all (both), limited or workflows")
	flag.IntVar(&opts.runs, "runs", 3, "runs per workload (median and min–max are reported)")
	flag.IntVar(&opts.jobs, "jobs", 20000, "jobs for the burn-down")
	flag.IntVar(&opts.limitedJobs, "limited-jobs", 2000, "limited jobs for the limited workload")
	flag.BoolVar(&opts.control, "control", false, "limited workload: run the same work with the limit removed (the baseline)")
	flag.IntVar(&opts.concurrency, "concurrency", 100, "worker slots")
	flag.IntVar(&opts.latencyJobs, "latency-jobs", 2000, "jobs for the latency workload")
	flag.Float64Var(&opts.rate, "rate", 200, "enqueue rate (jobs/s) for the latency workload")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the benchmark process to this file")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		_ = pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}

	ctx := context.Background()
	env, err := newEnv(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	defer env.close()
	fmt.Printf("PostgreSQL: %s\n", env.version)

	if opts.workload == "all" || opts.workload == "burndown" {
		var rates []float64
		for i := range opts.runs {
			r, err := burndown(ctx, env, opts)
			if err != nil {
				fmt.Fprintln(os.Stderr, "bench: burndown:", err)
				os.Exit(1)
			}
			fmt.Printf("burndown run %d: %d tasks in %s = %.0f tasks/s (%.2f statements, %.0f WAL bytes per task)\n",
				i+1, opts.jobs, r.elapsed.Round(time.Millisecond), r.rate, r.statementsPerTask, r.walPerTask)
			rates = append(rates, r.rate)
		}
		med, lo, hi := stats(rates)
		fmt.Printf("burndown: median %.0f tasks/s (min %.0f, max %.0f)\n", med, lo, hi)
	}
	if opts.workload == "workflows" {
		for i := range opts.runs {
			res, err := workflows(ctx, env, opts)
			if err != nil {
				fmt.Fprintln(os.Stderr, "bench: workflows:", err)
				os.Exit(1)
			}
			for _, r := range res {
				fmt.Printf("workflows run %d: %s: %d in %s = %.0f workflows/s (%.3f ms per workflow)\n", i+1, r.name, r.count,
					r.elapsed.Round(time.Millisecond), float64(r.count)/r.elapsed.Seconds(), float64(r.elapsed.Microseconds())/1000/float64(r.count))
			}
		}
	}
	if opts.workload == "limited" {
		runLimited(ctx, env, opts)
	}
	if opts.workload == "all" || opts.workload == "latency" {
		var p50s, p95s, p99s []float64
		for i := range opts.runs {
			r, err := latency(ctx, env, opts)
			if err != nil {
				fmt.Fprintln(os.Stderr, "bench: latency:", err)
				os.Exit(1)
			}
			fmt.Printf("latency run %d: p50 %.2f ms, p95 %.2f ms, p99 %.2f ms\n", i+1, r.p50, r.p95, r.p99)
			p50s, p95s, p99s = append(p50s, r.p50), append(p95s, r.p95), append(p99s, r.p99)
		}
		m50, _, _ := stats(p50s)
		m95, _, _ := stats(p95s)
		m99, _, _ := stats(p99s)
		fmt.Printf("latency: median p50 %.2f ms, p95 %.2f ms, p99 %.2f ms\n", m50, m95, m99)
	}
}

type options struct {
	workload    string
	runs        int
	jobs        int
	concurrency int
	latencyJobs int
	limitedJobs int
	control     bool
	rate        float64
}

// stats returns the median, min and max.
func stats(xs []float64) (float64, float64, float64) {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2], s[0], s[len(s)-1]
}

func percentile(sorted []time.Duration, p float64) float64 {
	i := int(float64(len(sorted)-1) * p)
	return float64(sorted[i]) / float64(time.Millisecond)
}

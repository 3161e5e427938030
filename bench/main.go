// Command bench measures Stent beside River and DBOS on one throwaway PostgreSQL (started
// from the local server binaries with default durability: fsync and synchronous_commit on),
// a fresh database per run, three runs per workload and system; it reports the median and
// min–max and, with -doc, writes docs/benchmarks.md and its chart:
//
//	cd bench                                         # a module of its own (River, DBOS)
//	go run . -doc ../docs/benchmarks.md              # everything, 3 runs each (~20 min)
//	go run . -workloads burndown,latency -systems stent,river-fast -runs 1
//	DATABASE_URL=postgres://… go run .               # an existing server (creates databases)
//
// Every run verifies its work (every job ran exactly once, every workflow returned its
// expected result) before its figure counts. See workloads.go for the workloads.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
)

// options are the command-line settings shared by the workloads.
type options struct {
	runs        int
	jobs        int // burn-down jobs
	concurrency int // worker slots
	latencyJobs int
	rate        float64 // latency enqueue rate, jobs/s
	workflows   int     // steps workload
	fanout      int
	backlog     int // backlog tasks
	suspended   int // suspended workflows
	limitedJobs int
	control     bool
}

func main() {
	var o options
	flag.IntVar(&o.runs, "runs", 3, "runs per workload and system (median and min–max are reported)")
	flag.IntVar(&o.jobs, "jobs", 20000, "burndown: no-op jobs inserted in bulk, then drained")
	flag.IntVar(&o.concurrency, "concurrency", 100, "worker slots (River MaxWorkers, DBOS worker concurrency)")
	flag.IntVar(&o.latencyJobs, "latency-jobs", 2000, "latency: jobs enqueued one by one")
	flag.Float64Var(&o.rate, "rate", 200, "latency: enqueue rate, jobs/s")
	flag.IntVar(&o.workflows, "workflows", 2000, "steps: workflows of 10 sequential steps")
	flag.IntVar(&o.fanout, "fanout", 1000, "fanout: activities one workflow fans out to")
	flag.IntVar(&o.backlog, "backlog", 100000, "backlog: pending tasks drained by a worker process")
	flag.IntVar(&o.suspended, "suspended", 10000, "backlog: workflows waiting for a signal")
	flag.IntVar(&o.limitedJobs, "limited-jobs", 2000, "limited (Stent only, run when named): limited jobs")
	flag.BoolVar(&o.control, "control", false, "limited: run the same work with the limit removed")
	workloadList := flag.String("workloads", strings.Join(workloadNames(), ","), "workloads to run, comma-separated (also: limited)")
	systemList := flag.String("systems", strings.Join(systemKeys(), ","), "systems to run, comma-separated")
	doc := flag.String("doc", "", "write the Markdown report (and its PNG chart beside it) to this file")
	notes := flag.String("notes", "notes.md", "hand-written analysis appended to the report")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the benchmark process to this file")
	child := flag.String("child", "", "internal: run as a backlog worker process (see backlog.go)")
	flag.Parse()

	if *child != "" {
		os.Exit(runChild(*child))
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fail(err)
		}
		_ = pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}

	ctx := context.Background()
	env, err := newEnv(ctx)
	if err != nil {
		fail(err)
	}
	defer env.close()
	fmt.Printf("PostgreSQL: %s\n", env.version)

	wanted := strings.Split(*workloadList, ",")
	if slices.Contains(wanted, "limited") {
		runLimited(ctx, env, o)
	}
	rep := &report{opts: o, env: env}
	for _, w := range workloads {
		if !slices.Contains(wanted, w.name) {
			continue
		}
		for _, sys := range systems {
			if !slices.Contains(strings.Split(*systemList, ","), sys.key) || w.run[sys.peer] == nil ||
				(w.fastOnly && sys.peer != "stent" && !sys.fast) {
				continue
			}
			for i := range o.runs {
				so := o
				if sys.scale > 1 && w.name == "burndown" {
					so.jobs /= sys.scale
				}
				s, err := w.run[sys.peer](ctx, env, sys, so)
				if err != nil {
					fail(fmt.Errorf("%s on %s, run %d: %w", w.name, sys.label, i+1, err))
				}
				fmt.Printf("%-9s %-28s run %d: %s\n", w.name, sys.label, i+1, s)
				rep.add(w.name, sys, s)
			}
		}
	}
	rep.print(os.Stdout)
	if *doc != "" {
		if err := rep.write(*doc, *notes); err != nil {
			fail(err)
		}
		fmt.Println("wrote", *doc)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

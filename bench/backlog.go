package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"time"
)

// The backlog workload measures a worker process on its own, so that its memory is the
// worker's and not the benchmark's: the parent fills a fresh database with o.backlog pending
// no-op tasks, then runs this program again as a child (-child backlog) that starts one
// worker, drains the backlog and reports its claim rate and peak RSS. For the engines with
// durable waits (Stent, DBOS) a second child (-child suspended) starts o.suspended workflows
// that each wait for a signal, reports goroutines and RSS once all are waiting, then signals
// them all and checks every one finished with its expected result.

// childEnv carries a child's parameters (environment variables, so the flags stay the
// user's).
const (
	envChildDB     = "BENCH_CHILD_DB"
	envChildSystem = "BENCH_CHILD_SYSTEM"
	envChildN      = "BENCH_CHILD_N"
	envChildSlots  = "BENCH_CHILD_CONCURRENCY"
)

// childReport is what a child prints on its last line of standard output.
type childReport struct {
	Rate       float64 `json:"rate,omitempty"`
	RSSMB      float64 `json:"rss_mb"`
	Goroutines int     `json:"goroutines,omitempty"`
	Error      string  `json:"error,omitempty"`
}

func backlogRun(ctx context.Context, e *env, sys system, o options) (sample, error) {
	db, err := e.freshDB(ctx, o.concurrency+10)
	if err != nil {
		return nil, err
	}
	defer db.drop()
	if err := fillBacklog(ctx, db, sys, o); err != nil {
		return nil, fmt.Errorf("fill: %w", err)
	}
	db.pool.Reset() // the child gets the connections
	rep, err := runChildProcess(ctx, "backlog", db, sys, o, o.backlog)
	if err != nil {
		return nil, err
	}
	s := sample{mClaimRate: rep.Rate, mBacklogRSS: rep.RSSMB}
	if sys.peer == "river" {
		return s, nil
	}
	sdb, err := e.freshDB(ctx, o.concurrency+10)
	if err != nil {
		return nil, err
	}
	defer sdb.drop()
	if err := prepareSchema(ctx, sdb, sys.peer); err != nil {
		return nil, err
	}
	sdb.pool.Reset()
	srep, err := runChildProcess(ctx, "suspended", sdb, sys, o, o.suspended)
	if err != nil {
		return nil, err
	}
	s[mSuspRSS], s[mSuspGor] = srep.RSSMB, float64(srep.Goroutines)
	return s, nil
}

// runChildProcess runs this program as a child of the given kind and returns its report.
func runChildProcess(ctx context.Context, kind string, db *database, sys system, o options, n int) (childReport, error) {
	exe, err := os.Executable()
	if err != nil {
		return childReport{}, err
	}
	cmd := exec.CommandContext(ctx, exe, "-child", kind)
	cmd.Env = append(os.Environ(), envChildDB+"="+db.url, envChildSystem+"="+sys.key,
		envChildN+"="+strconv.Itoa(n), envChildSlots+"="+strconv.Itoa(o.concurrency))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	runErr := cmd.Run()
	lines := bytes.Split(bytes.TrimSpace(out.Bytes()), []byte("\n"))
	var rep childReport
	if err := json.Unmarshal(lines[len(lines)-1], &rep); err != nil {
		return rep, errors.Join(fmt.Errorf("%s child printed %q", kind, out.String()), runErr)
	}
	if rep.Error != "" {
		return rep, fmt.Errorf("%s child: %s", kind, rep.Error)
	}
	return rep, runErr
}

// runChild is main for a child process: it runs the workload and prints its report.
func runChild(kind string) int {
	ctx := context.Background()
	n, _ := strconv.Atoi(os.Getenv(envChildN))
	slots, _ := strconv.Atoi(os.Getenv(envChildSlots))
	var sys system
	for _, s := range systems {
		if s.key == os.Getenv(envChildSystem) {
			sys = s
		}
	}
	o := options{concurrency: slots}
	var rep childReport
	var err error
	switch kind {
	case "backlog":
		rep, err = childBacklog(ctx, os.Getenv(envChildDB), sys, o, n)
	case "suspended":
		rep, err = childSuspended(ctx, os.Getenv(envChildDB), sys, o, n)
	default:
		err = fmt.Errorf("unknown child %q", kind)
	}
	if err != nil {
		rep.Error = err.Error()
	}
	b, _ := json.Marshal(rep)
	fmt.Println(string(b))
	if err != nil {
		return 1
	}
	return 0
}

// rssSampler records the largest resident set size and goroutine count seen until stopped.
type rssSampler struct {
	stop chan struct{}
	done chan struct{}
	rss  float64 // MB
}

func sampleRSS() *rssSampler {
	s := &rssSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			s.rss = max(s.rss, procStatusKB("VmRSS")/1024)
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

// peak stops the sampler and returns the largest RSS in MB.
func (s *rssSampler) peak() float64 {
	close(s.stop)
	<-s.done
	return s.rss
}

// settle collects garbage so that a reading of the RSS shows live memory.
func settle() int {
	runtime.GC()
	return runtime.NumGoroutine()
}

package main

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"time"
)

// tracker counts, per job number, how many times a job ran and when it started, for every
// system alike: each workload checks that every job ran exactly once before its figure counts.
type tracker struct {
	runs      []atomic.Int32
	enqueued  []atomic.Int64 // nanoseconds since base when job i was enqueued (0: not timed)
	latencies []atomic.Int64 // nanoseconds from enqueue to start
	done      atomic.Int64
	all       chan struct{}   // closed when done reaches len(runs)
	calls     []time.Duration // latency workload: how long each enqueue call took
}

var base = time.Now()

func newTracker(n int) *tracker {
	return &tracker{
		runs:      make([]atomic.Int32, n),
		enqueued:  make([]atomic.Int64, n),
		latencies: make([]atomic.Int64, n),
		all:       make(chan struct{}),
	}
}

// markEnqueued records that job i is about to be enqueued.
func (t *tracker) markEnqueued(i int) { t.enqueued[i].Store(int64(time.Since(base))) }

// ran records a start of job i (the first line of the job's code).
func (t *tracker) ran(i int) {
	if i < 0 || i >= len(t.runs) {
		return
	}
	if s := t.enqueued[i].Load(); s > 0 {
		t.latencies[i].CompareAndSwap(0, int64(time.Since(base))-s)
	}
	t.runs[i].Add(1)
	if t.done.Add(1) == int64(len(t.runs)) {
		close(t.all)
	}
}

// wait blocks until every job ran once or the timeout passes.
func (t *tracker) wait(ctx context.Context, timeout time.Duration) error {
	select {
	case <-t.all:
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("only %d of %d jobs ran within %s", t.done.Load(), len(t.runs), timeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// verifyOnce checks that every job ran exactly once.
func (t *tracker) verifyOnce() error {
	for i := range t.runs {
		if c := t.runs[i].Load(); c != 1 {
			return fmt.Errorf("job %d ran %d times, want once", i, c)
		}
	}
	return nil
}

// latencySample returns the p50, p95 and p99 enqueue-to-start latencies and the p50 of the
// enqueue calls themselves, in milliseconds.
func (t *tracker) latencySample() sample {
	lat := make([]time.Duration, len(t.latencies))
	for i := range lat {
		lat[i] = time.Duration(t.latencies[i].Load())
	}
	return sample{mP50: quantile(lat, 0.50), mP95: quantile(lat, 0.95), mP99: quantile(lat, 0.99),
		mEnqueue: quantile(t.calls, 0.50)}
}

// quantile returns the q-quantile of ds in milliseconds.
func quantile(ds []time.Duration, q float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return float64(s[int(float64(len(s)-1)*q)]) / float64(time.Millisecond)
}

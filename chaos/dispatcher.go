package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/stentdev/stent/stent"
)

// mix is the dispatcher's rotation of workflows: every ten dispatches run three sequences,
// two sleeps, two signal waits and one each of fan-out, cancellation and failure.
var mix = []string{wfSequence, wfSignal, wfSleep, wfFanOut, wfSequence, wfCancel, wfSignal, wfSequence, wfSleep, wfFail}

// dispatched is one execution the dispatcher started.
type dispatched struct {
	id   uuid.UUID
	name string
	n    int
}

// dispatcher starts the workload's executions at a steady pace, sends the signal
// workflows their signal and cancels the cancellation workflows, each after a random delay.
// Every call is retried through faults until it succeeds or opDeadline passes; dispatches
// carry an idempotency key, so a retry after a lost acknowledgement starts nothing twice.
type dispatcher struct {
	client *stent.Client
	wl     *workload
	run    string
	every  time.Duration
	rng    *rand.Rand

	mu      sync.Mutex
	list    []dispatched
	errs    []string
	follow  sync.WaitGroup
	retries atomic.Int64
	signals atomic.Int64
	cancels atomic.Int64
	// lostReplies counts calls that were committed although the client saw an error.
	lostReplies atomic.Int64
}

// opDeadline bounds how long one client call is retried through faults.
const opDeadline = 2 * time.Minute

// idempotencyKey is the key of the run's i-th dispatch; the checker finds the run's
// executions by its prefix.
func idempotencyKey(run string, i int) string { return fmt.Sprintf("chaos-%s-%d", run, i) }

// dispatch runs until ctx ends, then waits for its pending signals and cancellations.
func (d *dispatcher) dispatch(ctx context.Context) {
	defs := map[string]*stent.Workflow[int, int]{
		wfSequence: d.wl.sequence, wfFanOut: d.wl.fanOut, wfSleep: d.wl.sleep,
		wfSignal: d.wl.signal, wfCancel: d.wl.cancel, wfFail: d.wl.fail,
	}
	tick := time.NewTicker(d.every)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			d.follow.Wait()
			return
		case <-tick.C:
		}
		name, n := mix[i%len(mix)], i+1
		var id uuid.UUID
		err := d.retry("dispatch "+name, func(ctx context.Context) error {
			var err error
			id, err = defs[name].Dispatch(ctx, d.client, n, stent.WithIdempotencyKey(idempotencyKey(d.run, i)))
			return err
		})
		if err != nil {
			continue
		}
		d.mu.Lock()
		d.list = append(d.list, dispatched{id: id, name: name, n: n})
		d.mu.Unlock()
		switch name {
		case wfSignal:
			d.later(func() error {
				d.signals.Add(1)
				tries := 0
				return d.retry("signal "+id.String(), func(ctx context.Context) error {
					tries++
					err := d.client.Signal(ctx, id, signalName, signalPayload(n))
					if tries > 1 && errors.Is(err, stent.ErrWrongState) {
						// An earlier try was committed but its reply lost (a restart), and the
						// workflow has finished since: the checker sees the payload in its output.
						d.lostReplies.Add(1)
						return nil
					}
					return err
				})
			})
		case wfCancel:
			d.later(func() error {
				d.cancels.Add(1)
				return d.retry("cancel "+id.String(), func(ctx context.Context) error {
					_, err := d.client.Cancel(ctx, id)
					return err
				})
			})
		}
	}
}

// later runs fn after a random delay of 0.2–2s, in the background.
func (d *dispatcher) later(fn func() error) {
	d.mu.Lock()
	delay := 200*time.Millisecond + time.Duration(d.rng.Int64N(int64(1800*time.Millisecond)))
	d.mu.Unlock()
	d.follow.Add(1)
	go func() {
		defer d.follow.Done()
		time.Sleep(delay)
		_ = fn()
	}()
}

// retry calls fn (each call bounded by 5s) until it succeeds, fails with an error no retry
// can fix, or opDeadline passes; a final failure is recorded as a dispatcher error.
func (d *dispatcher) retry(what string, fn func(ctx context.Context) error) error {
	deadline := time.Now().Add(opDeadline)
	wait := 50 * time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := fn(ctx)
		cancel()
		if err == nil {
			return nil
		}
		var invalid *stent.InvalidArgumentError
		if errors.As(err, &invalid) || errors.Is(err, stent.ErrNotFound) || errors.Is(err, stent.ErrWrongState) ||
			time.Now().After(deadline) {
			d.mu.Lock()
			d.errs = append(d.errs, fmt.Sprintf("%s: %v", what, err))
			d.mu.Unlock()
			return err
		}
		d.retries.Add(1)
		time.Sleep(wait)
		wait = min(2*wait, time.Second)
	}
}

// executions returns what was dispatched.
func (d *dispatcher) executions() []dispatched {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]dispatched(nil), d.list...)
}

// errors returns the calls that failed for good.
func (d *dispatcher) errors() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.errs...)
}

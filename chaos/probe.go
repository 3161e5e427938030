package main

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/stentdev/stent/stent"
)

// probeTimeout bounds how long a worker slot may take to run its probe.
const probeTimeout = 30 * time.Second

// probeWorkers checks that every worker process still claims and completes work after the
// faults (a worker that survived them but wedged would otherwise go unnoticed while the
// others did its share): it dispatches one probe activity per slot, tagged for that slot's
// worker only, and waits for each to complete. It returns what failed.
func probeWorkers(ctx context.Context, client *stent.Client, wl *workload, run string, slots int) []string {
	ids := make([]uuid.UUID, slots)
	var failures []string
	for i := range ids {
		tag := fmt.Sprintf("slot%d", i+1)
		key := fmt.Sprintf("chaosprobe-%s-%d", run, i+1)
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		id, err := wl.probe.Dispatch(dctx, client, i+1, stent.WithTags(tag), stent.WithIdempotencyKey(key))
		cancel()
		if err != nil {
			failures = append(failures, fmt.Sprintf("probe of %s: dispatch: %v", tag, err))
			continue
		}
		ids[i] = id
	}
	for i, id := range ids {
		if id == uuid.Nil {
			continue
		}
		wctx, cancel := context.WithTimeout(ctx, probeTimeout)
		out, err := wl.probe.Wait(wctx, client, id)
		cancel()
		switch {
		case err != nil:
			failures = append(failures, fmt.Sprintf("the worker of slot%d did not run its probe within %s: %v (wedged?)", i+1, probeTimeout, err))
		case out != i+1:
			failures = append(failures, fmt.Sprintf("probe of slot%d returned %d", i+1, out))
		}
	}
	return failures
}

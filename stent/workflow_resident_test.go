package stent_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/stenttest"
	"github.com/stentdev/stent/worker"
)

// TestWorkflowResidentWait: with a resident wait, a workflow whose child finishes quickly
// keeps running in memory (its code runs once, no suspension or replay), lending its only
// slot to the child; with -1 it suspends at once and is replayed after each child.
func TestWorkflowResidentWait(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		resident time.Duration
		wantRuns int32
	}{
		{"Resident", 10 * time.Second, 1},
		{"SuspendAtOnce", -1, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			var runs atomic.Int32
			inc := stent.NewActivity("resident.inc", func(ctx context.Context, n int) (int, error) { return n + 1, nil }, stent.InRegistry(b.reg))
			wf := stent.NewWorkflow("resident.wf", func(ctx stent.Context, n int) (int, error) {
				runs.Add(1)
				for range 3 {
					v, err := inc.Call(ctx, n)
					if err != nil {
						return 0, err
					}
					n = v
				}
				return n, nil
			}, stent.InRegistry(b.reg))
			stenttest.StartWorker(t, b.client, worker.Config{Concurrency: 1, ResidentWait: tc.resident})
			got, err := wf.Run(b.ctx, b.client, 0)
			require.NoError(t, err)
			require.Equal(t, 3, got)
			require.Equal(t, tc.wantRuns, runs.Load())
		})
	}
}

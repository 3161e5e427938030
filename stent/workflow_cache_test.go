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

// TestActivityCache: a cached activity's result is reused across executions for the same
// name, version and input (zero values are hits), recomputed for another input or after its
// TTL (fake clock), and concurrent identical calls run it once (single flight).
func TestActivityCache(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var runs atomic.Int32
	release := make(chan struct{})
	lookup := stent.NewActivity("cache.lookup", func(ctx context.Context, n int) (int, error) {
		runs.Add(1)
		if n == 99 {
			<-release // held so that concurrent calls overlap
		}
		return 0 * n, nil // a zero value: still a hit
	}, stent.Cache(time.Hour), stent.Version("v1"), stent.InRegistry(b.reg))
	wf := stent.NewWorkflow("cache.wf", func(ctx stent.Context, n int) (int, error) {
		return lookup.Call(ctx, n)
	}, stent.InRegistry(b.reg))
	stenttest.StartWorker(t, b.client, worker.Config{Concurrency: 8})

	for range 3 {
		got, err := wf.Run(b.ctx, b.client, 1)
		require.NoError(t, err)
		require.Equal(t, 0, got)
	}
	require.EqualValues(t, 1, runs.Load(), "hits across executions")
	_, err := wf.Run(b.ctx, b.client, 2)
	require.NoError(t, err)
	require.EqualValues(t, 2, runs.Load(), "another input runs")

	b.clock.Advance(2 * time.Hour)
	_, err = wf.Run(b.ctx, b.client, 1)
	require.NoError(t, err)
	require.EqualValues(t, 3, runs.Load(), "expired after its TTL")

	// Single flight: five executions ask for 99 while the first computation is held.
	ids := make([]string, 0, 5)
	for range 5 {
		id, err := wf.Dispatch(b.ctx, b.client, 99)
		require.NoError(t, err)
		ids = append(ids, id.String())
	}
	pollUntil(t, "one computes, four follow", func() bool {
		return b.count(t, "SELECT count(*) FROM stent.tasks WHERE name = 'cache.lookup' AND state = 'waiting'") == 4
	})
	close(release)
	for _, s := range ids {
		id := mustUUID(t, s)
		_, err := wf.Wait(b.ctx, b.client, id)
		require.NoError(t, err)
	}
	require.EqualValues(t, 4, runs.Load(), "99 computed once for five executions")
}

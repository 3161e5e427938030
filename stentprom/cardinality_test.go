package stentprom_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/stentprom"
	"github.com/stentdev/stent/worker"
)

// TestCardinalityBounded runs 1,000 executions and checks that no series is created per
// execution or task: every label value is a function name, a queue name or one of the fixed
// enumerations, and each per-function family has one series per (function, queue).
func TestCardinalityBounded(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	const n = 1000
	echo := stent.NewActivity("obs.echo", func(ctx context.Context, i int) (int, error) { return i, nil }, stent.InRegistry(b.reg))
	inputs := make([]int, n)
	for i := range inputs {
		inputs[i] = i
	}
	ids, err := echo.DispatchMany(b.ctx, b.client, inputs)
	require.NoError(t, err)
	require.Len(t, ids, n)
	b.collectQueues(t)
	stop := b.runWorker(t, worker.Config{Concurrency: 50})
	deadline := time.Now().Add(2 * waitTimeout)
	for b.count(t, "SELECT count(*) FROM stent.executions WHERE state = 'completed'") < n {
		require.True(t, time.Now().Before(deadline), "executions did not complete")
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	fams := b.families(t)

	allowed := map[string]bool{"obs.echo": true, "default": true, "completed": true, "stent_tasks": true,
		"stent_cancel": true, "reconnect": true}
	series := 0
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			series++
			for _, l := range m.GetLabel() {
				v := l.GetValue()
				require.True(t, allowed[v], "%s has label %s=%q", name, l.GetName(), v)
				_, uerr := uuid.Parse(v)
				_, ierr := strconv.ParseInt(v, 10, 64)
				require.True(t, uerr != nil && ierr != nil, "%s has an id as label: %q", name, v)
			}
		}
	}
	require.Less(t, series, 50, "the number of series does not grow with the executions")
	fq := []string{"function", "obs.echo", "queue", "default"}
	require.Len(t, fams["stent_tasks_claimed_total"].GetMetric(), 1)
	require.EqualValues(t, n, value(fams, "stent_tasks_claimed_total", fq...))
	require.EqualValues(t, n, value(fams, "stent_tasks_completed_total", fq...))
	require.EqualValues(t, n, value(fams, "stent_executions_dispatched_total", fq...))
	require.EqualValues(t, n, value(fams, "stent_executions_finished_total", "function", "obs.echo", "state", "completed"))
	require.EqualValues(t, n, samples(fams, "stent_attempt_duration_seconds", fq...))
	require.EqualValues(t, 0, value(fams, "stent_queue_depth", "queue", "default"), "the queue is empty after the run")
}

// collectQueues registers a queue collector that queries on every scrape.
func (b *bundle) collectQueues(t *testing.T) *stentprom.QueueCollector {
	t.Helper()
	c := stentprom.NewQueueCollector(b.client, stentprom.QueueOptions{CacheFor: -1})
	require.NoError(t, b.prom.Register(c))
	return c
}

package stentprom_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/stentprom"
	"github.com/stentdev/stent/stenttest"
)

// TestQueueCollector: the queue gauges come from one aggregate query per scrape, cached for
// CacheFor (scrapes within it run no query, whatever changed meanwhile), and report per queue
// the due tasks, the delayed ones and the age of the oldest due task on the database clock.
func TestQueueCollector(t *testing.T) {
	t.Parallel()
	clock := stenttest.NewClock(time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC))
	b := setup(t, clock)
	job := stent.NewActivity("obs.job", func(ctx context.Context, i int) (int, error) { return i, nil }, stent.InRegistry(b.reg))
	due := map[string]int{"default": 3, "mail": 2}
	for q, n := range due {
		for i := range n {
			_, err := job.Dispatch(b.ctx, b.client, i, stent.WithQueue(q))
			require.NoError(t, err)
		}
	}
	const delayed = 4
	for i := range delayed {
		_, err := job.Dispatch(b.ctx, b.client, i, stent.WithDelay(time.Hour))
		require.NoError(t, err)
	}
	const waited = 90 * time.Second
	clock.Advance(waited)

	cached := stentprom.NewQueueCollector(b.client, stentprom.QueueOptions{CacheFor: time.Hour})
	require.NoError(t, b.prom.Register(cached))
	fams := b.families(t)
	require.EqualValues(t, 1, cached.Queries())
	require.EqualValues(t, 1, value(fams, "stent_queue_stats_up"))
	for q, n := range due {
		require.EqualValues(t, n, value(fams, "stent_queue_depth", "queue", q), q)
		require.Equal(t, waited.Seconds(), value(fams, "stent_queue_oldest_pending_age_seconds", "queue", q), q)
	}
	require.EqualValues(t, delayed, value(fams, "stent_queue_delayed", "queue", "default"))
	require.EqualValues(t, 0, value(fams, "stent_queue_delayed", "queue", "mail"))

	// More work arrives; scrapes within CacheFor still answer from the one query.
	_, err := job.Dispatch(b.ctx, b.client, 99)
	require.NoError(t, err)
	for range 5 {
		fams = b.families(t)
	}
	require.EqualValues(t, 1, cached.Queries())
	require.EqualValues(t, due["default"], value(fams, "stent_queue_depth", "queue", "default"))

	// Without caching, every scrape queries once and sees the new task.
	reg := prometheus.NewRegistry()
	uncached := stentprom.NewQueueCollector(b.client, stentprom.QueueOptions{CacheFor: -1})
	require.NoError(t, reg.Register(uncached))
	for i := range 3 {
		mfs, err := reg.Gather()
		require.NoError(t, err)
		require.EqualValues(t, i+1, uncached.Queries())
		for _, f := range mfs {
			if f.GetName() == "stent_queue_depth" {
				for _, m := range f.GetMetric() {
					if m.GetLabel()[0].GetValue() == "default" {
						require.EqualValues(t, due["default"]+1, m.GetGauge().GetValue())
					}
				}
			}
		}
	}
}

// TestQueueCollectorDown: a failing query reports stent_queue_stats_up 0 and no stale depths.
func TestQueueCollectorDown(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	job := stent.NewActivity("obs.job2", func(ctx context.Context, i int) (int, error) { return i, nil }, stent.InRegistry(b.reg))
	_, err := job.Dispatch(b.ctx, b.client, 1)
	require.NoError(t, err)
	c := stentprom.NewQueueCollector(b.client, stentprom.QueueOptions{CacheFor: -1})
	require.NoError(t, b.prom.Register(c))
	require.EqualValues(t, 1, value(b.families(t), "stent_queue_depth", "queue", "default"))
	b.pool.Close()
	fams := b.families(t)
	require.EqualValues(t, 0, value(fams, "stent_queue_stats_up"))
	require.Nil(t, find(fams, "stent_queue_depth", "queue", "default"))
	require.EqualValues(t, 2, c.Queries())
}

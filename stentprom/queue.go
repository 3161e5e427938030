package stentprom

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stentdev/stent/stent"
)

// QueueOptions configures a QueueCollector. Zero fields take the defaults.
type QueueOptions struct {
	// Namespace prefixes the metric names. Default "stent".
	Namespace string
	// CacheFor is how long one query's result answers scrapes: scrapes within it (from
	// several Prometheus servers, or a tight interval) cost the database nothing. Default 5s;
	// negative: query on every scrape.
	CacheFor time.Duration
	// Timeout bounds the query. Default 5s.
	Timeout time.Duration
}

// QueueCollector is a prometheus.Collector reporting, per queue, the pending tasks due now
// (stent_queue_depth), those scheduled later (stent_queue_delayed) and the age of the oldest
// due one (stent_queue_oldest_pending_age_seconds), from one aggregate query
// (Client.QueueStats) per scrape at most, cached for CacheFor. Concurrent scrapes wait for
// one query. stent_queue_stats_up is 0 when the last query failed.
type QueueCollector struct {
	client *stent.Client
	opts   QueueOptions

	depth, delayed, age, up *prometheus.Desc

	mu      sync.Mutex
	at      time.Time
	cached  []stent.QueueStats
	ok      bool
	queries atomic.Int64
}

// NewQueueCollector returns a collector over client's database; register it on your registry.
func NewQueueCollector(client *stent.Client, o QueueOptions) *QueueCollector {
	if o.Namespace == "" {
		o.Namespace = "stent"
	}
	if o.CacheFor == 0 {
		o.CacheFor = 5 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	name := func(n string) string { return prometheus.BuildFQName(o.Namespace, "queue", n) }
	return &QueueCollector{
		client: client,
		opts:   o,
		depth: prometheus.NewDesc(name("depth"),
			"Pending tasks due now, waiting for a worker.", []string{"queue"}, nil),
		delayed: prometheus.NewDesc(name("delayed"),
			"Pending tasks scheduled later (delays, retry back-offs).", []string{"queue"}, nil),
		age: prometheus.NewDesc(name("oldest_pending_age_seconds"),
			"How long the oldest due task of the queue has been waiting (database clock).", []string{"queue"}, nil),
		up: prometheus.NewDesc(name("stats_up"),
			"1 if the last queue statistics query succeeded, 0 if it failed.", nil, nil),
	}
}

// Queries returns how many queries the collector has run (for tests and for checking the
// cache works).
func (c *QueueCollector) Queries() int64 { return c.queries.Load() }

// Describe implements prometheus.Collector.
func (c *QueueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.depth
	ch <- c.delayed
	ch <- c.age
	ch <- c.up
}

// Collect implements prometheus.Collector.
func (c *QueueCollector) Collect(ch chan<- prometheus.Metric) {
	stats, ok := c.stats()
	up := 0.0
	if ok {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up)
	for _, s := range stats {
		ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(s.Due), s.Queue)
		ch <- prometheus.MustNewConstMetric(c.delayed, prometheus.GaugeValue, float64(s.Delayed), s.Queue)
		ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, s.OldestDue.Seconds(), s.Queue)
	}
}

// stats returns the cached statistics, querying when they are older than CacheFor. After a
// failed query the last good statistics are dropped (stale depths would mislead) and up is 0.
func (c *QueueCollector) stats() ([]stent.QueueStats, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.at.IsZero() && c.opts.CacheFor > 0 && time.Since(c.at) < c.opts.CacheFor {
		return c.cached, c.ok
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.Timeout)
	defer cancel()
	c.queries.Add(1)
	stats, err := c.client.QueueStats(ctx)
	c.at = time.Now()
	c.cached, c.ok = stats, err == nil
	return c.cached, c.ok
}

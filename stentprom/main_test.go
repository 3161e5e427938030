package stentprom_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/stentprom"
	"github.com/stentdev/stent/stenttest"
	"github.com/stentdev/stent/worker"
)

// TestMain runs the package's tests on one throwaway PostgreSQL cluster and checks that no
// goroutine outlives them.
func TestMain(m *testing.M) {
	code := stenttest.Run(m)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

const waitTimeout = 30 * time.Second

// bundle is one test's database, pool, registry of definitions, Prometheus registry and a
// client reporting to it.
type bundle struct {
	ctx     context.Context
	pool    *pgxpool.Pool
	reg     *stent.Registry
	prom    *prometheus.Registry
	metrics *stentprom.Metrics
	client  *stent.Client
	clock   *stenttest.Clock
}

func setup(t *testing.T, clock *stenttest.Clock) *bundle {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*waitTimeout)
	t.Cleanup(cancel)
	opts := []stenttest.Option{stenttest.WithURL(stenttest.DB(t)), stenttest.WithMaxConns(20)}
	if clock != nil {
		opts = append(opts, stenttest.WithClock(clock))
	}
	b := &bundle{ctx: ctx, pool: stenttest.Pool(t, opts...), reg: stent.NewRegistry(), prom: prometheus.NewRegistry(), clock: clock}
	m, err := stentprom.New(b.prom, stentprom.Options{})
	require.NoError(t, err)
	b.metrics = m
	b.client = stenttest.Client(t, b.pool, stent.Config{Registry: b.reg, Metrics: m, WaitPollInterval: 50 * time.Millisecond})
	return b
}

// runWorker starts a worker and returns a function that stops it and waits until it
// returned: every attempt's outcome is then recorded in the metrics.
func (b *bundle) runWorker(t *testing.T, cfg worker.Config) (stop func()) {
	t.Helper()
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 50 * time.Millisecond
	}
	if cfg.MaintenanceInterval == 0 {
		cfg.MaintenanceInterval = 50 * time.Millisecond
	}
	w, err := worker.New(b.client, cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- w.Run(ctx) }()
	select {
	case <-w.Ready():
	case err := <-errc:
		cancel()
		t.Fatalf("worker did not start: %v", err)
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		require.NoError(t, <-errc)
	}
	t.Cleanup(stop)
	return stop
}

func (b *bundle) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, b.pool.QueryRow(b.ctx, sql, args...).Scan(&n))
	return n
}

// families gathers the registry, by metric name.
func (b *bundle) families(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	fams, err := b.prom.Gather()
	require.NoError(t, err)
	out := make(map[string]*dto.MetricFamily, len(fams))
	for _, f := range fams {
		out[f.GetName()] = f
	}
	return out
}

// value returns the counter or gauge value of the series of family name with exactly these
// labels (0 when absent).
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	m := find(fams, name, labels...)
	switch {
	case m == nil:
		return 0
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	return 0
}

// samples returns the sample count of a histogram series (0 when absent).
func samples(fams map[string]*dto.MetricFamily, name string, labels ...string) uint64 {
	if m := find(fams, name, labels...); m != nil && m.Histogram != nil {
		return m.Histogram.GetSampleCount()
	}
	return 0
}

func find(fams map[string]*dto.MetricFamily, name string, labels ...string) *dto.Metric {
	f := fams[name]
	if f == nil {
		return nil
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
next:
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(want) {
			continue
		}
		for _, l := range m.GetLabel() {
			if want[l.GetName()] != l.GetValue() {
				continue next
			}
		}
		return m
	}
	return nil
}

// sum adds the counter values (or histogram sample sums) of every series of a family.
func sum(fams map[string]*dto.MetricFamily, name string) float64 {
	total := 0.0
	for _, m := range fams[name].GetMetric() {
		switch {
		case m.Counter != nil:
			total += m.Counter.GetValue()
		case m.Histogram != nil:
			total += m.Histogram.GetSampleSum()
		}
	}
	return total
}

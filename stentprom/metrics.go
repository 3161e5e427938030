// Package stentprom exports Stent's metrics to Prometheus: Metrics implements stent.Metrics
// with counters and histograms labelled by function and queue (never by ids, so the number
// of series stays bounded), and QueueCollector reports queue depths from one cached
// aggregate query per scrape.
//
//	reg := prometheus.NewRegistry()
//	m, err := stentprom.New(reg, stentprom.Options{})
//	client, err := stent.NewClient(pool, stent.Config{Metrics: m})
//	reg.MustRegister(stentprom.NewQueueCollector(client, stentprom.QueueOptions{}))
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
package stentprom

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stentdev/stent/stent"
)

// Options configures Metrics. Zero fields take the defaults.
type Options struct {
	// Namespace prefixes every metric name. Default "stent".
	Namespace string
	// DurationBuckets are the buckets, in seconds, of the attempt duration and start lag
	// histograms. Default: 1ms to about 4 minutes, factor 4.
	DurationBuckets []float64
}

// Default histogram buckets.
var (
	DefaultDurationBuckets = prometheus.ExponentialBuckets(0.001, 4, 10)
	batchBuckets           = []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000}
	flushBuckets           = prometheus.ExponentialBuckets(0.0005, 2, 14)
)

// Metrics is the Prometheus implementation of stent.Metrics. Create it with New and pass it
// in stent.Config.Metrics.
type Metrics struct {
	claimed, completed, failed, retried, deadLettered, rescued, cancelled, suspended,
	released, unrecorded, leaseLost, dispatched *prometheus.CounterVec
	duration, lag          *prometheus.HistogramVec
	finished               *prometheus.CounterVec
	notifications          *prometheus.CounterVec
	renewals, heartbeatErr prometheus.Counter
	polls                  prometheus.Counter
	eager                  *prometheus.CounterVec
	claimBatch             prometheus.Histogram
	flushBatch             prometheus.Histogram
	flushLatency           prometheus.Histogram

	mu     sync.RWMutex
	series map[string]map[string]*series // function → queue → series
}

// series are the children of one (function, queue) pair, looked up once per event.
type series struct {
	claimed, completed, failed, retried, deadLettered, rescued, cancelled, suspended,
	released, unrecorded, leaseLost, dispatched prometheus.Counter
	duration, lag prometheus.Observer
}

var _ stent.Metrics = (*Metrics)(nil)

// New creates the metrics and registers them on reg (a prometheus.NewRegistry() or
// prometheus.DefaultRegisterer). It fails if they are already registered there.
func New(reg prometheus.Registerer, o Options) (*Metrics, error) {
	if o.Namespace == "" {
		o.Namespace = "stent"
	}
	if len(o.DurationBuckets) == 0 {
		o.DurationBuckets = DefaultDurationBuckets
	}
	fq := []string{"function", "queue"}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: o.Namespace, Name: name, Help: help}, labels)
	}
	m := &Metrics{
		claimed:      counter("tasks_claimed_total", "Tasks claimed by workers.", fq...),
		completed:    counter("tasks_completed_total", "Attempts that completed and whose result was recorded.", fq...),
		failed:       counter("tasks_failed_total", "Failed attempts (retried or dead-lettered), including attempts whose lease expired.", fq...),
		retried:      counter("tasks_retried_total", "Failed attempts after which the task runs again.", fq...),
		deadLettered: counter("tasks_dead_lettered_total", "Tasks that failed for good and were moved to the dead-letter queue.", fq...),
		rescued:      counter("tasks_rescued_total", "Tasks whose lease expired, rescued by the maintenance leader.", fq...),
		cancelled:    counter("tasks_cancelled_total", "Attempts stopped because their execution was cancelled or timed out.", fq...),
		suspended:    counter("tasks_suspended_total", "Workflow attempts that parked until their children, sleep or signal.", fq...),
		released:     counter("tasks_released_total", "Attempts given back unfinished at worker shutdown (attempt not counted).", fq...),
		unrecorded:   counter("attempts_unrecorded_total", "Attempts whose outcome could not be written; rescued when their lease expires.", fq...),
		leaseLost:    counter("leases_lost_total", "Attempts abandoned because the worker lost the task's lease.", fq...),
		dispatched:   counter("executions_dispatched_total", "Executions created by dispatches (idempotent duplicates excluded).", fq...),
		finished:     counter("executions_finished_total", "Executions ended by this process, by final state.", "function", "state"),
		notifications: counter("notifications_received_total",
			"LISTEN/NOTIFY notifications received by workers (reconnect: the listener reconnected).", "channel"),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: o.Namespace, Name: "attempt_duration_seconds",
			Help: "How long attempts' functions ran, whatever their outcome.", Buckets: o.DurationBuckets}, fq),
		lag: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: o.Namespace, Name: "task_start_lag_seconds",
			Help: "How long tasks were due before a worker claimed them (database clock).", Buckets: o.DurationBuckets}, fq),
		renewals: prometheus.NewCounter(prometheus.CounterOpts{Namespace: o.Namespace, Name: "lease_renewals_total",
			Help: "Leases renewed by worker heartbeats."}),
		heartbeatErr: prometheus.NewCounter(prometheus.CounterOpts{Namespace: o.Namespace, Name: "heartbeat_failures_total",
			Help: "Heartbeat statements that failed."}),
		polls: prometheus.NewCounter(prometheus.CounterOpts{Namespace: o.Namespace, Name: "claim_polls_total",
			Help: "Claim statements run by workers."}),
		eager: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: o.Namespace, Name: "eager_starts_total",
			Help: "Tasks leased by their dispatch to a worker of the dispatching process (no claim statement)."}, fq),
		claimBatch: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: o.Namespace, Name: "claim_batch_size",
			Help: "Tasks claimed per claim statement.", Buckets: append([]float64{0}, batchBuckets...)}),
		flushBatch: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: o.Namespace, Name: "completion_batch_size",
			Help: "Completions recorded per statement.", Buckets: batchBuckets}),
		flushLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: o.Namespace, Name: "completion_flush_seconds",
			Help: "Latency of completion batch statements.", Buckets: flushBuckets}),
		series: make(map[string]map[string]*series),
	}
	for _, c := range []prometheus.Collector{
		m.claimed, m.completed, m.failed, m.retried, m.deadLettered, m.rescued, m.cancelled, m.suspended,
		m.released, m.unrecorded, m.leaseLost, m.dispatched, m.finished, m.notifications, m.duration, m.lag,
		m.renewals, m.heartbeatErr, m.polls, m.eager, m.claimBatch, m.flushBatch, m.flushLatency,
	} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// of returns the series of (function, queue), creating them on first use.
func (m *Metrics) of(function, queue string) *series {
	m.mu.RLock()
	s := m.series[function][queue]
	m.mu.RUnlock()
	if s != nil {
		return s
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if s = m.series[function][queue]; s != nil {
		return s
	}
	l := []string{function, queue}
	s = &series{
		claimed: m.claimed.WithLabelValues(l...), completed: m.completed.WithLabelValues(l...),
		failed: m.failed.WithLabelValues(l...), retried: m.retried.WithLabelValues(l...),
		deadLettered: m.deadLettered.WithLabelValues(l...), rescued: m.rescued.WithLabelValues(l...),
		cancelled: m.cancelled.WithLabelValues(l...), suspended: m.suspended.WithLabelValues(l...),
		released: m.released.WithLabelValues(l...), unrecorded: m.unrecorded.WithLabelValues(l...),
		leaseLost: m.leaseLost.WithLabelValues(l...), dispatched: m.dispatched.WithLabelValues(l...),
		duration: m.duration.WithLabelValues(l...), lag: m.lag.WithLabelValues(l...),
	}
	if m.series[function] == nil {
		m.series[function] = make(map[string]*series)
	}
	m.series[function][queue] = s
	return s
}

// ExecutionDispatched implements stent.Metrics.
func (m *Metrics) ExecutionDispatched(function, queue string) { m.of(function, queue).dispatched.Inc() }

// ExecutionFinished implements stent.Metrics.
func (m *Metrics) ExecutionFinished(function string, state stent.ExecutionState) {
	m.finished.WithLabelValues(function, string(state)).Inc()
}

// TaskClaimed implements stent.Metrics.
func (m *Metrics) TaskClaimed(function, queue string, lag time.Duration) {
	s := m.of(function, queue)
	s.claimed.Inc()
	s.lag.Observe(lag.Seconds())
}

// AttemptFinished implements stent.Metrics.
func (m *Metrics) AttemptFinished(function, queue string, outcome stent.AttemptOutcome, d time.Duration) {
	s := m.of(function, queue)
	s.duration.Observe(d.Seconds())
	switch outcome {
	case stent.OutcomeCompleted:
		s.completed.Inc()
	case stent.OutcomeRetried:
		s.failed.Inc()
		s.retried.Inc()
	case stent.OutcomeDeadLettered:
		s.failed.Inc()
		s.deadLettered.Inc()
	case stent.OutcomeSuspended:
		s.suspended.Inc()
	case stent.OutcomeCancelled:
		s.cancelled.Inc()
	case stent.OutcomeLeaseLost:
		s.leaseLost.Inc()
	case stent.OutcomeReleased:
		s.released.Inc()
	case stent.OutcomeUnrecorded:
		s.unrecorded.Inc()
	}
}

// TaskRescued implements stent.Metrics: a rescue is a failed attempt, retried or
// dead-lettered like any other.
func (m *Metrics) TaskRescued(function, queue string, deadLettered bool) {
	s := m.of(function, queue)
	s.rescued.Inc()
	s.failed.Inc()
	if deadLettered {
		s.deadLettered.Inc()
	} else {
		s.retried.Inc()
	}
}

// ClaimPolled implements stent.Metrics.
func (m *Metrics) ClaimPolled(claimed int) {
	m.polls.Inc()
	m.claimBatch.Observe(float64(claimed))
}

// EagerStarted implements stent.Metrics.
func (m *Metrics) EagerStarted(function, queue string) {
	m.eager.WithLabelValues(function, queue).Inc()
}

// NotificationReceived implements stent.Metrics.
func (m *Metrics) NotificationReceived(channel string) {
	m.notifications.WithLabelValues(channel).Inc()
}

// LeasesRenewed implements stent.Metrics.
func (m *Metrics) LeasesRenewed(renewed int, failed bool) {
	if failed {
		m.heartbeatErr.Inc()
		return
	}
	m.renewals.Add(float64(renewed))
}

// CompletionsFlushed implements stent.Metrics.
func (m *Metrics) CompletionsFlushed(batch int, d time.Duration) {
	m.flushBatch.Observe(float64(batch))
	m.flushLatency.Observe(d.Seconds())
}

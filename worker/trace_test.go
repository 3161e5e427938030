package worker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/stenttest"
	"github.com/stentdev/stent/worker"
)

// tracedClient is a client on its own pool with its own span recorder and log buffer: what
// one process would have.
type tracedClient struct {
	client *stent.Client
	rec    *tracetest.SpanRecorder
	logs   *syncBuffer
}

func newTracedClient(t *testing.T, b *testBundle) *tracedClient {
	t.Helper()
	pool := stenttest.Pool(t, stenttest.WithURL(b.url), stenttest.WithMaxConns(10))
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	logs := &syncBuffer{}
	log := zerolog.New(logs).Level(zerolog.DebugLevel)
	return &tracedClient{
		client: stenttest.Client(t, pool, stent.Config{Registry: b.reg, TracerProvider: tp, Logger: &log,
			WaitPollInterval: 50 * time.Millisecond}),
		rec:  rec,
		logs: logs,
	}
}

// run starts a worker on the client in its own goroutine; stop ends it and waits for Run to
// return (every attempt's span is then ended).
func (c *tracedClient) run(t *testing.T, cfg worker.Config) (stop func()) {
	t.Helper()
	cfg.PollInterval, cfg.MaintenanceInterval = 50*time.Millisecond, 50*time.Millisecond
	w, err := worker.New(c.client, cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- w.Run(ctx) }()
	<-w.Ready()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			require.NoError(t, <-errc)
		})
	}
	t.Cleanup(stop)
	return stop
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// events returns the logged JSON events.
func (s *syncBuffer) events(t *testing.T) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		if line == "" {
			continue
		}
		var ev map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &ev), line)
		out = append(out, ev)
	}
	return out
}

func attr(s sdktrace.ReadOnlySpan, key attribute.Key) attribute.Value {
	for _, kv := range s.Attributes() {
		if kv.Key == key {
			return kv.Value
		}
	}
	return attribute.Value{}
}

// TestTraceAcrossWorkers: a dispatch made inside a traced request continues its trace; the
// workflow runs on one worker and its activities on another (separate goroutines, clients,
// pools and tracer providers), linked only by the trace context stored with the tasks. Every
// activity span is a child of a workflow attempt span, every workflow attempt span a child
// of the dispatch span, and all share the request's trace id. Log events of the attempts
// carry the ids and the trace id, at the expected levels, and no payload.
func TestTraceAcrossWorkers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var failedOnce atomic.Bool
	var actRuns atomic.Int32
	act := stent.NewActivity("trace.act", func(ctx context.Context, s string) (string, error) {
		actRuns.Add(1)
		if s == "secret-1" && failedOnce.CompareAndSwap(false, true) {
			return "", errors.New("first attempt fails")
		}
		return strings.ToUpper(s), nil
	}, fastRetry(3), b.in())
	flow := stent.NewWorkflow("trace.flow", func(ctx stent.Context, s string) (int, error) {
		one, err := act.Call(ctx, s+"-1")
		if err != nil {
			return 0, err
		}
		more, err := act.Map(ctx, []string{s + "-2", s + "-3", s + "-4"})
		if err != nil {
			return 0, err
		}
		return len(one) + len(more), nil
	}, b.in())

	front, wfProc, actProc := newTracedClient(t, b), newTracedClient(t, b), newTracedClient(t, b)
	stopWF := wfProc.run(t, worker.Config{Functions: []string{"trace.flow"}})
	stopAct := actProc.run(t, worker.Config{Functions: []string{"trace.act"}})

	ctx, request := front.client.Config().TracerProvider.Tracer("test").Start(b.ctx(), "POST /orders")
	id, err := flow.Dispatch(ctx, front.client, "secret")
	request.End()
	require.NoError(t, err)
	got, err := flow.Wait(b.ctx(), front.client, id)
	require.NoError(t, err)
	require.Equal(t, 11, got)
	stopWF()
	stopAct()

	traceID := request.SpanContext().TraceID()
	// The dispatch span continues the request's trace.
	var dispatch sdktrace.ReadOnlySpan
	for _, s := range front.rec.Ended() {
		if s.Name() == "stent.dispatch trace.flow" {
			dispatch = s
		}
	}
	require.NotNil(t, dispatch)
	require.Equal(t, traceID, dispatch.SpanContext().TraceID())
	require.Equal(t, request.SpanContext().SpanID(), dispatch.Parent().SpanID())
	require.Equal(t, trace.SpanKindProducer, dispatch.SpanKind())
	require.Equal(t, id.String(), attr(dispatch, "stent.execution_id").AsString())

	// Workflow attempts: children of the dispatch span, in the same trace.
	wfSpans := map[trace.SpanID]bool{}
	completed := 0
	for _, s := range wfProc.rec.Ended() {
		require.Equal(t, "stent.attempt trace.flow", s.Name())
		require.Equal(t, traceID, s.SpanContext().TraceID())
		require.Equal(t, dispatch.SpanContext().SpanID(), s.Parent().SpanID())
		require.True(t, s.Parent().IsRemote(), "the parent comes from the database")
		require.Equal(t, "workflow", attr(s, "stent.kind").AsString())
		require.Equal(t, id.String(), attr(s, "stent.execution_id").AsString())
		outcome := attr(s, "stent.outcome").AsString()
		require.Contains(t, []string{"completed", "suspended"}, outcome)
		if outcome == "completed" {
			completed++
		}
		wfSpans[s.SpanContext().SpanID()] = true
	}
	require.Equal(t, 1, completed)

	// Activity attempts, on the other worker: children of a workflow attempt span.
	actSpans := actProc.rec.Ended()
	require.Len(t, actSpans, int(actRuns.Load()), "one span per attempt")
	retried := 0
	for _, s := range actSpans {
		require.Equal(t, "stent.attempt trace.act", s.Name())
		require.Equal(t, traceID, s.SpanContext().TraceID())
		require.True(t, wfSpans[s.Parent().SpanID()], "an activity's parent is a workflow attempt span")
		require.Equal(t, "activity", attr(s, "stent.kind").AsString())
		require.Equal(t, id.String(), attr(s, "stent.execution_id").AsString())
		require.Positive(t, attr(s, "stent.task_id").AsInt64())
		switch attr(s, "stent.outcome").AsString() {
		case "retried":
			retried++
			require.Equal(t, codes.Error, s.Status().Code)
			require.EqualValues(t, 1, attr(s, "stent.attempt").AsInt64())
		case "completed":
			require.Equal(t, codes.Ok, s.Status().Code)
		default:
			t.Fatalf("unexpected outcome %q", attr(s, "stent.outcome").AsString())
		}
	}
	require.Equal(t, 1, retried)
	require.Equal(t, int(actRuns.Load()), 5)

	// Logs: the retried attempt is a warning with every id and the trace id; completions are
	// debug events; no payload is logged.
	warned := 0
	for _, ev := range actProc.logs.events(t) {
		if ev["message"] == "stent: attempt failed; will retry" {
			warned++
			require.Equal(t, "warn", ev["level"])
			require.Equal(t, id.String(), ev["execution_id"])
			require.Equal(t, "trace.act", ev["function"])
			require.EqualValues(t, 1, ev["attempt"])
			require.NotZero(t, ev["task_id"])
			require.Equal(t, traceID.String(), ev["trace_id"])
		}
		if ev["message"] == "stent: attempt completed" {
			require.Equal(t, "debug", ev["level"])
			require.Equal(t, traceID.String(), ev["trace_id"])
		}
	}
	require.Equal(t, 1, warned)
	for _, c := range []*tracedClient{front, wfProc, actProc} {
		c.logs.mu.Lock()
		require.NotContains(t, c.logs.b.String(), "secret", "payloads are not logged")
		c.logs.mu.Unlock()
	}
	require.Zero(t, b.queryInt("SELECT count(*) FROM stent.tasks WHERE execution_id = $1 AND kind IN ('workflow', 'activity') AND trace_context IS NULL", id),
		"every task stores its trace context")
}

// TestTraceContextOffByDefault: without a TracerProvider (the global one records nothing)
// nothing is stored with the tasks.
func TestTraceContextOffByDefault(t *testing.T) {
	t.Parallel()
	b := setup(t)
	act := stent.NewActivity("trace.off.act", func(ctx context.Context, n int) (int, error) { return n + 1, nil }, b.in())
	flow := stent.NewWorkflow("trace.off.flow", func(ctx stent.Context, n int) (int, error) { return act.Call(ctx, n) }, b.in())
	b.startWorker(worker.Config{})
	got, err := flow.Run(b.ctx(), b.client, 1)
	require.NoError(t, err)
	require.Equal(t, 2, got)
	require.EqualValues(t, 2, b.queryInt("SELECT count(*) FROM stent.tasks"))
	require.Zero(t, b.queryInt("SELECT count(*) FROM stent.tasks WHERE trace_context IS NOT NULL"))
}

// TestTraceContextFromSQL: an execution dispatched from SQL with a W3C traceparent (another
// program's trace) runs in that trace; a malformed trace context is refused and creates
// nothing.
func TestTraceContextFromSQL(t *testing.T) {
	t.Parallel()
	b := setup(t)
	done := make(chan struct{})
	stent.NewActivity("trace.sql", func(ctx context.Context, n int) (int, error) {
		close(done)
		return n, nil
	}, b.in())
	proc := newTracedClient(t, b)
	stop := proc.run(t, worker.Config{})
	const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	var execID uuid.UUID
	require.NoError(t, b.pool.QueryRow(b.ctx(),
		`SELECT execution_id FROM stent.dispatch('trace.sql', '1', p_trace_context => jsonb_build_object('traceparent', $1::text))`,
		traceparent).Scan(&execID))
	receive(t, done, "the attempt")
	_, err := b.client.Wait(b.ctx(), execID)
	require.NoError(t, err)
	stop()
	spans := proc.rec.Ended()
	require.Len(t, spans, 1)
	require.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", spans[0].SpanContext().TraceID().String())
	require.Equal(t, "00f067aa0ba902b7", spans[0].Parent().SpanID().String())

	_, err = b.pool.Exec(b.ctx(), `SELECT stent.dispatch('trace.sql', '1', p_trace_context => '"not an object"')`)
	require.ErrorContains(t, err, "trace_context must be an object")
	require.EqualValues(t, 1, b.queryInt("SELECT count(*) FROM stent.executions"))
}

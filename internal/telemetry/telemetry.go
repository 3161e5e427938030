// Package telemetry holds what the stent and worker packages share for tracing: the tracer
// name, the span attribute keys, and the encoding of the W3C trace context stored with each
// task (stent.tasks.trace_context), so that an attempt's span continues the trace of whoever
// created its task, in any process.
package telemetry

import (
	"context"
	"encoding/json"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// TracerName names Stent's tracer (the instrumentation scope).
const TracerName = "github.com/stentdev/stent"

// Span attribute keys.
const (
	AttrFunction    = attribute.Key("stent.function")
	AttrKind        = attribute.Key("stent.kind")
	AttrQueue       = attribute.Key("stent.queue")
	AttrAttempt     = attribute.Key("stent.attempt")
	AttrExecutionID = attribute.Key("stent.execution_id")
	AttrTaskID      = attribute.Key("stent.task_id")
	AttrWorkerID    = attribute.Key("stent.worker_id")
	AttrOutcome     = attribute.Key("stent.outcome")
	AttrCount       = attribute.Key("stent.dispatch.count")
	AttrCreated     = attribute.Key("stent.dispatch.created")
)

// propagator is always W3C Trace Context: what is stored must be readable by every worker,
// whatever propagator the process configured globally (the global default propagates nothing).
var propagator = propagation.TraceContext{}

// Inject returns ctx's span context as a JSON object of W3C headers, or nil when ctx carries
// no valid span context (tracing off: nothing is stored, nothing is allocated).
func Inject(ctx context.Context) json.RawMessage {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return nil
	}
	carrier := propagation.MapCarrier{}
	propagator.Inject(ctx, carrier)
	b, err := json.Marshal(carrier)
	if err != nil {
		return nil
	}
	return b
}

// Extract returns ctx carrying the remote span context stored as JSON by Inject; ctx itself
// when stored is empty or unreadable.
func Extract(ctx context.Context, stored []byte) context.Context {
	if len(stored) == 0 {
		return ctx
	}
	carrier := propagation.MapCarrier{}
	if err := json.Unmarshal(stored, &carrier); err != nil {
		return ctx
	}
	return propagator.Extract(ctx, carrier)
}

// TraceID returns the trace id of ctx's span, or "" when there is none (for log fields).
func TraceID(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.HasTraceID() {
		return ""
	}
	return sc.TraceID().String()
}

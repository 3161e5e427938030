package worker

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/stentdev/stent/internal/hub"
	"github.com/stentdev/stent/internal/store"
	"github.com/stentdev/stent/internal/telemetry"
	"github.com/stentdev/stent/stent"
)

// consumerSpan are the attempt spans' start options, built once (no allocation per attempt).
var consumerSpan = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindConsumer)}

// spanNames holds "stent.attempt <function>" per function the worker runs, built once so
// that starting a span allocates no name.
func spanNames(functions []string) map[string]string {
	m := make(map[string]string, len(functions))
	for _, f := range functions {
		m[f] = "stent.attempt " + f
	}
	return m
}

// claimed reports a claimed task to the metrics: lag is how long it had been due, on the
// database clock (its started_at is the claim time).
func (w *Worker) claimed(t *store.Task) {
	var lag time.Duration
	if t.StartedAt != nil {
		lag = max(t.StartedAt.Sub(t.RunAt), 0)
	}
	w.metrics.TaskClaimed(t.Name, t.Queue, lag)
}

// startSpan starts the attempt's span as a child of the context stored with the task (the
// dispatch, or the attempt of the workflow that called it), so that a workflow's tree is one
// trace whichever workers run its parts. With tracing off it costs a context and no name.
func (w *Worker) startSpan(a *attempt) context.Context {
	t := a.task
	ctx := telemetry.Extract(a.ctx, t.TraceContext)
	name, ok := w.spanNames[t.Name]
	if !ok {
		name = "stent.attempt " + t.Name
	}
	ctx, span := w.tracer.Start(ctx, name, consumerSpan...)
	if span.IsRecording() {
		span.SetAttributes(
			telemetry.AttrFunction.String(t.Name), telemetry.AttrKind.String(t.Kind),
			telemetry.AttrQueue.String(t.Queue), telemetry.AttrAttempt.Int(int(t.Attempt)),
			telemetry.AttrExecutionID.String(t.ExecutionID.String()), telemetry.AttrTaskID.Int64(t.ID),
			telemetry.AttrWorkerID.String(w.cfg.ID))
	}
	a.span = span
	return ctx
}

// finish reports an attempt's outcome once: to the metrics (with how long its function ran),
// to its span (ended here, with an error status when it failed) and, for a root task that
// ended its execution, as a finished execution.
func (w *Worker) finish(a *attempt, outcome stent.AttemptOutcome, err error) {
	t := a.task
	switch { // a workflow of this process waiting for the task resumes now
	case outcome == stent.OutcomeCompleted && a.out != nil: // (transactional completions keep no copy)
		hub.Finished(t.ExecutionID, t.ID, &hub.Outcome{State: "completed", Output: a.out})
	case outcome == stent.OutcomeCompleted, outcome == stent.OutcomeDeadLettered:
		hub.Finished(t.ExecutionID, t.ID, nil)
	}
	w.metrics.AttemptFinished(t.Name, t.Queue, outcome, a.ran)
	if !t.ParentTaskID.Valid {
		switch outcome {
		case stent.OutcomeCompleted:
			w.metrics.ExecutionFinished(t.Name, stent.StateCompleted)
		case stent.OutcomeDeadLettered:
			w.metrics.ExecutionFinished(t.Name, stent.StateFailed)
		}
	}
	if a.span == nil {
		return
	}
	if a.span.IsRecording() {
		a.span.SetAttributes(telemetry.AttrOutcome.String(string(outcome)))
		switch outcome {
		case stent.OutcomeRetried, stent.OutcomeDeadLettered, stent.OutcomeUnrecorded:
			if err != nil {
				a.span.RecordError(err)
				a.span.SetStatus(codes.Error, err.Error())
			} else {
				a.span.SetStatus(codes.Error, string(outcome))
			}
		case stent.OutcomeCompleted:
			a.span.SetStatus(codes.Ok, "")
		}
	}
	a.span.End()
}

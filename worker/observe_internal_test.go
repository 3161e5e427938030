package worker

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel"

	"github.com/stentdev/stent/internal/store"
	"github.com/stentdev/stent/internal/telemetry"
	"github.com/stentdev/stent/stent"
)

// TestObservabilityOffIsCheap: with the defaults (NopMetrics, the global tracer provider that
// records nothing, no stored trace context) the per-attempt observability work — claim
// report, span start, outcome report — allocates only the non-recording span and its context.
// Not parallel: AllocsPerRun counts every goroutine's allocations, and parallel tests only
// resume once the sequential ones have finished.
func TestObservabilityOffIsCheap(t *testing.T) {
	w := &Worker{
		metrics:   stent.NopMetrics{},
		tracer:    otel.GetTracerProvider().Tracer(telemetry.TracerName),
		spanNames: spanNames([]string{"cheap.fn"}),
	}
	now := time.Now()
	task := &store.Task{ID: 1, ExecutionID: uuid.New(), Name: "cheap.fn", Kind: "activity", Queue: "default",
		Attempt: 1, RunAt: now, StartedAt: &now}
	ctx := context.Background()
	allocs := testing.AllocsPerRun(1000, func() {
		a := attempt{task: task, ctx: ctx}
		w.claimed(task)
		_ = w.startSpan(&a)
		w.finish(&a, stent.OutcomeCompleted, nil)
	})
	t.Logf("allocations per attempt: %.0f", allocs)
	if allocs > 3 {
		t.Fatalf("observability off costs %.0f allocations per attempt, want at most 3", allocs)
	}
	if got := telemetry.Inject(ctx); got != nil {
		t.Fatalf("nothing is stored when not traced, got %s", got)
	}
}

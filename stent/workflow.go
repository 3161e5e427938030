package stent

import (
	"context"
	"errors"
	"fmt"

	"github.com/stentdev/stent/internal/store"
	"github.com/stentdev/stent/internal/telemetry"
)

// Workflow is a typed, deterministic function whose durable calls are checkpointed: each call
// takes the next position in the workflow, and when the workflow runs again — after a
// failure, a retry or a crash — a call already recorded returns its recorded result without
// running again. Create it with NewWorkflow at package level; it registers itself in
// DefaultRegistry. Dispatch, wait for and run it like an activity.
//
// Workflow code must be deterministic: the same input must make the same durable calls in the
// same order. Read the time and random values through Now, UUID and Rand, and do I/O in
// steps. A call whose recorded name differs from the one made fails the execution with a
// *NonDeterminismError.
type Workflow[In, Out any] struct {
	handle[In, Out]
	fn   func(Context, In) (Out, error)
	opts FunctionOptions
}

// NewWorkflow defines and registers a workflow. It panics on an invalid name or option, or a
// name registered twice (programmer errors).
func NewWorkflow[In, Out any](name string, fn func(ctx Context, in In) (Out, error), opts ...Option) *Workflow[In, Out] {
	c := buildDef(name, opts)
	w := &Workflow[In, Out]{handle: handle[In, Out]{name: name}, fn: fn, opts: c.opts}
	if err := c.registry.Register(w); err != nil {
		panic(err)
	}
	return w
}

// Kind returns KindWorkflow.
func (w *Workflow[In, Out]) Kind() string { return KindWorkflow }

// Options returns the definition's settings with defaults applied.
func (w *Workflow[In, Out]) Options() FunctionOptions { return w.opts }

// Transactional is false: a workflow's steps commit one by one.
func (w *Workflow[In, Out]) Transactional() bool { return false }

// Invoke runs the workflow code once for a worker: it loads every checkpoint of the task in
// one query, runs the code (recorded calls return their results), and encodes the output.
func (w *Workflow[In, Out]) Invoke(ctx context.Context, inv Invocation) ([]byte, error) {
	var in In
	if err := inv.Codec.Unmarshal(inv.Input, &in); err != nil {
		return nil, &DecodeError{Name: w.name, What: "input", Err: err}
	}
	if inv.Pool == nil {
		return nil, fmt.Errorf("stent: workflow %s invoked without a pool", w.name)
	}
	rt := &runtime{st: store.New(inv.Pool), pool: inv.Pool, taskID: inv.TaskID, token: inv.Token, codec: inv.Codec, limit: inv.MaxPayloadBytes,
		residentWait: inv.ResidentWait, onWait: inv.OnWait, traceContext: telemetry.Inject(ctx)}
	if err := rt.load(ctx); err != nil {
		return nil, err
	}
	out, err := w.fn(&workflowContext{Context: ctx, rt: rt}, in)
	if stop := rt.stopped(); stop != nil {
		return nil, stop // a fatal error, or a suspension, whatever the code returned
	}
	if err != nil {
		return nil, err
	}
	b, err := encodePayload(inv.Codec, inv.MaxPayloadBytes, "output of "+w.name, out)
	if err != nil {
		return nil, Permanent(err)
	}
	return b, nil
}

// NonDeterminismError: on a replay, the durable call at Position is not the one recorded
// there (the code changed, or it is not deterministic). It fails the execution for good.
type NonDeterminismError struct {
	Position int
	Recorded string // kind:name recorded at the position
	Called   string // kind:name the code called
}

func (e *NonDeterminismError) Error() string {
	return fmt.Sprintf("stent: non-deterministic workflow: call %d is %s but %s was recorded there", e.Position, e.Called, e.Recorded)
}

// ErrorKind classifies the error as "non_determinism".
func (e *NonDeterminismError) ErrorKind() string { return KindNonDeterminism }

// KindNonDeterminism is the error kind of a *NonDeterminismError.
const KindNonDeterminism = "non_determinism"

var errNotInWorkflow = errors.New("stent: not called with the Context of a running workflow")

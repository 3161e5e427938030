package stent

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stentdev/stent/internal/store"
)

// Context is the context.Context of a running workflow; durable calls take it.
type Context interface {
	context.Context
	workflowRuntime() *runtime
}

type workflowContext struct {
	context.Context
	rt *runtime
}

func (c *workflowContext) workflowRuntime() *runtime { return c.rt }

// runtime is one attempt's view of a workflow task: its checkpoints by position, the next
// position, and the first error that must fail the execution whatever the code returns.
type runtime struct {
	st     *store.Store
	pool   *pgxpool.Pool // inline steps are checkpointed in batches per pool (step_batch.go)
	taskID int64
	token  int64
	codec  Codec
	limit  int

	residentWait time.Duration
	onWait       func(bool)
	// traceContext is the attempt span's context (W3C headers as JSON), stored with every
	// child so that its attempts join the workflow's trace; nil when not traced.
	traceContext json.RawMessage

	mu          sync.Mutex
	checkpoints map[int32]*store.Task
	seq         int32
	fatal       error
	suspension  *Suspension
}

// load reads every checkpoint of the task in one query.
func (rt *runtime) load(ctx context.Context) error {
	rows, err := rt.st.ListChildren(ctx, rt.taskID)
	if err != nil {
		return err
	}
	rt.checkpoints = make(map[int32]*store.Task, len(rows))
	for _, r := range rows {
		rt.checkpoints[r.Seq.Int32] = r
	}
	return nil
}

// next reserves the next position and returns what is recorded there, if anything.
func (rt *runtime) next() (int32, *store.Task) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	seq := rt.seq
	rt.seq++
	return seq, rt.checkpoints[seq]
}

// fail records the error that ends the execution (the first one wins) and returns it.
func (rt *runtime) fail(err error) error {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.fatal == nil {
		rt.fatal = Permanent(err)
	}
	return rt.fatal
}

// failWrite ends the attempt after a checkpoint write (a database call) failed. It fails
// the execution for good, like fail, only when the database refused the write for a reason
// no later attempt can change (refused); a lost connection, a restarting server or a timeout
// fails just this attempt, which is retried per the workflow's policy and replays from its
// checkpoints.
func (rt *runtime) failWrite(err error) error {
	if refused(err) {
		return rt.fail(err)
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.fatal == nil {
		rt.fatal = err
	}
	return rt.fatal
}

// refused reports whether a database call failed for a reason that retrying cannot change:
// an invalid argument, an oversized payload, a missing row, a wrong state or a missing schema.
func refused(err error) bool {
	var ia *InvalidArgumentError
	var sia *store.InvalidArgumentError
	return errors.As(err, &ia) || errors.As(err, &sia) || errors.Is(err, ErrPayloadTooLarge) ||
		errors.Is(err, ErrNotFound) || errors.Is(err, ErrWrongState) || errors.Is(err, ErrSchemaMissing)
}

func (rt *runtime) fatalError() error {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.fatal
}

// check compares a recorded call with the one made at its position.
func (rt *runtime) check(seq int32, cp *store.Task, kind, name string) error {
	if cp.Kind == kind && cp.Name == name {
		return nil
	}
	return rt.fail(&NonDeterminismError{Position: int(seq), Recorded: cp.Kind + ":" + cp.Name, Called: kind + ":" + name})
}

// Step runs fn inline, in the workflow's goroutine, and checkpoints its result in one
// statement: when the workflow runs again, Step returns the recorded result without calling
// fn. An error from fn is not recorded (the step runs again when the workflow is retried) and
// is returned to the workflow code. Use steps for work that needs no queue, retry policy or
// worker of its own; the step's result must be encodable by the client's codec.
func Step[T any](ctx Context, name string, fn func(context.Context) (T, error)) (T, error) {
	var zero T
	rt := ctx.workflowRuntime()
	if rt == nil {
		return zero, errNotInWorkflow
	}
	if err := rt.stopped(); err != nil {
		return zero, err
	}
	if err := ValidateName("step name", name); err != nil {
		return zero, err
	}
	seq, cp := rt.next()
	if cp == nil {
		v, err := fn(ctx)
		if err != nil {
			return zero, err
		}
		b, err := encodePayload(rt.codec, rt.limit, "output of step "+name, v)
		if err != nil {
			return zero, rt.fail(err)
		}
		if cp, err = rt.recordStep(seq, name, b); err != nil {
			return zero, rt.failWrite(err)
		}
	}
	if err := rt.check(seq, cp, "step", name); err != nil {
		return zero, err
	}
	var v T
	if err := rt.codec.Unmarshal(cp.Output, &v); err != nil {
		return zero, rt.fail(&DecodeError{Name: name, What: "recorded step output", Err: err})
	}
	return v, nil
}

// recordStep checkpoints an inline step's output at seq: through the pool's step batcher
// when the runtime has a pool, else (tests) with one statement.
func (rt *runtime) recordStep(seq int32, name string, output []byte) (*store.Task, error) {
	if rt.pool == nil {
		return rt.st.RecordStep(context.Background(), rt.taskID, rt.token, seq, name, output)
	}
	res, err := recordStep(rt.pool, store.StepRecord{Parent: rt.taskID, Token: rt.token, Seq: seq, Name: name, Output: output})
	if err != nil {
		return nil, err
	}
	return &store.Task{Kind: res.Kind, Name: res.Name, Output: res.Output}, nil
}

// callChild records a child call at seq: through the pool's call batcher when the runtime has
// a pool, else (tests) with one statement.
func (rt *runtime) callChild(ctx context.Context, seq int32, req []byte) (*store.Task, error) {
	if rt.pool == nil {
		return rt.st.CallChild(ctx, rt.taskID, rt.token, seq, req)
	}
	return recordCall(rt.pool, store.ChildCall{Parent: rt.taskID, Token: rt.token, Seq: seq, Request: req})
}

// callChildren records a workflow's calls at once (a fan-out), in statements of up to
// maxBatch; without a pool (tests), one statement per call.
func (rt *runtime) callChildren(ctx context.Context, calls []store.ChildCall) ([]*store.Task, error) {
	if rt.pool != nil {
		return callChildren(ctx, rt.pool, calls)
	}
	out := make([]*store.Task, len(calls))
	for i, c := range calls {
		row, err := rt.st.CallChild(ctx, c.Parent, c.Token, c.Seq, c.Request)
		if err != nil {
			return nil, err
		}
		out[i] = row
	}
	return out, nil
}

// recorded returns a value produced once and replayed after (Now, UUID, Rand). A failure to
// record it fails the attempt; the fresh value is returned meanwhile.
func recorded[T any](ctx Context, name string, fresh func() T) T {
	v, err := Step(ctx, name, func(context.Context) (T, error) { return fresh(), nil })
	if err != nil {
		if rt := ctx.workflowRuntime(); rt != nil {
			rt.fail(err)
		}
		return fresh()
	}
	return v
}

// Now returns the current time on the database clock (stent.current_time(), the clock of
// every Stent decision, so a worker whose own clock is off still sees the time its sleeps and
// deadlines are measured in), recorded on the first run and the same on every replay.
func Now(ctx Context) time.Time {
	rt := ctx.workflowRuntime()
	if rt == nil {
		return time.Now().UTC()
	}
	v, err := Step(ctx, "stent.now", func(c context.Context) (time.Time, error) {
		t, err := rt.st.CurrentTime(c)
		return t.UTC(), err
	})
	if err != nil {
		rt.fail(err)
		return time.Now().UTC()
	}
	return v
}

// UUID returns a random UUID, recorded on the first run and the same on every replay.
func UUID(ctx Context) uuid.UUID {
	return recorded(ctx, "stent.uuid", uuid.New)
}

// Rand returns a random float64 in [0, 1), recorded on the first run and the same on every
// replay.
func Rand(ctx Context) float64 {
	return recorded(ctx, "stent.rand", rand.Float64)
}

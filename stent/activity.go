package stent

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Activity is a typed function run by workers as a distributed task, with its own queue,
// retry policy, timeout and routing. It is at-least-once: a crashed attempt runs again after
// its lease expires; its result is recorded once. Create it with NewActivity (or
// NewTxActivity) at package level; it registers itself in DefaultRegistry.
type Activity[In, Out any] struct {
	handle[In, Out]
	fn   func(context.Context, In) (Out, error)
	txFn func(context.Context, pgx.Tx, In) (Out, error)
	opts FunctionOptions
}

// NewActivity defines and registers an activity. It panics on an invalid name or option, or
// a name registered twice (programmer errors, like an invalid regexp in regexp.MustCompile).
func NewActivity[In, Out any](name string, fn func(ctx context.Context, in In) (Out, error), opts ...Option) *Activity[In, Out] {
	c := buildDef(name, opts)
	a := &Activity[In, Out]{handle: handle[In, Out]{name: name}, fn: fn, opts: c.opts}
	if err := c.registry.Register(a); err != nil {
		panic(err)
	}
	return a
}

// NewTxActivity defines a transactional activity: fn receives the pgx transaction in which
// the attempt's completion is committed, so its database writes and its completion are
// atomic (exactly-once database effects). If fn returns an error, or the attempt lost its
// lease, the transaction rolls back and nothing fn wrote remains.
func NewTxActivity[In, Out any](name string, fn func(ctx context.Context, tx pgx.Tx, in In) (Out, error), opts ...Option) *Activity[In, Out] {
	c := buildDef(name, opts)
	a := &Activity[In, Out]{handle: handle[In, Out]{name: name}, txFn: fn, opts: c.opts}
	if err := c.registry.Register(a); err != nil {
		panic(err)
	}
	return a
}

// Kind returns KindActivity.
func (a *Activity[In, Out]) Kind() string { return KindActivity }

// Options returns the definition's settings with defaults applied.
func (a *Activity[In, Out]) Options() FunctionOptions { return a.opts }

// Transactional reports whether the activity was made with NewTxActivity.
func (a *Activity[In, Out]) Transactional() bool { return a.txFn != nil }

// Invoke runs one attempt for a worker: decode, call, encode.
func (a *Activity[In, Out]) Invoke(ctx context.Context, inv Invocation) ([]byte, error) {
	var in In
	if err := inv.Codec.Unmarshal(inv.Input, &in); err != nil {
		return nil, &DecodeError{Name: a.name, What: "input", Err: err}
	}
	var (
		out Out
		err error
	)
	if a.txFn != nil {
		if inv.Tx == nil {
			return nil, fmt.Errorf("stent: transactional activity %s invoked without a transaction", a.name)
		}
		out, err = a.txFn(ctx, inv.Tx, in)
	} else {
		out, err = a.fn(ctx, in)
	}
	if err != nil {
		return nil, err
	}
	b, err := encodePayload(inv.Codec, inv.MaxPayloadBytes, "output of "+a.name, out)
	if err != nil {
		return nil, Permanent(err)
	}
	return b, nil
}

func dispatchMany[In any](ctx context.Context, c *Client, name string, ins []In, opts []DispatchOption) ([]uuid.UUID, error) {
	def, err := c.registry.require(name)
	if err != nil {
		return nil, err
	}
	reqs := make([]dispatchRequest, len(ins))
	for i, in := range ins {
		r, err := c.newRequest(def, in, opts)
		if err != nil {
			return nil, fmt.Errorf("item %d: %w", i, err)
		}
		reqs[i] = r
	}
	res, err := c.dispatch(ctx, c.store, reqs)
	if err != nil {
		return nil, err
	}
	ids := make([]uuid.UUID, len(res))
	for i, r := range res {
		ids[i] = r.ExecutionID
	}
	return ids, nil
}

func waitTyped[Out any](ctx context.Context, c *Client, name string, id uuid.UUID) (Out, error) {
	var out Out
	e, err := c.Wait(ctx, id)
	if err != nil {
		return out, err
	}
	if e.Workflow != name {
		return out, &InvalidArgumentError{Arg: "execution id", Reason: fmt.Sprintf("execution %s runs %s, not %s", id, e.Workflow, name)}
	}
	if err := c.codec.Unmarshal(e.Output, &out); err != nil {
		return out, &DecodeError{Name: name, What: "output", Err: err}
	}
	return out, nil
}

package stent

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// handle gives typed definitions (Activity, Workflow) their dispatch and wait methods.
type handle[In, Out any] struct {
	name string
}

// Name returns the registered name.
func (a *handle[In, Out]) Name() string { return a.name }

// Dispatch starts an execution of the function and returns its id.
func (a *handle[In, Out]) Dispatch(ctx context.Context, c *Client, in In, opts ...DispatchOption) (uuid.UUID, error) {
	return c.dispatchOne(ctx, c.store, a.name, in, opts)
}

// DispatchTx is Dispatch inside the caller's transaction: rolled back, nothing exists and no
// worker is notified.
func (a *handle[In, Out]) DispatchTx(ctx context.Context, c *Client, tx pgx.Tx, in In, opts ...DispatchOption) (uuid.UUID, error) {
	return c.dispatchOne(ctx, c.store.WithTx(tx), a.name, in, opts)
}

// DispatchMany starts one execution per input in a single statement and returns their ids in
// input order. The options apply to every execution (an idempotency key would make them one:
// use Dispatch per item for keyed dispatches).
func (a *handle[In, Out]) DispatchMany(ctx context.Context, c *Client, ins []In, opts ...DispatchOption) ([]uuid.UUID, error) {
	return dispatchMany(ctx, c, a.name, ins, opts)
}

// Wait blocks until the execution finishes and returns its typed result, or an
// *ExecutionError (matching ErrCancelled / ErrTimedOut) when it did not complete.
func (a *handle[In, Out]) Wait(ctx context.Context, c *Client, id uuid.UUID) (Out, error) {
	return waitTyped[Out](ctx, c, a.name, id)
}

// Run dispatches and waits: the Go counterpart of calling the function directly.
func (a *handle[In, Out]) Run(ctx context.Context, c *Client, in In, opts ...DispatchOption) (Out, error) {
	id, err := a.Dispatch(ctx, c, in, opts...)
	if err != nil {
		var zero Out
		return zero, err
	}
	return a.Wait(ctx, c, id)
}

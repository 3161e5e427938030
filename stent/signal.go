package stent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// ErrSignalTimeout is returned by WaitSignal when no signal arrived before its timeout.
var ErrSignalTimeout = errors.New("stent: timed out waiting for a signal")

// Signal sends a signal named name with payload (encoded with the client's codec) to an
// execution. Signals of one name are delivered in the order sent, each to one WaitSignal, and
// are kept until a wait consumes them. It returns ErrNotFound for an unknown execution and
// ErrWrongState for a finished one.
func (c *Client) Signal(ctx context.Context, executionID uuid.UUID, name string, payload any) error {
	if err := ValidateName("signal name", name); err != nil {
		return err
	}
	b, err := encodePayload(c.codec, c.cfg.MaxPayloadBytes, "signal payload", payload)
	if err != nil {
		return err
	}
	_, err = c.store.SendSignal(ctx, executionID, name, b)
	return mapStoreError(err)
}

// WaitSignal waits durably for the next signal named name sent to the workflow's execution
// and returns its payload. A signal sent earlier is delivered at once; otherwise the workflow
// is parked (no goroutine, no slot) until a signal arrives or timeout passes, measured once
// from the first time this wait ran. Past the timeout it returns ErrSignalTimeout.
func WaitSignal[T any](ctx Context, name string, timeout time.Duration) (T, error) {
	var zero T
	rt := ctx.workflowRuntime()
	if rt == nil {
		return zero, errNotInWorkflow
	}
	if err := rt.stopped(); err != nil {
		return zero, err
	}
	if err := ValidateName("signal name", name); err != nil {
		return zero, err
	}
	if timeout <= 0 {
		return zero, &InvalidArgumentError{Arg: "signal timeout", Reason: fmt.Sprintf("must be positive, got %s", timeout)}
	}
	seq, _ := rt.next()
	w, err := rt.st.WaitSignal(ctx, rt.taskID, rt.token, seq, name, timeout)
	if err != nil {
		return zero, rt.failWrite(err)
	}
	switch w.State {
	case "received":
		var v T
		if err := rt.codec.Unmarshal(w.Payload, &v); err != nil {
			return zero, rt.fail(&DecodeError{Name: name, What: "signal payload", Err: err})
		}
		return v, nil
	case "timed_out":
		return zero, ErrSignalTimeout
	case "parked":
		rt.mu.Lock()
		defer rt.mu.Unlock()
		rt.suspension = &Suspension{Parked: true}
		return zero, rt.suspension
	}
	var recorded string
	_ = rt.codec.Unmarshal(w.Payload, &recorded)
	return zero, rt.fail(&NonDeterminismError{Position: int(seq), Recorded: recorded, Called: "signal:" + name})
}

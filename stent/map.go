package stent

import (
	"errors"

	"github.com/stentdev/stent/internal/store"
)

// Result is one item of MapResults: the item's output, or its error.
type Result[T any] struct {
	Value T
	Err   error
}

// Map fans out: it calls the activity once per input, all at once, as checkpointed children
// (one statement each), and returns the outputs in input order. The workflow is suspended
// until every child has finished and woken once, not once per child. The first failure in
// input order is returned as soon as it is known (the other children keep running; use
// MapResults to collect every item's outcome instead).
func (a *Activity[In, Out]) Map(ctx Context, inputs []In) ([]Out, error) {
	results, err := mapChildren[In, Out](ctx, a, inputs, true)
	if err != nil {
		return nil, err
	}
	out := make([]Out, len(results))
	for i, r := range results {
		if r.Err != nil {
			return nil, r.Err
		}
		out[i] = r.Value
	}
	return out, nil
}

// MapResults is Map that waits for every item and reports each item's output or error, in
// input order, instead of failing on the first error.
func (a *Activity[In, Out]) MapResults(ctx Context, inputs []In) ([]Result[Out], error) {
	return mapChildren[In, Out](ctx, a, inputs, false)
}

// mapChildren records (or finds) one child per input at consecutive positions, then returns
// their results when all have finished (or, with failFast, when one has failed), suspending
// the workflow on every unfinished child otherwise.
func mapChildren[In, Out any](ctx Context, def Definition, inputs []In, failFast bool) ([]Result[Out], error) {
	rt := ctx.workflowRuntime()
	if rt == nil {
		return nil, errNotInWorkflow
	}
	if err := rt.stopped(); err != nil {
		return nil, err
	}
	rows := make([]*store.Task, len(inputs))
	var calls []store.ChildCall // the positions not recorded yet, recorded in one statement
	var at []int
	for i, in := range inputs {
		seq, cp := rt.next()
		if cp == nil {
			req, err := childRequest(rt, def, in)
			if err != nil {
				return nil, rt.fail(err)
			}
			calls = append(calls, store.ChildCall{Parent: rt.taskID, Token: rt.token, Seq: seq, Request: req})
			at = append(at, i)
			continue
		}
		if err := rt.check(seq, cp, def.Kind(), def.Name()); err != nil {
			return nil, err
		}
		rows[i] = cp
	}
	if len(calls) > 0 {
		recorded, err := rt.callChildren(ctx, calls)
		if err != nil {
			return nil, rt.failWrite(err)
		}
		for j, cp := range recorded {
			if err := rt.check(calls[j].Seq, cp, def.Kind(), def.Name()); err != nil {
				return nil, err
			}
			rows[at[j]] = cp
		}
	}

	results := make([]Result[Out], len(rows))
	var open []int64
	for i, cp := range rows {
		switch cp.State {
		case "completed":
			if err := rt.codec.Unmarshal(cp.Output, &results[i].Value); err != nil {
				return nil, rt.fail(&DecodeError{Name: def.Name(), What: "recorded output", Err: err})
			}
		case "failed":
			results[i].Err = decodeTaskError(cp.Error)
			if failFast {
				return results, nil
			}
		case "cancelled":
			results[i].Err = ErrCancelled
			if failFast {
				return results, nil
			}
		default:
			open = append(open, cp.ID)
		}
	}
	if len(open) == 0 {
		return results, nil
	}
	var err error
	for _, id := range open {
		err = rt.suspend(id)
	}
	var s *Suspension
	if !errors.As(err, &s) {
		return nil, err
	}
	return nil, s
}

package stent

import (
	"context"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/stentdev/stent/internal/store"
)

// dispatchSingle dispatches one request through stent.dispatch_one, leasing its task to a
// worker of this process when one can take it now (eager start).
func (c *Client) dispatchSingle(ctx context.Context, st *store.Store, r dispatchRequest) (store.Dispatched, error) {
	p := oneRequest(r)
	w, target, ok := c.reserveEager(st, r)
	if !ok {
		return st.DispatchOne(ctx, p, nil, nil)
	}
	// The statement's result decides at once: the worker starts the leased task, or gets
	// its slot back (also when the dispatch failed before a result).
	decided := false
	d, err := st.DispatchOne(ctx, p, &target, func(d store.Dispatched) {
		decided = true
		if d.LeaseToken == 0 {
			w.Release()
			return
		}
		w.Start(leasedTask(r, d, target))
	})
	if !decided {
		w.Release()
	}
	return d, err
}

// oneRequest is r as stent.dispatch_one's typed arguments.
func oneRequest(r dispatchRequest) *store.DispatchOneRequest {
	p := &store.DispatchOneRequest{
		Name: r.Name, Input: r.Input, Kind: r.Kind, Queue: r.Queue, Priority: int32(r.Priority),
		Tags: r.Tags, RunAt: r.RunAt, Deadline: r.Deadline, MaxAttempts: int32(r.MaxAttempts),
		RetryInitialDelayMs: r.RetryInitialMS, RetryBackoffFactor: r.RetryBackoffFactor,
		RetryMaxDelayMs: r.RetryMaxMS, RetryJitter: r.RetryJitter, RetryOn: r.RetryOn,
		KeyPath: r.KeyPath, TraceContext: r.TraceContext,
	}
	optFloat := func(v float64) pgtype.Float8 { return pgtype.Float8{Float64: v, Valid: v > 0} }
	optText := func(v string) pgtype.Text { return pgtype.Text{String: v, Valid: v != ""} }
	p.DelayMs, p.MaxDurationMs, p.TimeoutMs = optFloat(r.DelayMS), optFloat(r.MaxDurationMS), optFloat(r.TimeoutMS)
	p.IdempotencyKey, p.ConcurrencyKey = optText(r.IdempotencyKey), optText(r.ConcurrencyKey)
	return p
}

package stent

import (
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/stentdev/stent/internal/eager"
	"github.com/stentdev/stent/internal/store"
)

// reserveEager reserves a slot of a worker running in this process with this client for a
// single dispatch that is due now and not inside the caller's transaction (eager start; see
// internal/eager). Batches, delayed starts and transactional dispatches take the usual path.
func (c *Client) reserveEager(st *store.Store, r dispatchRequest) (eager.Worker, store.EagerTarget, bool) {
	if st != c.store || r.RunAt != nil || r.DelayMS > 0 {
		return nil, store.EagerTarget{}, false
	}
	return eager.Reserve(c, r.Name, r.Queue)
}

// leasedTask is the row stent.dispatch_one leased, rebuilt from the request and the
// lease: what a claim would have returned for it (first attempt, running, the root task
// carrying its execution's input).
func leasedTask(r dispatchRequest, d store.Dispatched, target store.EagerTarget) *store.Task {
	started := d.StartedAt
	expires := started.Add(target.Lease)
	t := &store.Task{
		ID: d.TaskID, ExecutionID: d.ExecutionID, Kind: r.Kind, Name: r.Name, State: "running",
		Queue: r.Queue, Priority: int16(r.Priority), Tags: r.Tags, Input: r.Input,
		Attempt: 1, MaxAttempts: int32(r.MaxAttempts),
		RetryInitialDelay:  msInterval(r.RetryInitialMS),
		RetryBackoffFactor: r.RetryBackoffFactor,
		RetryMaxDelay:      msInterval(r.RetryMaxMS),
		RetryJitter:        r.RetryJitter,
		RetryOn:            r.RetryOn,
		RunAt:              started,
		LeaseOwner:         pgtype.Text{String: target.WorkerID, Valid: true},
		LeaseToken:         d.LeaseToken,
		LeaseExpiresAt:     &expires,
		CreatedAt:          started,
		StartedAt:          &started,
		TraceContext:       r.TraceContext,
	}
	if d.Timeout > 0 {
		t.Timeout = pgtype.Interval{Microseconds: d.Timeout.Microseconds(), Valid: true}
	}
	if r.ConcurrencyKey != "" {
		t.ConcurrencyKey = pgtype.Text{String: r.ConcurrencyKey, Valid: true}
	}
	return t
}

func msInterval(ms float64) pgtype.Interval {
	return pgtype.Interval{Microseconds: int64(ms * 1000), Valid: true}
}

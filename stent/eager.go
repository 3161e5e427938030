package stent

import (
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/stentdev/stent/internal/eager"
	"github.com/stentdev/stent/internal/store"
)

// reserveEager reserves a slot of a worker running in this process with this client for a
// single dispatch that is due now and not inside the caller's transaction (eager start; see
// internal/eager). Batches, delayed starts and transactional dispatches take the usual path.
func (c *Client) reserveEager(st *store.Store, reqs []dispatchRequest) (eager.Worker, store.EagerTarget, bool) {
	if st != c.store || len(reqs) != 1 || reqs[0].RunAt != nil || reqs[0].DelayMS > 0 {
		return nil, store.EagerTarget{}, false
	}
	return eager.Reserve(c, reqs[0].Name, reqs[0].Queue)
}

// startEager hands each task the dispatch leased to the reserved worker, and gives back the
// slots it did not use.
func startEager(w eager.Worker, target store.EagerTarget, reqs []dispatchRequest, ds []store.Dispatched) {
	used := 0
	for i, d := range ds {
		if d.LeaseToken == 0 {
			continue
		}
		used++
		w.Start(leasedTask(reqs[i], d, target))
	}
	if unused := int(target.Slots) - used; unused > 0 {
		w.Release(unused)
	}
}

// leasedTask is the row stent.dispatch_eager leased, rebuilt from the request and the
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

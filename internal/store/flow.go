package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/stentdev/stent/db"
)

// Rows re-exported for flow control.
type (
	Limits = db.Limit
	Pause  = db.Pause
)

// LimitValues are a function's limits; zero values mean "no limit".
type LimitValues struct {
	MaxConcurrent, KeyMaxConcurrent int32
	Rate, KeyRate                   int32
	RatePeriod, KeyRatePeriod       time.Duration
}

// SetLimits overrides a function's limits at run time.
func (s *Store) SetLimits(ctx context.Context, name string, v LimitValues) error {
	i4 := func(n int32) pgtype.Int4 { return pgtype.Int4{Int32: n, Valid: n != 0} }
	f8 := func(d time.Duration) pgtype.Float8 { return pgtype.Float8{Float64: d.Seconds(), Valid: d != 0} }
	return mapError("set limits", s.q.LimitsSet(ctx, s.dbtx, &db.LimitsSetParams{
		Name: name, MaxConcurrent: i4(v.MaxConcurrent), KeyMaxConcurrent: i4(v.KeyMaxConcurrent),
		Rate: i4(v.Rate), RatePeriodSeconds: f8(v.RatePeriod), KeyRate: i4(v.KeyRate),
		KeyRatePeriodSeconds: f8(v.KeyRatePeriod),
	}))
}

// ResetLimits drops a run-time override; false when there was none.
func (s *Store) ResetLimits(ctx context.Context, name string) (bool, error) {
	ok, err := s.q.LimitsReset(ctx, s.dbtx, name)
	return ok, mapError("reset limits", err)
}

// ListLimits lists every function's limits.
func (s *Store) ListLimits(ctx context.Context) ([]*Limits, error) {
	ls, err := s.q.LimitsList(ctx, s.dbtx)
	return ls, mapError("list limits", err)
}

// Pause stops claims of a queue or function (kind "queue" or "function").
func (s *Store) Pause(ctx context.Context, kind, name string) error {
	return mapError("pause", s.q.PauseSet(ctx, s.dbtx, &db.PauseSetParams{Kind: kind, Name: name}))
}

// Resume lifts a pause; false when it was not paused.
func (s *Store) Resume(ctx context.Context, kind, name string) (bool, error) {
	ok, err := s.q.PauseResume(ctx, s.dbtx, &db.PauseResumeParams{Kind: kind, Name: name})
	return ok, mapError("resume", err)
}

// ListPauses lists the paused queues and functions.
func (s *Store) ListPauses(ctx context.Context) ([]*Pause, error) {
	ps, err := s.q.PauseList(ctx, s.dbtx)
	return ps, mapError("list pauses", err)
}

// Blocker is one reason a task is not running.
type Blocker struct {
	Reason  string
	Detail  string
	Until   *time.Time
	Holders []string
}

// TaskBlockers explains why a task is not running.
func (s *Store) TaskBlockers(ctx context.Context, taskID int64) ([]Blocker, error) {
	rows, err := s.q.TaskBlockers(ctx, s.dbtx, taskID)
	if err != nil {
		return nil, mapError("task blockers", err)
	}
	out := make([]Blocker, len(rows))
	for i, r := range rows {
		out[i] = Blocker{Reason: r.Reason, Detail: r.Detail, Holders: r.Holders}
		if !r.Until.Equal(time.Unix(0, 0)) {
			u := r.Until
			out[i].Until = &u
		}
	}
	return out, nil
}

// PruneFlowState deletes ended back-offs and empty rate windows.
func (s *Store) PruneFlowState(ctx context.Context) (int64, error) {
	n, err := s.q.FlowStatePrune(ctx, s.dbtx)
	return n, mapError("prune flow state", err)
}

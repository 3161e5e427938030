package store

import (
	"context"
	"time"

	"github.com/stentdev/stent/db"
)

// Aggregate rows for the operations commands (stats, watch, purge dry runs).
type (
	StateCount    = db.OpsExecutionCountsRow
	QueueDepth    = db.OpsQueueDepthsRow
	Throughput    = db.OpsThroughputRow
	PurgeEstimate = db.OpsPurgeCountRow
)

// Now reads the database clock (stent.current_time()).
func (s *Store) Now(ctx context.Context) (time.Time, error) {
	t, err := s.q.OpsNow(ctx, s.dbtx)
	return t, mapError("read the database clock", err)
}

// ExecutionCounts counts executions by state.
func (s *Store) ExecutionCounts(ctx context.Context) ([]*StateCount, error) {
	rows, err := s.q.OpsExecutionCounts(ctx, s.dbtx)
	return rows, mapError("count executions", err)
}

// TaskCounts counts tasks by state.
func (s *Store) TaskCounts(ctx context.Context) ([]*StateCount, error) {
	rows, err := s.q.OpsTaskCounts(ctx, s.dbtx)
	if err != nil {
		return nil, mapError("count tasks", err)
	}
	out := make([]*StateCount, len(rows))
	for i, r := range rows {
		out[i] = &StateCount{State: r.State, Count: r.Count}
	}
	return out, nil
}

// QueueDepths counts pending, due and running tasks per queue.
func (s *Store) QueueDepths(ctx context.Context) ([]*QueueDepth, error) {
	rows, err := s.q.OpsQueueDepths(ctx, s.dbtx)
	return rows, mapError("queue depths", err)
}

// DeadLetterCount counts dead letters.
func (s *Store) DeadLetterCount(ctx context.Context) (int64, error) {
	n, err := s.q.OpsDeadLetterCount(ctx, s.dbtx)
	return n, mapError("count dead letters", err)
}

// Throughput counts executions finished within window, by outcome.
func (s *Store) Throughput(ctx context.Context, window time.Duration) (*Throughput, error) {
	r, err := s.q.OpsThroughput(ctx, s.dbtx, window.Seconds())
	return r, mapError("throughput", err)
}

// PurgeEstimate counts what Purge would delete now.
func (s *Store) PurgeEstimate(ctx context.Context, olderThan time.Duration, deadLetters bool) (*PurgeEstimate, error) {
	r, err := s.q.OpsPurgeCount(ctx, s.dbtx, &db.OpsPurgeCountParams{OlderThanSeconds: olderThan.Seconds(), DeadLetters: deadLetters})
	return r, mapError("purge estimate", err)
}

package store

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/stentdev/stent/db"
)

// Listing rows for the operations commands.
type (
	ActiveExecution = db.OpsActiveExecutionsRow
	WorkerLoad      = db.OpsWorkerListRow
)

// TaskFilter selects tasks for ListTasksFiltered; zero fields do not filter.
type TaskFilter struct {
	State, Queue, Name, Kind, Worker string
	ExecutionID                      *uuid.UUID
	BeforeID                         int64 // keyset cursor: ids strictly below
	Limit                            int32
}

// ListTasksFiltered lists tasks newest first.
func (s *Store) ListTasksFiltered(ctx context.Context, f TaskFilter) ([]*Task, error) {
	p := &db.OpsTaskListParams{State: text(f.State), Queue: text(f.Queue), Name: text(f.Name), Kind: text(f.Kind),
		Worker: text(f.Worker), ExecutionID: f.ExecutionID, MaxRows: f.Limit}
	if f.BeforeID > 0 {
		p.BeforeID = pgtype.Int8{Int64: f.BeforeID, Valid: true}
	}
	rows, err := s.q.OpsTaskList(ctx, s.dbtx, p)
	return rows, mapError("list tasks", err)
}

// ActiveExecutions lists up to limit unfinished executions with their task counts.
func (s *Store) ActiveExecutions(ctx context.Context, limit int32) ([]*ActiveExecution, error) {
	rows, err := s.q.OpsActiveExecutions(ctx, s.dbtx, limit)
	return rows, mapError("active executions", err)
}

// RecentFinished lists up to limit of the newest finished executions.
func (s *Store) RecentFinished(ctx context.Context, limit int32) ([]*Execution, error) {
	rows, err := s.q.OpsRecentFinished(ctx, s.dbtx, limit)
	return rows, mapError("recent executions", err)
}

// WorkerLoads lists workers with the number of tasks each holds.
func (s *Store) WorkerLoads(ctx context.Context) ([]*WorkerLoad, error) {
	rows, err := s.q.OpsWorkerList(ctx, s.dbtx)
	return rows, mapError("list workers", err)
}

// DiscardDeadLetters discards up to limit dead letters older than olderThan (of one function
// when name is set) and returns how many it deleted.
func (s *Store) DiscardDeadLetters(ctx context.Context, name string, olderThan time.Duration, limit int32) (int64, error) {
	n, err := s.q.OpsDeadLetterDiscardBatch(ctx, s.dbtx, &db.OpsDeadLetterDiscardBatchParams{
		Name: text(name), OlderThanSeconds: olderThan.Seconds(), MaxRows: limit})
	return n, mapError("discard dead letters", err)
}

// CountDeadLetters counts dead letters older than olderThan (of one function when name is set).
func (s *Store) CountDeadLetters(ctx context.Context, name string, olderThan time.Duration) (int64, error) {
	n, err := s.q.OpsDeadLetterCountFiltered(ctx, s.dbtx, &db.OpsDeadLetterCountFilteredParams{
		Name: text(name), OlderThanSeconds: olderThan.Seconds()})
	return n, mapError("count dead letters", err)
}

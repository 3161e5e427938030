package store

import (
	"context"
	"time"

	"github.com/stentdev/stent/db"
)

// CodeVersion reads stent.code_version().
func (s *Store) CodeVersion(ctx context.Context) (int32, error) {
	v, err := s.q.CodeVersion(ctx, s.dbtx)
	return v, mapError("code version", err)
}

// RegisterFunctions upserts function defaults (JSON array, see stent.register_functions).
func (s *Store) RegisterFunctions(ctx context.Context, defs []byte) error {
	return mapError("register functions", s.q.FunctionRegister(ctx, s.dbtx, defs))
}

// WorkerInfo describes a worker process for RegisterWorker.
type WorkerInfo struct {
	ID          string
	Hostname    string
	PID         int32
	Queues      []string
	Functions   []string
	Tags        []string
	Concurrency int32
}

// RegisterWorker records a starting worker.
func (s *Store) RegisterWorker(ctx context.Context, w WorkerInfo) error {
	return mapError("register worker", s.q.WorkerRegister(ctx, s.dbtx, &db.WorkerRegisterParams{
		WorkerID: w.ID, Hostname: w.Hostname, Pid: w.PID, Queues: w.Queues,
		Functions: w.Functions, Tags: nonNil(w.Tags), Concurrency: w.Concurrency,
	}))
}

// SetWorkerState marks a worker draining, or removes it when state is "stopped".
func (s *Store) SetWorkerState(ctx context.Context, workerID, state string) error {
	return mapError("set worker state", s.q.WorkerSetState(ctx, s.dbtx, &db.WorkerSetStateParams{WorkerID: workerID, State: state}))
}

// ListWorkers lists registered workers.
func (s *Store) ListWorkers(ctx context.Context) ([]*Worker, error) {
	ws, err := s.q.WorkerList(ctx, s.dbtx)
	return ws, mapError("list workers", err)
}

// TryLead takes or keeps the maintenance leadership for ttl.
func (s *Store) TryLead(ctx context.Context, workerID string, ttl time.Duration) (bool, error) {
	ok, err := s.q.LeaderTryLead(ctx, s.dbtx, &db.LeaderTryLeadParams{WorkerID: workerID, TtlSeconds: ttl.Seconds()})
	return ok, mapError("try lead", err)
}

// Resign gives up the leadership if workerID holds it.
func (s *Store) Resign(ctx context.Context, workerID string) (bool, error) {
	ok, err := s.q.LeaderResign(ctx, s.dbtx, workerID)
	return ok, mapError("resign", err)
}

// RelationExists reports whether a table (or other relation) exists, by qualified name.
func (s *Store) RelationExists(ctx context.Context, name string) (bool, error) {
	ok, err := s.q.RelationExists(ctx, s.dbtx, name)
	return ok, mapError("relation exists", err)
}

// CurrentTime reads the database clock (stent.current_time()), the clock of every decision.
func (s *Store) CurrentTime(ctx context.Context) (time.Time, error) {
	t, err := s.q.CurrentTime(ctx, s.dbtx)
	return t, mapError("current time", err)
}

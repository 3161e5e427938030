package store

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// Reason is one row of stent.explain: why a task of an execution is not running.
type Reason struct {
	TaskID    int64
	TaskName  string
	TaskKind  string
	TaskState string
	Reason    string
	Detail    string
	Until     *time.Time
	WorkerID  string
	Holders   []string
}

// Explain runs stent.explain for an execution.
func (s *Store) Explain(ctx context.Context, executionID uuid.UUID) ([]Reason, error) {
	rows, err := s.q.Explain(ctx, s.dbtx, executionID)
	if err != nil {
		return nil, mapError("explain", err)
	}
	out := make([]Reason, len(rows))
	for i, r := range rows {
		out[i] = Reason{TaskID: r.TaskID, TaskName: r.TaskName, TaskKind: r.TaskKind, TaskState: r.TaskState,
			Reason: r.Reason, Detail: r.Detail, WorkerID: r.WorkerID, Holders: r.Holders}
		if !r.Until.Equal(time.Unix(0, 0)) {
			u := r.Until
			out[i].Until = &u
		}
	}
	return out, nil
}

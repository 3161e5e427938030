package store

import (
	"context"

	"github.com/google/uuid"
)

// RetryExecution runs stent.retry_execution and returns how many tasks it reset.
func (s *Store) RetryExecution(ctx context.Context, executionID uuid.UUID) (int32, error) {
	n, err := s.q.RetryExecution(ctx, s.dbtx, executionID)
	return n, mapError("retry execution", err)
}

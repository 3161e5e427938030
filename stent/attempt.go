package stent

import (
	"context"

	"github.com/google/uuid"
)

// AttemptInfo describes the attempt a function is running in; read it with AttemptFrom.
// TaskID plus Attempt make a good idempotency key for external side effects.
type AttemptInfo struct {
	ExecutionID uuid.UUID
	TaskID      int64
	Name        string
	Attempt     int // 1 for the first attempt
	MaxAttempts int
	WorkerID    string
}

type attemptKey struct{}

// WithAttempt returns ctx carrying info; the worker sets it for every attempt.
func WithAttempt(ctx context.Context, info AttemptInfo) context.Context {
	return context.WithValue(ctx, attemptKey{}, info)
}

// AttemptFrom returns the attempt ctx belongs to, if any.
func AttemptFrom(ctx context.Context) (AttemptInfo, bool) {
	info, ok := ctx.Value(attemptKey{}).(AttemptInfo)
	return info, ok
}

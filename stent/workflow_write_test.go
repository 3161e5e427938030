package stent

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/internal/store"
)

// TestFailWrite: a checkpoint write that failed because the connection or the server went
// away (or timed out) ends only the attempt — retried per the workflow's policy — while one
// the database refused for good fails the execution. (The chaos soak found workflows failed
// for good by a terminated backend during a call.)
func TestFailWrite(t *testing.T) {
	t.Parallel()
	transient := []error{
		fmt.Errorf("call child: %w", &pgconn.PgError{Severity: "FATAL", Code: "57P01", Message: "terminating connection due to administrator command"}),
		fmt.Errorf("record step: %w", &pgconn.PgError{Code: "40P01", Message: "deadlock detected"}),
		fmt.Errorf("record sleep: %w", context.DeadlineExceeded),
		fmt.Errorf("wait signal: %w", errors.New("failed to connect to `host=127.0.0.1`: connection refused")),
	}
	for _, err := range transient {
		rt := &runtime{}
		got := rt.failWrite(err)
		require.ErrorIs(t, got, err)
		require.False(t, IsPermanent(got), "%v", err)
		require.Equal(t, got, rt.stopped(), "the attempt stops at its next durable call")
	}
	refusedErrs := []error{
		&store.InvalidArgumentError{Message: "call child: bad name"},
		fmt.Errorf("call child: %w", ErrPayloadTooLarge),
		fmt.Errorf("record step: %w", ErrWrongState),
		fmt.Errorf("record step: %w", ErrNotFound),
	}
	for _, err := range refusedErrs {
		rt := &runtime{}
		got := rt.failWrite(err)
		require.ErrorIs(t, got, err)
		require.True(t, IsPermanent(got), "%v", err)
	}
}

package worker_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/worker"
)

// leader returns the current maintenance leader's id ("" when none).
func leader(b *testBundle) string {
	b.t.Helper()
	var id string
	err := b.pool.QueryRow(b.ctx(), "select coalesce((select leader_id from stent.leader), '')").Scan(&id)
	require.NoError(b.t, err)
	return id
}

// TestLeadership checks that one of two workers leads maintenance, that a stopping leader
// resigns, and that the other worker then takes over.
func TestLeadership(t *testing.T) {
	t.Parallel()
	b := setup(t)
	stent.NewActivity("lead.noop", func(ctx context.Context, in int) (int, error) { return in, nil }, b.in())
	one := b.runWorker(worker.Config{ID: "one"})
	pollUntil(t, "a leader", func() bool { return leader(b) == "one" })
	b.startWorker(worker.Config{ID: "two"})

	one.cancel()
	require.NoError(t, one.wait(t))
	pollUntil(t, "the other worker to lead", func() bool { return leader(b) == "two" })
}

// TestRetentionPurge checks that the leader purges executions that finished longer ago
// than Retention (database time), and keeps those with dead letters.
func TestRetentionPurge(t *testing.T) {
	t.Parallel()
	b := setupWithClock(t, time.Now())
	echo := stent.NewActivity("purge.echo", func(ctx context.Context, s string) (string, error) { return s, nil }, b.in())
	fail := stent.NewActivity("purge.fail", func(ctx context.Context, s string) (string, error) {
		return "", errors.New("nope")
	}, b.in(), stent.Retry(stent.RetryPolicy{MaxAttempts: 1}))
	b.startWorker(worker.Config{Retention: time.Hour, PurgeInterval: time.Millisecond})

	done, err := echo.Dispatch(b.ctx(), b.client, "x")
	require.NoError(t, err)
	_, err = echo.Wait(b.ctx(), b.client, done)
	require.NoError(t, err)
	failed, err := fail.Dispatch(b.ctx(), b.client, "y")
	require.NoError(t, err)
	_, err = fail.Wait(b.ctx(), b.client, failed)
	require.Error(t, err)
	recent, err := echo.Dispatch(b.ctx(), b.client, "z", stent.WithDelay(2*time.Hour))
	require.NoError(t, err)

	b.clock.Advance(90 * time.Minute)
	pollUntil(t, "the old execution to be purged", func() bool {
		_, err := b.client.Get(b.ctx(), done)
		return errors.Is(err, stent.ErrNotFound)
	})
	require.Equal(t, stent.StateFailed, b.get(failed).State, "kept: it has a dead letter")
	require.Equal(t, stent.StatePending, b.get(recent).State, "kept: not finished")
}

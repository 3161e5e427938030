package worker_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/worker"
)

// TestUnstorableResult checks attempts whose result PostgreSQL refuses to store (jsonb
// cannot hold the NUL character, which encoding/json writes as \u0000): the attempt fails
// promptly instead of holding its task until its lease expires, and completions recorded
// in the same batch are not lost.
func TestUnstorableResult(t *testing.T) {
	t.Parallel()

	t.Run("Output", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		release := make(chan struct{})
		wait := func() {
			select {
			case <-release:
			case <-b.done:
			}
		}
		bad := stent.NewActivity("nul.output", func(ctx context.Context, in string) (string, error) {
			wait()
			return "a\x00b", nil
		}, b.in(), stent.Retry(stent.RetryPolicy{MaxAttempts: 1}))
		good := stent.NewActivity("nul.good", func(ctx context.Context, in string) (string, error) {
			wait()
			return in, nil
		}, b.in())
		b.startWorker(worker.Config{Concurrency: 20})

		badID, err := bad.Dispatch(b.ctx(), b.client, "x")
		require.NoError(t, err)
		goods := make([]uuid.UUID, 10)
		for i := range goods {
			goods[i], err = good.Dispatch(b.ctx(), b.client, "fine")
			require.NoError(t, err)
		}
		pollUntil(t, "every attempt to start", func() bool {
			return b.queryInt("select count(*) from stent.tasks where state = 'running'") == 11
		})
		close(release) // all finish together: their completions share batches

		for _, id := range goods {
			out, err := good.Wait(b.ctx(), b.client, id)
			require.NoError(t, err)
			require.Equal(t, "fine", out)
		}
		_, err = bad.Wait(b.ctx(), b.client, badID)
		var ee *stent.ExecutionError
		require.ErrorAs(t, err, &ee)
		require.Equal(t, stent.StateFailed, ee.State)
		require.Contains(t, ee.Err.Message, "refused the attempt's output")
		require.Equal(t, 1, b.root(badID).Attempt)
	})

	t.Run("ErrorMessage", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		bad := stent.NewActivity("nul.error", func(ctx context.Context, in string) (string, error) {
			return "", errors.New("binary junk: \x00\x01")
		}, b.in(), stent.Retry(stent.RetryPolicy{MaxAttempts: 1}))
		b.startWorker(worker.Config{})
		id, err := bad.Dispatch(b.ctx(), b.client, "x")
		require.NoError(t, err)
		_, err = bad.Wait(b.ctx(), b.client, id)
		var ee *stent.ExecutionError
		require.ErrorAs(t, err, &ee)
		require.Equal(t, stent.StateFailed, ee.State)
		require.Contains(t, ee.Err.Message, "binary junk")
	})
}

package worker_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/worker"
)

// TestReclaimedWhileHeld puts a task back in the queue (as a rescue does) while its first
// attempt still runs, so that the same worker claims it again. The old attempt must learn
// that it lost its lease (stent.ErrLeaseLost) and its late result must be discarded, while
// the new attempt runs undisturbed and completes the execution.
func TestReclaimedWhileHeld(t *testing.T) {
	t.Parallel()
	// A frozen fake clock: nothing expires on its own.
	b := setupWithClock(t, time.Now())
	started := make(chan int, 2)
	causes := make(chan error, 2)
	returned := make(chan int, 2)
	release := map[int]chan struct{}{1: make(chan struct{}), 2: make(chan struct{})}
	act := stent.NewActivity("reclaim.twice", func(ctx context.Context, in string) (string, error) {
		info, _ := stent.AttemptFrom(ctx)
		defer func() { returned <- info.Attempt }()
		started <- info.Attempt
		select {
		case <-release[info.Attempt]:
		case <-ctx.Done():
			causes <- context.Cause(ctx)
			if info.Attempt == 2 {
				return "", context.Cause(ctx)
			}
		case <-b.done:
		}
		return "attempt " + strconv.Itoa(info.Attempt), nil // attempt 1 even after losing its lease
	}, b.in())
	quick := stent.NewActivity("reclaim.quick", func(ctx context.Context, in string) (string, error) { return in, nil }, b.in())
	b.startWorker(worker.Config{Concurrency: 2, LeaseDuration: 2 * time.Second, HeartbeatInterval: 100 * time.Millisecond})

	id, err := act.Dispatch(b.ctx(), b.client, "x")
	require.NoError(t, err)
	require.Equal(t, 1, receive(t, started, "attempt 1 to start"))

	// Re-queue the running task behind the worker's back and wake the workers.
	b.exec(`update stent.tasks set state = 'pending', lease_owner = null, lease_expires_at = null
		where execution_id = $1`, id)
	b.exec(`select pg_notify('stent_tasks', 'default')`)
	require.Equal(t, 2, receive(t, started, "attempt 2 to start"))
	require.ErrorIs(t, receive(t, causes, "attempt 1 to be cancelled"), stent.ErrLeaseLost)
	require.Equal(t, 1, receive(t, returned, "attempt 1 to return"))

	// Attempt 1's slot is free again once a quick task ran in it; by then the worker has
	// dealt with attempt 1's late result, which must not have disturbed attempt 2.
	out, err := quick.Run(b.ctx(), b.client, "quick")
	require.NoError(t, err)
	require.Equal(t, "quick", out)
	close(release[2])
	out, err = act.Wait(b.ctx(), b.client, id)
	require.NoError(t, err)
	require.Equal(t, "attempt 2", out)
	require.Equal(t, 2, b.root(id).Attempt)
	select {
	case cause := <-causes:
		require.FailNow(t, "attempt 2 was cancelled", "cause: %v", cause)
	default:
	}
}

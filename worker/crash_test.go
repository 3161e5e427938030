package worker_test

import (
	"context"
	"errors"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/worker"
)

// TestCrashedWorkerTaskIsRescued kills a worker process with SIGKILL in the middle of an
// attempt. Once its lease has expired (on the fake clock), an in-process worker's
// maintenance leader rescues the task (the crashed attempt counts), then runs it: attempt 2
// completes the execution.
func TestCrashedWorkerTaskIsRescued(t *testing.T) {
	t.Parallel()
	start := time.Now()
	b := setupWithClock(t, start)
	b.exec(createMarkers)
	var ranAttempt atomic.Int32
	block := stent.NewActivity(helperBlock, func(ctx context.Context, in string) (string, error) {
		info, _ := stent.AttemptFrom(ctx)
		ranAttempt.Store(int32(info.Attempt))
		return "rescued " + in, nil
	}, b.in())

	id, err := block.Dispatch(b.ctx(), b.client, "order-1")
	require.NoError(t, err)
	child := b.startHelper(helperBlock, "doomed")
	b.waitMarker(helperBlock, 1)
	require.NoError(t, child.cmd.Process.Signal(syscall.SIGKILL))
	ee := child.wait(t)
	ws, ok := ee.Sys().(syscall.WaitStatus)
	require.True(t, ok)
	require.Equal(t, syscall.SIGKILL, ws.Signal())

	task := b.root(id)
	require.Equal(t, "running", task.State, "the dead worker still holds the lease")
	require.Equal(t, "doomed", task.LeaseOwner)
	require.Equal(t, 1, task.Attempt)

	// An hour later (database time) the lease has long expired: the leader rescues the task,
	// back to pending after the retry policy's backoff delay.
	b.clock.Set(start.Add(time.Hour))
	b.startWorker(worker.Config{ID: "survivor"})
	pollUntil(t, "the expired lease to be rescued", func() bool { return b.taskState(id) == "pending" })
	task = b.root(id)
	require.Equal(t, 1, task.Attempt, "the crashed attempt counts")
	require.NotNil(t, task.Error)
	require.Equal(t, stent.KindLeaseExpired, task.Error.Kind)
	require.Equal(t, 1, task.Error.Attempt)
	require.Contains(t, task.Error.Message, "doomed")
	require.True(t, task.RunAt.After(b.clock.Now()), "the retry waits for its backoff delay")

	b.clock.Advance(time.Hour)
	out, err := block.Wait(b.ctx(), b.client, id)
	require.NoError(t, err)
	require.Equal(t, "rescued order-1", out)
	require.Equal(t, int32(2), ranAttempt.Load())
	e := b.get(id)
	require.Equal(t, stent.StateCompleted, e.State)
	require.Equal(t, 2, e.Tasks[0].Attempt)
	require.Empty(t, e.Tasks[0].LeaseOwner)
	require.Equal(t, int64(1), b.queryInt("select count(*) from crash_markers"), "the helper ran it once")
}

// TestTaskKillingItsWorkerIsDeadLettered runs a task whose function exits its process on
// every attempt. Each crash burns an attempt when the lease is rescued, so after MaxAttempts
// (2) crashes the task is failed and dead-lettered with kind lease_expired instead of
// killing workers forever.
func TestTaskKillingItsWorkerIsDeadLettered(t *testing.T) {
	t.Parallel()
	start := time.Now()
	b := setupWithClock(t, start)
	b.exec(createMarkers)
	exit := stent.NewActivity(helperExit, func(ctx context.Context, in string) (string, error) {
		return "", errors.New("only the helper process runs this")
	}, b.in(), stent.Retry(stent.RetryPolicy{MaxAttempts: 2}))
	stent.NewActivity("crash.noop", func(ctx context.Context, in int) (int, error) { return in, nil }, b.in())
	// The rescuer serves another function only: it never claims the deadly task, it just
	// leads maintenance.
	b.startWorker(worker.Config{ID: "rescuer", Functions: []string{"crash.noop"}})

	id, err := exit.Dispatch(b.ctx(), b.client, "poison")
	require.NoError(t, err)
	for attempt := 1; attempt <= 2; attempt++ {
		child := b.startHelper(helperExit, "victim")
		require.Equal(t, 3, child.wait(t).ExitCode())
		b.waitMarker(helperExit, attempt)
		require.Equal(t, attempt, b.root(id).Attempt)

		b.clock.Advance(time.Hour) // the dead worker's lease expires
		if attempt < 2 {
			pollUntil(t, "the task to be rescued", func() bool { return b.taskState(id) == "pending" })
			require.Equal(t, stent.KindLeaseExpired, b.root(id).Error.Kind)
			b.clock.Advance(time.Hour) // past the retry's backoff delay
		}
	}
	pollUntil(t, "the task to fail", func() bool { return b.taskState(id) == "failed" })

	_, err = exit.Wait(b.ctx(), b.client, id)
	var ee *stent.ExecutionError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, stent.StateFailed, ee.State)
	require.Equal(t, stent.KindLeaseExpired, ee.Err.Kind)
	dl := b.deadLetter(id)
	require.Equal(t, helperExit, dl.Name)
	require.Equal(t, 2, dl.Attempts)
	require.Equal(t, stent.KindLeaseExpired, dl.Error.Kind)
	require.Equal(t, 2, dl.Error.Attempt)
	require.Equal(t, int64(2), b.queryInt("select count(*) from crash_markers"), "one start per attempt")
}

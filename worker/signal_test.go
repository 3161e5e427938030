package worker_test

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stent"
)

// TestRunUntilSignal runs a worker process under worker.RunUntilSignal: the first SIGTERM
// starts a graceful drain (the running attempt may finish), the second stops hard (the
// attempt is cancelled and its task released without burning the attempt), and the process
// exits cleanly, deregistered.
func TestRunUntilSignal(t *testing.T) {
	t.Parallel()
	b := setupWithClock(t, time.Now())
	b.exec(createMarkers)
	hold := stent.NewActivity(helperSignal, func(ctx context.Context, in string) (string, error) {
		return "", nil // only the helper process runs it
	}, b.in())
	id, err := hold.Dispatch(b.ctx(), b.client, "x")
	require.NoError(t, err)

	child := b.startHelper(helperSignal, "signalled")
	b.waitMarker(helperSignal, 1)
	require.NoError(t, child.cmd.Process.Signal(syscall.SIGTERM))
	pollUntil(t, "the worker to drain", func() bool {
		return b.queryInt("select count(*) from stent.workers where id = 'signalled' and state = 'draining'") == 1
	})
	require.Equal(t, "running", b.taskState(id), "a draining worker lets its attempt run")

	require.NoError(t, child.cmd.Process.Signal(syscall.SIGTERM))
	waitClosed(t, child.done, "the helper to exit")
	require.NoError(t, child.err, "a clean exit after the hard stop")
	task := b.root(id)
	require.Equal(t, "pending", task.State, "released")
	require.Equal(t, 0, task.Attempt, "no attempt burned")
	require.Nil(t, task.Error)
	require.Equal(t, int64(0), b.queryInt("select count(*) from stent.workers"))
}

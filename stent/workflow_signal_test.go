package stent_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/stenttest"
	"github.com/stentdev/stent/worker"
)

type approval struct {
	By string `json:"by"`
}

// TestWorkflowSignals: signals are delivered in order, one per wait (two waits on one name get
// two signals), a signal sent before the wait is kept, and a parked workflow is woken by the
// signal without polling.
func TestWorkflowSignals(t *testing.T) {
	t.Parallel()
	b := setup(t)
	wf := stent.NewWorkflow("wf.approvals", func(ctx stent.Context, _ string) ([]string, error) {
		var got []string
		for range 3 {
			a, err := stent.WaitSignal[approval](ctx, "approve", time.Hour)
			if err != nil {
				return nil, err
			}
			got = append(got, a.By)
		}
		return got, nil
	}, stent.InRegistry(b.reg))
	id, err := wf.Dispatch(b.ctx, b.client, "x")
	require.NoError(t, err)
	require.NoError(t, b.client.Signal(b.ctx, id, "approve", approval{By: "ann"})) // before anyone waits
	stenttest.StartWorker(t, b.client, worker.Config{PollInterval: 10 * time.Minute})

	pollUntil(t, "the workflow parks on its second wait", func() bool {
		return b.count(t, "SELECT count(*) FROM stent.tasks WHERE kind = 'signal' AND state = 'waiting'") == 1 &&
			b.rootTask(t, id).State == "pending"
	})
	require.NoError(t, b.client.Signal(b.ctx, id, "approve", approval{By: "bob"}))
	require.NoError(t, b.client.Signal(b.ctx, id, "approve", approval{By: "cy"}))
	got, err := wf.Wait(b.ctx, b.client, id)
	require.NoError(t, err)
	require.Equal(t, []string{"ann", "bob", "cy"}, got)
	require.Equal(t, 3, b.count(t, "SELECT count(*) FROM stent.signals WHERE consumed_by IS NOT NULL"))

	require.ErrorIs(t, b.client.Signal(b.ctx, id, "approve", approval{}), stent.ErrWrongState, "finished execution")
	require.ErrorIs(t, b.client.Signal(b.ctx, uuid.New(), "approve", approval{}), stent.ErrNotFound)
}

// TestWorkflowSignalTimeout: with no signal, the wait ends at its timeout (fake clock) with
// ErrSignalTimeout, which the workflow can handle.
func TestWorkflowSignalTimeout(t *testing.T) {
	t.Parallel()
	b := setup(t)
	wf := stent.NewWorkflow("wf.timeout", func(ctx stent.Context, _ string) (string, error) {
		_, err := stent.WaitSignal[approval](ctx, "approve", 72*time.Hour)
		if errors.Is(err, stent.ErrSignalTimeout) {
			return "escalated", nil
		}
		if err != nil {
			return "", err
		}
		return "approved", nil
	}, stent.InRegistry(b.reg))
	id, err := wf.Dispatch(b.ctx, b.client, "x")
	require.NoError(t, err)
	stenttest.StartWorker(t, b.client, worker.Config{PollInterval: 10 * time.Millisecond})
	pollUntil(t, "parked", func() bool {
		return b.rootTask(t, id).State == "pending" && b.rootTask(t, id).RunAt.After(b.clock.Now())
	})
	b.clock.Advance(72 * time.Hour)
	got, err := wf.Wait(b.ctx, b.client, id)
	require.NoError(t, err)
	require.Equal(t, "escalated", got)
}

// TestWorkflowSignalRace: signals sent while their workflows are being claimed and reach the
// wait (before, during or after it parks) are never lost: 40 executions, each signalled right
// after dispatch, all finish with their payload long before the 1-hour timeout.
func TestWorkflowSignalRace(t *testing.T) {
	t.Parallel()
	b := setup(t)
	wf := stent.NewWorkflow("wf.race", func(ctx stent.Context, n int) (int, error) {
		v, err := stent.WaitSignal[int](ctx, "value", time.Hour)
		return v + n, err
	}, stent.InRegistry(b.reg))
	stenttest.StartWorker(t, b.client, worker.Config{Concurrency: 8, PollInterval: 10 * time.Minute})
	ids := make([]uuid.UUID, 40)
	for i := range ids {
		id, err := wf.Dispatch(b.ctx, b.client, i)
		require.NoError(t, err)
		ids[i] = id
		require.NoError(t, b.client.Signal(b.ctx, id, "value", 1000))
	}
	for i, id := range ids {
		got, err := wf.Wait(b.ctx, b.client, id)
		require.NoError(t, err)
		require.Equal(t, 1000+i, got)
	}
}

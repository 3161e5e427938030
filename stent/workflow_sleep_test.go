package stent_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/stenttest"
	"github.com/stentdev/stent/worker"
)

// TestWorkflowSleep: a durable sleep suspends the workflow until the database clock passes
// its deadline, recorded once: replays before the deadline do not move it, the steps before
// it do not run again, and a tagged worker resumes it.
func TestWorkflowSleep(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var before, after, runs atomic.Int32
	wf := stent.NewWorkflow("wf.sleepy", func(ctx stent.Context, _ string) (string, error) {
		runs.Add(1)
		if _, err := stent.Step(ctx, "before", func(context.Context) (bool, error) { before.Add(1); return true, nil }); err != nil {
			return "", err
		}
		if err := stent.Sleep(ctx, 24*time.Hour); err != nil {
			return "", err
		}
		_, err := stent.Step(ctx, "after", func(context.Context) (bool, error) { after.Add(1); return true, nil })
		return "woke", err
	}, stent.Tags("nightly"), stent.InRegistry(b.reg))
	id, err := wf.Dispatch(b.ctx, b.client, "x")
	require.NoError(t, err)
	stenttest.StartWorker(t, b.client, worker.Config{Tags: []string{"nightly"}, PollInterval: 10 * time.Millisecond})

	deadline := b.clock.Now().Add(24 * time.Hour)
	pollUntil(t, "the workflow sleeps", func() bool {
		root := b.rootTask(t, id)
		return root.State == "pending" && root.RunAt.Equal(deadline)
	})
	require.Equal(t, 1, b.count(t, "SELECT count(*) FROM stent.tasks WHERE kind = 'sleep' AND state = 'waiting'"))
	require.EqualValues(t, 0, b.rootTask(t, id).Attempt, "a suspension is not an attempt")

	b.clock.Advance(12 * time.Hour) // not yet: nothing runs
	require.Equal(t, "pending", b.rootTask(t, id).State)
	b.clock.Advance(12 * time.Hour)
	got, err := wf.Wait(b.ctx, b.client, id)
	require.NoError(t, err)
	require.Equal(t, "woke", got)
	require.EqualValues(t, 1, before.Load())
	require.EqualValues(t, 1, after.Load())
	require.EqualValues(t, 2, runs.Load(), "one run before the sleep, one after")
	require.Equal(t, 1, b.count(t, "SELECT count(*) FROM stent.tasks WHERE kind = 'sleep' AND state = 'completed'"))
	requireTime(t, deadline, b.task(t, int64(b.count(t, "SELECT id FROM stent.tasks WHERE kind = 'sleep'"))).RunAt, "the deadline never moved")
}

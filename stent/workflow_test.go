package stent_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/stenttest"
	"github.com/stentdev/stent/worker"
)

// TestWorkflowSteps: a workflow of three inline steps completes, each step checkpointed once
// at positions 0, 1, 2, and its recorded values come back on replay.
func TestWorkflowSteps(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var runs [3]atomic.Int32
	wf := stent.NewWorkflow("wf.steps", func(ctx stent.Context, n int) (int, error) {
		total := n
		for i := range 3 {
			v, err := stent.Step(ctx, fmt.Sprintf("add-%d", i), func(context.Context) (int, error) {
				runs[i].Add(1)
				return total + i + 1, nil
			})
			if err != nil {
				return 0, err
			}
			total = v
		}
		return total, nil
	}, stent.InRegistry(b.reg))
	stenttest.StartWorker(t, b.client, worker.Config{})

	got, err := wf.Run(b.ctx, b.client, 10)
	require.NoError(t, err)
	require.Equal(t, 16, got)
	for i := range runs {
		require.EqualValues(t, 1, runs[i].Load(), "step %d", i)
	}
	require.Equal(t, 3, b.count(t, "SELECT count(*) FROM stent.tasks WHERE kind = 'step' AND state = 'completed'"))
	require.Equal(t, 1, b.count(t, "SELECT count(*) FROM stent.tasks WHERE kind = 'step' AND seq = 2 AND name = 'add-2' AND output = '16'"))
}

// TestWorkflowRetryMemoizesSteps: a workflow that fails after two steps on its first attempt
// is retried; the retry replays the two finished steps (they do not run again) and recorded
// values (Now, UUID, Rand) come back unchanged.
func TestWorkflowRetryMemoizesSteps(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var stepRuns, attempts atomic.Int32
	type seen struct {
		Now  time.Time
		ID   uuid.UUID
		Rand float64
	}
	var first, second seen
	wf := stent.NewWorkflow("wf.retry", func(ctx stent.Context, _ string) (string, error) {
		a := attempts.Add(1)
		s := seen{Now: stent.Now(ctx), ID: stent.UUID(ctx), Rand: stent.Rand(ctx)}
		for i := range 2 {
			if _, err := stent.Step(ctx, fmt.Sprintf("work-%d", i), func(context.Context) (int, error) {
				stepRuns.Add(1)
				return i, nil
			}); err != nil {
				return "", err
			}
		}
		if a == 1 {
			first = s
			return "", errors.New("transient failure after two steps")
		}
		second = s
		return "done", nil
	}, stent.Retry(stent.RetryPolicy{MaxAttempts: 3, InitialDelay: time.Second, Jitter: stent.NoJitter}), stent.InRegistry(b.reg))
	id, err := wf.Dispatch(b.ctx, b.client, "x")
	require.NoError(t, err)
	stenttest.StartWorker(t, b.client, worker.Config{PollInterval: 10 * time.Millisecond})

	pollUntil(t, "first attempt failed", func() bool { return attempts.Load() >= 1 && b.rootTask(t, id).State == "pending" })
	b.clock.Advance(2 * time.Second) // past the retry delay on the database clock
	got, err := wf.Wait(b.ctx, b.client, id)
	require.NoError(t, err)
	require.Equal(t, "done", got)
	require.EqualValues(t, 2, attempts.Load())
	require.EqualValues(t, 2, stepRuns.Load(), "finished steps ran once")
	require.True(t, first.Now.Equal(second.Now))
	require.Equal(t, first.ID, second.ID)
	require.Equal(t, first.Rand, second.Rand)
	require.EqualValues(t, 2, b.rootTask(t, id).Attempt)
}

// TestWorkflowNonDeterminism: a replay whose code calls a different step at a recorded
// position fails the execution for good with an error naming the position and both names,
// even though the workflow code swallows the error.
func TestWorkflowNonDeterminism(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var attempts atomic.Int32
	wf := stent.NewWorkflow("wf.nondeterministic", func(ctx stent.Context, _ string) (string, error) {
		a := attempts.Add(1)
		name := "charge"
		if a > 1 {
			name = "refund" // the code changed between attempts
		}
		_, _ = stent.Step(ctx, name, func(context.Context) (bool, error) { return true, nil })
		if a == 1 {
			return "", errors.New("crash after the first step")
		}
		return "swallowed", nil
	}, stent.Retry(stent.RetryPolicy{MaxAttempts: 5, InitialDelay: time.Second, Jitter: stent.NoJitter}), stent.InRegistry(b.reg))
	id, err := wf.Dispatch(b.ctx, b.client, "x")
	require.NoError(t, err)
	stenttest.StartWorker(t, b.client, worker.Config{PollInterval: 10 * time.Millisecond})

	pollUntil(t, "first attempt failed", func() bool { return attempts.Load() >= 1 && b.rootTask(t, id).State == "pending" })
	b.clock.Advance(2 * time.Second)
	_, err = wf.Wait(b.ctx, b.client, id)
	var ee *stent.ExecutionError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, stent.StateFailed, ee.State)
	require.Equal(t, stent.KindNonDeterminism, ee.Err.Kind)
	require.Contains(t, ee.Err.Message, "call 0 is step:refund but step:charge was recorded there")
	require.False(t, ee.Err.Retryable)
	require.EqualValues(t, 2, attempts.Load(), "not retried after the non-determinism error")
}

// TestRecordStepFenced: a stale token cannot checkpoint a step, and a second record of a
// position returns the first one.
func TestRecordStepFenced(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, id := b.dispatch(t, b.echo("wf.fenced"), "in")
	tk := b.claimOne(t, "w1")
	require.Equal(t, id, tk.ID)
	_, err := b.store.RecordStep(b.ctx, tk.ID, tk.LeaseToken+1, 0, "s", []byte(`1`))
	require.ErrorIs(t, err, stent.ErrLeaseLost)
	row, err := b.store.RecordStep(b.ctx, tk.ID, tk.LeaseToken, 0, "s", []byte(`1`))
	require.NoError(t, err)
	require.JSONEq(t, `1`, string(row.Output))
	again, err := b.store.RecordStep(b.ctx, tk.ID, tk.LeaseToken, 0, "other", []byte(`2`))
	require.NoError(t, err)
	require.Equal(t, row.ID, again.ID, "first writer wins")
	require.Equal(t, "s", again.Name)
	require.JSONEq(t, `1`, string(again.Output))
}

package stentprom_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/worker"
)

func fastRetry(maxAttempts int) stent.Option {
	return stent.Retry(stent.RetryPolicy{MaxAttempts: maxAttempts, InitialDelay: time.Nanosecond, Jitter: stent.NoJitter})
}

// TestMetricsCountWhatRan runs a workflow whose first activity fails twice before it
// succeeds and whose second activity is dead-lettered, a root activity that is dead-lettered,
// and one that is cancelled while it runs, on a real database with a fresh registry. Every
// counter and histogram count is compared with what the functions saw and what the database
// holds afterwards.
func TestMetricsCountWhatRan(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	var flakyCalls, flakyErrs, doomedCalls, blockerCalls, blockerCancelled atomic.Int32
	flaky := stent.NewActivity("obs.flaky", func(ctx context.Context, n int) (int, error) {
		if flakyCalls.Add(1) <= 2 {
			flakyErrs.Add(1)
			return 0, errors.New("transient")
		}
		return n * 10, nil
	}, fastRetry(3), stent.InRegistry(b.reg))
	doomed := stent.NewActivity("obs.doomed", func(ctx context.Context, n int) (int, error) {
		doomedCalls.Add(1)
		return 0, fmt.Errorf("doomed %d", n)
	}, fastRetry(2), stent.InRegistry(b.reg))
	started := make(chan struct{})
	var startOnce sync.Once
	blocker := stent.NewActivity("obs.blocker", func(ctx context.Context, n int) (int, error) {
		blockerCalls.Add(1)
		startOnce.Do(func() { close(started) })
		<-ctx.Done()
		if errors.Is(context.Cause(ctx), stent.ErrCancelled) {
			blockerCancelled.Add(1)
		}
		return 0, ctx.Err()
	}, stent.InRegistry(b.reg))
	flow := stent.NewWorkflow("obs.flow", func(ctx stent.Context, n int) (int, error) {
		v, err := flaky.Call(ctx, n)
		if err != nil {
			return 0, err
		}
		var te *stent.TaskError
		if _, err := doomed.Call(ctx, n); !errors.As(err, &te) {
			return 0, fmt.Errorf("expected the doomed child's TaskError, got %v", err)
		}
		return v + 1, nil
	}, stent.InRegistry(b.reg))

	stop := b.runWorker(t, worker.Config{Concurrency: 4})
	flowID, err := flow.Dispatch(b.ctx, b.client, 4)
	require.NoError(t, err)
	doomedID, err := doomed.Dispatch(b.ctx, b.client, 5)
	require.NoError(t, err)
	blockerID, err := blocker.Dispatch(b.ctx, b.client, 6)
	require.NoError(t, err)

	got, err := flow.Wait(b.ctx, b.client, flowID)
	require.NoError(t, err)
	require.Equal(t, 41, got)
	_, err = doomed.Wait(b.ctx, b.client, doomedID)
	require.Error(t, err)
	select {
	case <-started:
	case <-time.After(waitTimeout):
		t.Fatal("the blocker never started")
	}
	st, err := b.client.Cancel(b.ctx, blockerID)
	require.NoError(t, err)
	require.Equal(t, stent.StateCancelled, st)
	st, err = b.client.Cancel(b.ctx, blockerID) // a second cancel changes nothing and counts nothing
	require.NoError(t, err)
	require.Equal(t, stent.StateCancelled, st)
	stop() // every attempt's outcome is recorded once the worker has returned
	fams := b.families(t)

	fq := func(fn string) []string { return []string{"function", fn, "queue", "default"} }
	dead := func(fn string) int {
		return b.count(t, "SELECT count(*) FROM stent.dead_letters WHERE name = $1", fn)
	}
	completedTasks := func(fn string) int {
		return b.count(t, "SELECT count(*) FROM stent.tasks WHERE name = $1 AND state = 'completed'", fn)
	}

	// The activity with retries.
	require.EqualValues(t, flakyCalls.Load(), value(fams, "stent_tasks_claimed_total", fq("obs.flaky")...))
	require.EqualValues(t, completedTasks("obs.flaky"), value(fams, "stent_tasks_completed_total", fq("obs.flaky")...))
	require.EqualValues(t, flakyErrs.Load(), value(fams, "stent_tasks_retried_total", fq("obs.flaky")...))
	require.EqualValues(t, flakyErrs.Load(), value(fams, "stent_tasks_failed_total", fq("obs.flaky")...))
	require.EqualValues(t, dead("obs.flaky"), value(fams, "stent_tasks_dead_lettered_total", fq("obs.flaky")...))

	// The activity dead-lettered twice (as the workflow's child and as a root execution).
	require.EqualValues(t, doomedCalls.Load(), value(fams, "stent_tasks_claimed_total", fq("obs.doomed")...))
	require.EqualValues(t, doomedCalls.Load(), value(fams, "stent_tasks_failed_total", fq("obs.doomed")...))
	require.EqualValues(t, dead("obs.doomed"), value(fams, "stent_tasks_dead_lettered_total", fq("obs.doomed")...))
	require.EqualValues(t, int(doomedCalls.Load())-dead("obs.doomed"), value(fams, "stent_tasks_retried_total", fq("obs.doomed")...))
	require.EqualValues(t, 0, value(fams, "stent_tasks_completed_total", fq("obs.doomed")...))

	// The cancelled activity.
	require.EqualValues(t, blockerCalls.Load(), value(fams, "stent_tasks_claimed_total", fq("obs.blocker")...))
	require.EqualValues(t, blockerCancelled.Load(), value(fams, "stent_tasks_cancelled_total", fq("obs.blocker")...))
	require.EqualValues(t, 0, value(fams, "stent_tasks_failed_total", fq("obs.blocker")...))

	// The workflow: every claim ended completed or suspended (waiting for a child).
	require.EqualValues(t, completedTasks("obs.flow"), value(fams, "stent_tasks_completed_total", fq("obs.flow")...))
	require.EqualValues(t,
		value(fams, "stent_tasks_completed_total", fq("obs.flow")...)+value(fams, "stent_tasks_suspended_total", fq("obs.flow")...),
		value(fams, "stent_tasks_claimed_total", fq("obs.flow")...))
	require.EqualValues(t, 0, value(fams, "stent_tasks_failed_total", fq("obs.flow")...))

	// For every function: one attempt-duration sample per claim, one start-lag sample per
	// claim, and each claim ended with exactly one outcome.
	outcomes := []string{"stent_tasks_completed_total", "stent_tasks_failed_total", "stent_tasks_suspended_total",
		"stent_tasks_cancelled_total", "stent_leases_lost_total", "stent_tasks_released_total", "stent_attempts_unrecorded_total"}
	totalClaimed := 0.0
	for _, fn := range []string{"obs.flaky", "obs.doomed", "obs.blocker", "obs.flow"} {
		claimed := value(fams, "stent_tasks_claimed_total", fq(fn)...)
		require.Positive(t, claimed, fn)
		totalClaimed += claimed
		ended := 0.0
		for _, o := range outcomes {
			ended += value(fams, o, fq(fn)...)
		}
		require.Equal(t, claimed, ended, "%s: claims and outcomes", fn)
		require.EqualValues(t, claimed, samples(fams, "stent_attempt_duration_seconds", fq(fn)...), fn)
		require.EqualValues(t, claimed, samples(fams, "stent_task_start_lag_seconds", fq(fn)...), fn)
		require.EqualValues(t, 0, value(fams, "stent_leases_lost_total", fq(fn)...), fn)
	}

	// Executions: dispatched (roots only) and finished by state, as the database says.
	execs := func(fn, state string) int {
		return b.count(t, "SELECT count(*) FROM stent.executions WHERE workflow = $1 AND ($2 = '' OR state = $2)", fn, state)
	}
	for _, fn := range []string{"obs.flow", "obs.doomed", "obs.blocker"} {
		require.EqualValues(t, execs(fn, ""), value(fams, "stent_executions_dispatched_total", fq(fn)...), fn)
	}
	require.EqualValues(t, 0, value(fams, "stent_executions_dispatched_total", fq("obs.flaky")...), "children are not dispatches")
	require.EqualValues(t, execs("obs.flow", "completed"), value(fams, "stent_executions_finished_total", "function", "obs.flow", "state", "completed"))
	require.EqualValues(t, execs("obs.doomed", "failed"), value(fams, "stent_executions_finished_total", "function", "obs.doomed", "state", "failed"))
	require.EqualValues(t, execs("obs.blocker", "cancelled"), value(fams, "stent_executions_finished_total", "function", "obs.blocker", "state", "cancelled"))
	require.EqualValues(t, 1, execs("obs.blocker", "cancelled"))
	require.Len(t, fams["stent_executions_finished_total"].GetMetric(), 3, "no other execution ended")

	// Claims: one batch-size sample per claim statement, adding up, with the tasks leased by
	// their dispatch (eager starts), to every claimed task; completions: batch sizes add up
	// to every completed attempt.
	polls := value(fams, "stent_claim_polls_total")
	require.Positive(t, polls)
	require.EqualValues(t, polls, samples(fams, "stent_claim_batch_size"))
	require.Equal(t, totalClaimed, fams["stent_claim_batch_size"].GetMetric()[0].GetHistogram().GetSampleSum()+
		sum(fams, "stent_eager_starts_total"))
	require.Equal(t, sum(fams, "stent_tasks_completed_total"), fams["stent_completion_batch_size"].GetMetric()[0].GetHistogram().GetSampleSum())
	require.EqualValues(t, samples(fams, "stent_completion_batch_size"), samples(fams, "stent_completion_flush_seconds"))
	// The cancellation reached the running attempt through its notification.
	require.GreaterOrEqual(t, value(fams, "stent_notifications_received_total", "channel", "stent_cancel"), 1.0)
	require.EqualValues(t, 0, value(fams, "stent_heartbeat_failures_total"))
}

// TestLeaseRenewalsCounted: a worker with a short lease renews the lease of a running attempt
// on every heartbeat, and the counter follows.
func TestLeaseRenewalsCounted(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	release := make(chan struct{})
	slow := stent.NewActivity("obs.slow", func(ctx context.Context, n int) (int, error) {
		<-release
		return n, nil
	}, stent.InRegistry(b.reg))
	stop := b.runWorker(t, worker.Config{LeaseDuration: time.Second})
	id, err := slow.Dispatch(b.ctx, b.client, 1)
	require.NoError(t, err)
	deadline := time.Now().Add(waitTimeout)
	for value(b.families(t), "stent_lease_renewals_total") < 2 {
		require.True(t, time.Now().Before(deadline), "no lease renewals counted")
		time.Sleep(20 * time.Millisecond)
	}
	close(release)
	_, err = slow.Wait(b.ctx, b.client, id)
	require.NoError(t, err)
	stop()
	fams := b.families(t)
	require.EqualValues(t, 1, value(fams, "stent_tasks_completed_total", "function", "obs.slow", "queue", "default"))
	require.EqualValues(t, 0, value(fams, "stent_leases_lost_total", "function", "obs.slow", "queue", "default"))
}

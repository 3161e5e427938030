package stent_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/internal/store"
	"github.com/stentdev/stent/stent"
)

// TestRescueVersusComplete races stent.rescue_expired against the completion of the same
// expired-lease task, 50 times. Whoever wins, the outcome is one consistent story: either the
// completion applied (task and execution completed, nothing rescued, no dead letter) or the
// rescue did (the completion was refused, the attempt counted, and the task is pending for a
// retry or — with no attempts left — failed with exactly one dead letter).
func TestRescueVersusComplete(t *testing.T) {
	t.Parallel()
	const rounds = 50
	b := setup(t)
	act := b.echo("race.rescue")
	outcomes := map[string]int{}

	for round := range rounds {
		// Odd rounds have no attempt left, so a rescue dead-letters; even rounds retry an hour
		// later (longer than the whole test advances the clock, so no round claims another's).
		maxAttempts := 3
		if round%2 == 1 {
			maxAttempts = 1
		}
		execID, id := b.dispatch(t, act, fmt.Sprint(round), stent.WithRetry(noJitter(maxAttempts, time.Hour)))
		tk := b.claimOne(t, "w1")
		require.Equal(t, id, tk.ID)
		b.clock.Advance(31 * time.Second)

		var (
			wg         sync.WaitGroup
			start      = make(chan struct{})
			rescued    []store.Rescued
			completed  map[int64]bool
			rErr, cErr error
		)
		wg.Go(func() {
			<-start
			rescued, rErr = b.store.RescueExpired(b.ctx, 100)
		})
		wg.Go(func() {
			<-start
			completed, cErr = b.store.CompleteTasks(b.ctx, []store.Completion{{TaskID: id, Token: tk.LeaseToken, Output: []byte(`"done"`)}})
		})
		close(start)
		wg.Wait()
		require.NoError(t, rErr)
		require.NoError(t, cErr)

		task, exec := b.task(t, id), b.execution(t, execID)
		deadLetters := b.count(t, "select count(*) from stent.dead_letters where task_id = $1", id)
		require.EqualValues(t, 1, task.Attempt, "round %d", round)
		if completed[id] {
			outcomes["completed"]++
			require.Empty(t, rescued, "round %d: a completed task was also rescued", round)
			require.Equal(t, "completed", task.State, "round %d", round)
			require.Equal(t, "completed", exec.State, "round %d", round)
			require.JSONEq(t, `"done"`, string(exec.Output))
			require.Zero(t, deadLetters, "round %d: dead letter for a completed task", round)
			continue
		}
		require.Len(t, rescued, 1, "round %d: the completion was refused, so the rescue must have won", round)
		require.Equal(t, id, rescued[0].TaskID)
		require.Equal(t, rescued[0].State, task.State, "round %d", round)
		require.Equal(t, stent.KindLeaseExpired, storedError(t, task.Error)["kind"])
		require.Nil(t, exec.Output, "round %d", round)
		switch task.State {
		case "pending":
			outcomes["retry"]++
			require.Equal(t, 3, maxAttempts)
			require.Equal(t, "running", exec.State, "round %d", round)
			require.Zero(t, deadLetters, "round %d", round)
		case "failed":
			outcomes["dead letter"]++
			require.Equal(t, 1, maxAttempts)
			require.Equal(t, "failed", exec.State, "round %d", round)
			require.Equal(t, 1, deadLetters, "round %d", round)
		default:
			require.Failf(t, "unexpected state", "round %d: task is %s", round, task.State)
		}
	}
	t.Logf("outcomes over %d rounds: %v", rounds, outcomes)
}

// TestRescueHugeBackoffFactor: a task whose backoff would overflow a double (factor 1e6 past
// attempt 50) is still rescued, with the maximum delay, and does not stop the rescue of the
// other expired tasks (an error in one would abort the whole stent.rescue_expired call).
func TestRescueHugeBackoffFactor(t *testing.T) {
	t.Parallel()
	b := setup(t)
	act := b.echo("rescue.huge")
	_, huge := b.dispatch(t, act, "huge", stent.WithRetry(stent.RetryPolicy{
		MaxAttempts: 1000, InitialDelay: time.Second, BackoffFactor: 1e6, MaxDelay: time.Hour, Jitter: stent.NoJitter}))
	_, plain := b.dispatch(t, act, "plain", stent.WithRetry(noJitter(3, time.Second)))
	_, err := b.pool.Exec(b.ctx, "update stent.tasks set attempt = 500 where id = $1", huge)
	require.NoError(t, err)
	require.Len(t, b.claim(t, store.ClaimParams{}), 2)

	b.clock.Advance(31 * time.Second)
	rescued, err := b.store.RescueExpired(b.ctx, 100)
	require.NoError(t, err)
	require.ElementsMatch(t, []store.Rescued{{TaskID: huge, State: "pending"}, {TaskID: plain, State: "pending"}}, idStates(rescued))
	requireTime(t, b.clock.Now().Add(time.Hour), b.task(t, huge).RunAt)
	requireTime(t, b.clock.Now().Add(time.Second), b.task(t, plain).RunAt)

	// The worker's own failure report takes the same path.
	b.clock.Advance(time.Hour)
	for _, tk := range b.claim(t, store.ClaimParams{}) {
		res, err := b.store.FailTask(b.ctx, tk.ID, tk.LeaseToken, errJSON("error", "again"), true, -1, "task")
		require.NoError(t, err)
		require.Equal(t, "pending", res.State)
		if tk.ID == huge {
			require.EqualValues(t, 502, tk.Attempt)
			requireTime(t, b.clock.Now().Add(time.Hour), *res.RunAt)
		}
	}
}

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

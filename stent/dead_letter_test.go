package stent_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/internal/store"
	"github.com/stentdev/stent/stent"
)

// deadLetterTasks dispatches n single-attempt tasks and fails each (in dispatch order), so
// each gets a dead letter; it returns their execution ids in that order.
func deadLetterTasks(t *testing.T, b *testBundle, name string, n int) []uuid.UUID {
	t.Helper()
	act := b.echo(name)
	ids := make([]uuid.UUID, n)
	for i := range ids {
		ids[i], _ = b.dispatch(t, act, fmt.Sprint(i), stent.WithRetry(stent.RetryPolicy{MaxAttempts: 1}))
	}
	for _, tk := range b.claim(t, store.ClaimParams{Names: []string{name}}) {
		res, err := b.store.FailTask(b.ctx, tk.ID, tk.LeaseToken, errJSON("error", "failed "+tk.Name), true, -1, "task")
		require.NoError(t, err)
		require.Equal(t, "failed", res.State)
	}
	return ids
}

// TestAttemptsExhausted: the failure of the last attempt fails the task, writes one dead
// letter and fails the execution in one transaction — all of it or none of it.
func TestAttemptsExhausted(t *testing.T) {
	t.Parallel()
	b := setup(t)
	execID, id := b.dispatch(t, b.echo("exhaust"), "in", stent.WithRetry(noJitter(2, time.Second)))
	tk := b.claimOne(t, "w1")
	res, err := b.store.FailTask(b.ctx, id, tk.LeaseToken, errJSON("error", "first"), true, -1, "task")
	require.NoError(t, err)
	require.Equal(t, "pending", res.State)
	b.clock.Advance(time.Second)
	tk = b.claimOne(t, "w1")
	taskBefore, execBefore := b.task(t, id), b.execution(t, execID)

	// Rolled back: nothing at all happened.
	tx, err := b.pool.Begin(b.ctx)
	require.NoError(t, err)
	res, err = b.store.WithTx(tx).FailTask(b.ctx, id, tk.LeaseToken, errJSON("error", "last"), true, -1, "task")
	require.NoError(t, err)
	require.Equal(t, "failed", res.State)
	require.Equal(t, taskBefore, b.task(t, id), "not visible before commit")
	require.NoError(t, tx.Rollback(b.ctx))
	require.Equal(t, taskBefore, b.task(t, id))
	require.Equal(t, execBefore, b.execution(t, execID))
	require.Zero(t, b.count(t, "select count(*) from stent.dead_letters"))

	// Committed: all three changes at once.
	res, err = b.store.FailTask(b.ctx, id, tk.LeaseToken, errJSON("error", "last"), true, -1, "task")
	require.NoError(t, err)
	require.Equal(t, "failed", res.State)
	task, exec := b.task(t, id), b.execution(t, execID)
	require.Equal(t, "failed", task.State)
	require.EqualValues(t, 2, task.Attempt)
	require.Equal(t, "failed", exec.State)
	require.Equal(t, map[string]any{"kind": "error", "message": "last", "retryable": true, "attempt": float64(2)}, storedError(t, exec.Error))
	require.Equal(t, storedError(t, exec.Error), storedError(t, task.Error))
	dls, err := b.client.ListDeadLetters(b.ctx, stent.DeadLetterListParams{})
	require.NoError(t, err)
	require.Len(t, dls, 1)
	require.Equal(t, stent.DeadLetter{
		ID: dls[0].ID, TaskID: id, ExecutionID: execID, Name: "exhaust", Kind: stent.KindActivity,
		Queue: stent.DefaultQueue, Attempts: 2,
		Error:     &stent.TaskError{Kind: "error", Message: "last", Retryable: true, Attempt: 2},
		CreatedAt: dls[0].CreatedAt,
	}, *dls[0])
	requireTime(t, b.clock.Now(), dls[0].CreatedAt)

	// The spent token can do nothing more.
	_, err = b.store.FailTask(b.ctx, id, tk.LeaseToken, errJSON("error", "again"), true, -1, "task")
	require.ErrorIs(t, err, stent.ErrLeaseLost)
	require.Equal(t, 1, b.count(t, "select count(*) from stent.dead_letters"))
}

// TestDeadLetterList: newest first, filtered by name, paged with BeforeID without gaps or
// duplicates; Get returns one entry.
func TestDeadLetterList(t *testing.T) {
	t.Parallel()
	b := setup(t)
	execs := deadLetterTasks(t, b, "dl.list", 7)
	deadLetterTasks(t, b, "dl.other", 2)

	all, err := b.client.ListDeadLetters(b.ctx, stent.DeadLetterListParams{Name: "dl.list"})
	require.NoError(t, err)
	require.Len(t, all, 7)
	for i, d := range all {
		require.Equal(t, execs[len(execs)-1-i], d.ExecutionID, "newest first")
		require.Equal(t, "dl.list", d.Name)
	}

	var paged []*stent.DeadLetter
	p := stent.DeadLetterListParams{Name: "dl.list", Limit: 3}
	for pages := 0; ; pages++ {
		require.Less(t, pages, 4)
		page, err := b.client.ListDeadLetters(b.ctx, p)
		require.NoError(t, err)
		paged = append(paged, page...)
		if len(page) < p.Limit {
			break
		}
		p.BeforeID = page[len(page)-1].ID
	}
	require.Equal(t, all, paged)

	got, err := b.client.GetDeadLetter(b.ctx, all[2].ID)
	require.NoError(t, err)
	require.Equal(t, all[2], got)
	require.Equal(t, "failed dl.list", got.Error.Message)
	_, err = b.client.GetDeadLetter(b.ctx, 1<<40)
	require.ErrorIs(t, err, stent.ErrNotFound)
}

// TestDeadLetterReplay: a replay makes the task pending from attempt 0 and its execution
// pending, and removes the entry; the task can then be claimed and completed.
func TestDeadLetterReplay(t *testing.T) {
	t.Parallel()
	b := setup(t)
	execID := deadLetterTasks(t, b, "dl.replay", 1)[0]
	dls, err := b.client.ListDeadLetters(b.ctx, stent.DeadLetterListParams{})
	require.NoError(t, err)
	require.Len(t, dls, 1)

	b.clock.Advance(time.Hour)
	taskID, err := b.client.ReplayDeadLetter(b.ctx, dls[0].ID)
	require.NoError(t, err)
	require.Equal(t, dls[0].TaskID, taskID)
	task, exec := b.task(t, taskID), b.execution(t, execID)
	require.Equal(t, "pending", task.State)
	require.Zero(t, task.Attempt)
	require.Nil(t, task.FinishedAt)
	requireTime(t, b.clock.Now(), task.RunAt)
	require.Equal(t, "pending", exec.State)
	require.Nil(t, exec.Error)
	require.Nil(t, exec.FinishedAt)
	_, err = b.client.GetDeadLetter(b.ctx, dls[0].ID)
	require.ErrorIs(t, err, stent.ErrNotFound)

	_, err = b.client.ReplayDeadLetter(b.ctx, dls[0].ID)
	require.ErrorIs(t, err, stent.ErrNotFound, "a second replay")

	tk := b.claimOne(t, "w1")
	require.EqualValues(t, 1, tk.Attempt)
	require.NoError(t, b.store.CompleteTask(b.ctx, store.Completion{TaskID: taskID, Token: tk.LeaseToken, Output: []byte(`"ok"`)}))
	require.Equal(t, "completed", b.execution(t, execID).State)
}

// TestDeadLetterDiscard: a discarded entry is gone (the execution stays failed).
func TestDeadLetterDiscard(t *testing.T) {
	t.Parallel()
	b := setup(t)
	execID := deadLetterTasks(t, b, "dl.discard", 1)[0]
	dls, err := b.client.ListDeadLetters(b.ctx, stent.DeadLetterListParams{})
	require.NoError(t, err)
	require.Len(t, dls, 1)

	require.NoError(t, b.client.DiscardDeadLetter(b.ctx, dls[0].ID))
	_, err = b.client.GetDeadLetter(b.ctx, dls[0].ID)
	require.ErrorIs(t, err, stent.ErrNotFound)
	require.ErrorIs(t, b.client.DiscardDeadLetter(b.ctx, dls[0].ID), stent.ErrNotFound)
	_, err = b.client.ReplayDeadLetter(b.ctx, dls[0].ID)
	require.ErrorIs(t, err, stent.ErrNotFound)
	require.Equal(t, "failed", b.execution(t, execID).State)
	require.Equal(t, "failed", b.rootTask(t, execID).State)
}

// TestDeadLetterReplayWrongState: replaying an entry whose task is not failed is refused
// with ErrWrongState and changes nothing.
func TestDeadLetterReplayWrongState(t *testing.T) {
	t.Parallel()
	b := setup(t)
	execID, id := b.dispatch(t, b.echo("dl.wrong"), "in")
	tk := b.claimOne(t, "w1")
	require.NoError(t, b.store.CompleteTask(b.ctx, store.Completion{TaskID: id, Token: tk.LeaseToken, Output: []byte(`"ok"`)}))
	// An entry for a task that completed (raw SQL: no function produces this).
	var dlID int64
	require.NoError(t, b.pool.QueryRow(b.ctx, `insert into stent.dead_letters (task_id, execution_id, name, kind, queue, attempts, error, created_at)
		values ($1, $2, 'dl.wrong', 'activity', 'default', 1, '{"kind":"error","message":"x"}', now()) returning id`, id, execID).Scan(&dlID))
	taskBefore, execBefore := b.task(t, id), b.execution(t, execID)
	dlBefore, err := b.client.GetDeadLetter(b.ctx, dlID)
	require.NoError(t, err)

	_, err = b.client.ReplayDeadLetter(b.ctx, dlID)
	require.ErrorIs(t, err, stent.ErrWrongState)
	require.Equal(t, taskBefore, b.task(t, id))
	require.Equal(t, execBefore, b.execution(t, execID))
	dlAfter, err := b.client.GetDeadLetter(b.ctx, dlID)
	require.NoError(t, err)
	require.Equal(t, dlBefore, dlAfter)
}

// TestDeadLetterReplayExecutionNotFailed: a failed task whose execution is no longer failed
// (here, set to cancelled by raw SQL) is refused with ErrWrongState, and the function's
// earlier steps (removing the entry, re-queuing the task) are rolled back with it.
func TestDeadLetterReplayExecutionNotFailed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	execID := deadLetterTasks(t, b, "dl.cancelled", 1)[0]
	_, err := b.pool.Exec(b.ctx, "update stent.executions set state = 'cancelled' where id = $1", execID)
	require.NoError(t, err)
	dls, err := b.client.ListDeadLetters(b.ctx, stent.DeadLetterListParams{})
	require.NoError(t, err)
	require.Len(t, dls, 1)
	taskBefore := b.rootTask(t, execID)

	_, err = b.client.ReplayDeadLetter(b.ctx, dls[0].ID)
	require.ErrorIs(t, err, stent.ErrWrongState)
	require.Equal(t, taskBefore, b.rootTask(t, execID))
	require.Equal(t, "cancelled", b.execution(t, execID).State)
	_, err = b.client.GetDeadLetter(b.ctx, dls[0].ID)
	require.NoError(t, err, "the entry is kept")
}

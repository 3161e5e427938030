package stent_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/internal/store"
	"github.com/stentdev/stent/stent"
)

// complete claims the execution's root task (it must be the only due one in its queue) and
// completes it.
func (b *testBundle) complete(t *testing.T, execID uuid.UUID, output string) {
	t.Helper()
	ts := b.claim(t, store.ClaimParams{Queues: []string{b.rootTask(t, execID).Queue}})
	require.Len(t, ts, 1)
	tk := ts[0]
	require.Equal(t, execID, tk.ExecutionID)
	require.NoError(t, b.store.CompleteTask(b.ctx, store.Completion{TaskID: tk.ID, Token: tk.LeaseToken, Output: []byte(output)}))
}

// TestClientGet: Get returns the execution as stored, with its tasks.
func TestClientGet(t *testing.T) {
	t.Parallel()
	b := setup(t)
	act := b.echo("client.get", stent.Queue("getq"))
	id, taskID := b.dispatch(t, act, "in", stent.WithPriority(3), stent.WithTags("eu"), stent.WithIdempotencyKey("get-1"))

	e, err := b.client.Get(b.ctx, id)
	require.NoError(t, err)
	require.Equal(t, id, e.ID)
	require.Equal(t, "client.get", e.Workflow)
	require.Equal(t, stent.StatePending, e.State)
	require.JSONEq(t, `"in"`, string(e.Input))
	require.Equal(t, "getq", e.Queue)
	require.Equal(t, 3, e.Priority)
	require.Equal(t, []string{"eu"}, e.Tags)
	require.Equal(t, "get-1", e.IdempotencyKey)
	requireTime(t, b.clock.Now(), e.CreatedAt)
	require.Nil(t, e.StartedAt)
	require.Len(t, e.Tasks, 1)
	require.Equal(t, taskID, e.Tasks[0].ID)
	require.Equal(t, stent.KindActivity, e.Tasks[0].Kind)
	require.Equal(t, "pending", e.Tasks[0].State)
	require.Nil(t, e.Tasks[0].ParentID)

	b.clock.Advance(time.Second)
	tk := b.claim(t, store.ClaimParams{Queues: []string{"getq"}})[0]
	b.clock.Advance(time.Second)
	require.NoError(t, b.store.CompleteTask(b.ctx, store.Completion{TaskID: tk.ID, Token: tk.LeaseToken, Output: []byte(`"out"`)}))
	e, err = b.client.Get(b.ctx, id)
	require.NoError(t, err)
	require.Equal(t, stent.StateCompleted, e.State)
	require.JSONEq(t, `"out"`, string(e.Output))
	requireTime(t, b.clock.Now().Add(-time.Second), *e.StartedAt)
	requireTime(t, b.clock.Now(), *e.FinishedAt)
	require.Equal(t, "completed", e.Tasks[0].State)
	require.Equal(t, 1, e.Tasks[0].Attempt)

	_, err = b.client.Get(b.ctx, uuid.New())
	require.ErrorIs(t, err, stent.ErrNotFound)
}

// TestClientListFilters: List filters by state, function, queue, tag and creation time,
// newest first.
func TestClientListFilters(t *testing.T) {
	t.Parallel()
	b := setup(t)
	la := b.echo("list.a", stent.Queue("q1"))
	lb := b.echo("list.b")
	t0 := b.clock.Now()

	a, _ := b.dispatch(t, la, "a", stent.WithTags("x"))
	b.complete(t, a, `"done"`)
	b.clock.Advance(time.Minute)
	bb, _ := b.dispatch(t, lb, "b", stent.WithQueue("q2"), stent.WithTags("y"))
	b.clock.Advance(time.Minute)
	c, _ := b.dispatch(t, la, "c", stent.WithTags("x", "y"))
	_, err := b.client.Cancel(b.ctx, c)
	require.NoError(t, err)
	b.clock.Advance(time.Minute)
	d, _ := b.dispatch(t, lb, "d")

	list := func(p stent.ListParams) []uuid.UUID {
		t.Helper()
		res, err := b.client.List(b.ctx, p)
		require.NoError(t, err)
		require.Nil(t, res.Next)
		ids := []uuid.UUID{}
		for _, e := range res.Executions {
			ids = append(ids, e.ID)
		}
		return ids
	}
	require.Equal(t, []uuid.UUID{d, c, bb, a}, list(stent.ListParams{}))
	require.Equal(t, []uuid.UUID{a}, list(stent.ListParams{State: stent.StateCompleted}))
	require.Equal(t, []uuid.UUID{d, bb}, list(stent.ListParams{State: stent.StatePending}))
	require.Equal(t, []uuid.UUID{c}, list(stent.ListParams{State: stent.StateCancelled}))
	require.Equal(t, []uuid.UUID{}, list(stent.ListParams{State: stent.StateFailed}))
	require.Equal(t, []uuid.UUID{c, a}, list(stent.ListParams{Workflow: "list.a"}))
	require.Equal(t, []uuid.UUID{c, a}, list(stent.ListParams{Queue: "q1"}))
	require.Equal(t, []uuid.UUID{bb}, list(stent.ListParams{Queue: "q2"}))
	require.Equal(t, []uuid.UUID{c, bb}, list(stent.ListParams{Tag: "y"}))
	require.Equal(t, []uuid.UUID{d, c}, list(stent.ListParams{Since: t0.Add(2 * time.Minute)}))
	require.Equal(t, []uuid.UUID{c}, list(stent.ListParams{Workflow: "list.a", Tag: "y", Since: t0}))

	var ia *stent.InvalidArgumentError
	_, err = b.client.List(b.ctx, stent.ListParams{State: "bogus"})
	require.ErrorAs(t, err, &ia)
	_, err = b.client.List(b.ctx, stent.ListParams{Limit: -1})
	require.ErrorAs(t, err, &ia)
}

// TestClientListPaging: keyset pages cover every execution exactly once, in order, including
// executions created at the same instant, and stay stable when newer ones are inserted
// between pages.
func TestClientListPaging(t *testing.T) {
	t.Parallel()
	b := setup(t)
	act := b.echo("paging")
	_, err := act.DispatchMany(b.ctx, b.client, make([]string, 10)) // ten at one instant
	require.NoError(t, err)
	for range 15 {
		b.clock.Advance(time.Second)
		b.dispatch(t, act, "later")
	}
	all, err := b.client.List(b.ctx, stent.ListParams{})
	require.NoError(t, err)
	require.Len(t, all.Executions, 25)

	var paged []*stent.Execution
	p := stent.ListParams{Limit: 4}
	for pages := 1; ; pages++ {
		require.LessOrEqual(t, pages, 7)
		res, err := b.client.List(b.ctx, p)
		require.NoError(t, err)
		paged = append(paged, res.Executions...)
		if res.Next == nil {
			require.Equal(t, 7, pages)
			break
		}
		require.Len(t, res.Executions, 4)
		b.clock.Advance(time.Second)
		b.dispatch(t, act, "inserted while paging") // newer: never on a later page
		p.Cursor = res.Next
	}
	require.Equal(t, all.Executions, paged)
}

// TestClientCancel: cancelling a pending execution cancels it and its task, and Wait reports
// an *ExecutionError matching ErrCancelled; unknown ids are ErrNotFound.
func TestClientCancel(t *testing.T) {
	t.Parallel()
	b := setup(t)
	act := b.echo("cancel.me")
	id, taskID := b.dispatch(t, act, "in")
	ctx, cancel := context.WithTimeout(b.ctx, waitTimeout)
	defer cancel()
	waited := make(chan error, 1)
	go func() { // a Wait in progress when the cancel comes returns too
		_, err := b.client.Wait(ctx, id)
		waited <- err
	}()

	st, err := b.client.Cancel(b.ctx, id)
	require.NoError(t, err)
	require.Equal(t, stent.StateCancelled, st)
	require.Equal(t, "cancelled", b.task(t, taskID).State)
	require.Empty(t, b.claim(t, store.ClaimParams{}))

	require.ErrorIs(t, <-waited, stent.ErrCancelled)
	e, err := b.client.Wait(ctx, id)
	require.ErrorIs(t, err, stent.ErrCancelled)
	require.NotErrorIs(t, err, stent.ErrTimedOut)
	var ee *stent.ExecutionError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, stent.StateCancelled, ee.State)
	require.Equal(t, stent.KindCancelled, ee.Err.Kind)
	require.Equal(t, stent.StateCancelled, e.State)
	_, err = act.Wait(ctx, b.client, id)
	require.ErrorIs(t, err, stent.ErrCancelled)

	st, err = b.client.Cancel(b.ctx, id)
	require.NoError(t, err)
	require.Equal(t, stent.StateCancelled, st, "cancelling again changes nothing")
	_, err = b.client.Cancel(b.ctx, uuid.New())
	require.ErrorIs(t, err, stent.ErrNotFound)
}

// TestClientWaitErrors: Wait on an unknown id is ErrNotFound; on a closed client, ErrClosed.
func TestClientWaitErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id, _ := b.dispatch(t, b.echo("wait.errors"), "in")
	ctx, cancel := context.WithTimeout(b.ctx, waitTimeout)
	defer cancel()
	_, err := b.client.Wait(ctx, uuid.New())
	require.ErrorIs(t, err, stent.ErrNotFound)

	b.client.Close()
	_, err = b.client.Wait(ctx, id)
	require.ErrorIs(t, err, stent.ErrClosed)
}

// TestClientPurge: Purge deletes executions finished before the cutoff, with their tasks,
// keeps those with dead letters unless asked, and never touches unfinished or recent ones.
func TestClientPurge(t *testing.T) {
	t.Parallel()
	b := setup(t)
	act := b.echo("purge.me")
	old, _ := b.dispatch(t, act, "old", stent.WithIdempotencyKey("purge-key"))
	b.complete(t, old, `"ok"`)
	failed := deadLetterTasks(t, b, "purge.failed", 1)[0]
	unfinished, _ := b.dispatch(t, act, "unfinished", stent.WithDelay(24*time.Hour))
	b.clock.Advance(2 * time.Hour)
	recent, _ := b.dispatch(t, act, "recent")
	b.complete(t, recent, `"ok"`)

	n, err := b.client.Purge(b.ctx, time.Hour, stent.PurgeParams{})
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	_, err = b.client.Get(b.ctx, old)
	require.ErrorIs(t, err, stent.ErrNotFound)
	require.Zero(t, b.count(t, "select count(*) from stent.tasks where execution_id = $1", old))
	for _, id := range []uuid.UUID{failed, unfinished, recent} {
		_, err := b.client.Get(b.ctx, id)
		require.NoError(t, err)
	}
	again, _ := b.dispatch(t, act, "new", stent.WithIdempotencyKey("purge-key"))
	require.NotEqual(t, old, again, "a purged execution frees its idempotency key")

	n, err = b.client.Purge(b.ctx, time.Hour, stent.PurgeParams{DeadLetters: true})
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	_, err = b.client.Get(b.ctx, failed)
	require.ErrorIs(t, err, stent.ErrNotFound)
	require.Zero(t, b.count(t, "select count(*) from stent.dead_letters"))

	_, err = b.client.Purge(b.ctx, -time.Second, stent.PurgeParams{})
	var ia *stent.InvalidArgumentError
	require.ErrorAs(t, err, &ia)
	require.Equal(t, 3, b.count(t, "select count(*) from stent.executions"))
}

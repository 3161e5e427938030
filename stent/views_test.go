package stent_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/stenttest"
	"github.com/stentdev/stent/worker"
)

// viewsFixture runs a small mix of executions with a real worker on the fake clock: a
// completed workflow with activities and progress, a failed one (dead letters), one waiting
// for a signal (a running execution), a delayed one and an activity on a queue nobody
// serves. It returns their ids.
func viewsFixture(t *testing.T, b *testBundle) []uuid.UUID {
	t.Helper()
	act := stent.NewActivity("views.double", func(_ context.Context, n int) (int, error) {
		if n < 0 {
			return 0, stent.Permanent(errors.New("negative input"))
		}
		return 2 * n, nil
	}, stent.InRegistry(b.reg), stent.Queue("views-acts"))
	wf := stent.NewWorkflow("views.flow", func(ctx stent.Context, n int) (int, error) {
		a, err := act.Call(ctx, n)
		if err != nil {
			return 0, err
		}
		if err := stent.Progress(ctx, "doubled once", map[string]int{"done": 1, "total": 2}); err != nil {
			return 0, err
		}
		c, err := act.Call(ctx, a)
		if err != nil {
			return 0, err
		}
		if n == 7 {
			if _, err := stent.WaitSignal[approval](ctx, "approve", time.Hour); err != nil {
				return 0, err
			}
		}
		return c, nil
	}, stent.InRegistry(b.reg), stent.Retry(stent.RetryPolicy{MaxAttempts: 1}))
	orphan := b.echo("views.orphan", stent.Queue("views-orphans"))
	stenttest.StartWorker(t, b.client, worker.Config{ID: "w-views", Queues: []string{stent.DefaultQueue, "views-acts"}})

	var ids []uuid.UUID
	for _, n := range []int{3, -1, 7} {
		id, err := wf.Dispatch(b.ctx, b.client, n)
		require.NoError(t, err)
		ids = append(ids, id)
	}
	_, err := wf.Wait(b.ctx, b.client, ids[0])
	require.NoError(t, err)
	_, err = wf.Wait(b.ctx, b.client, ids[1])
	require.Error(t, err)
	pollUntil(t, "the third workflow to wait for its signal", func() bool {
		return b.reason(t, ids[2], stent.ReasonWaitingSignal) != nil
	})
	delayed, err := wf.Dispatch(b.ctx, b.client, 1, stent.WithDelay(time.Hour))
	require.NoError(t, err)
	orphaned, err := orphan.Dispatch(b.ctx, b.client, "x")
	require.NoError(t, err)
	b.clock.Advance(5 * time.Second)
	return append(ids, delayed, orphaned)
}

// TestViewsMatchGoAPI: stent.execution_overview, task_timeline, dead_letter_overview,
// queue_depths and worker_overview return what Client.Get, List and ListDeadLetters (and the
// worker registry) return for the same executions.
func TestViewsMatchGoAPI(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ids := viewsFixture(t, b)
	now := b.clock.Now()

	list, err := b.client.List(b.ctx, stent.ListParams{})
	require.NoError(t, err)
	var listed []uuid.UUID
	for _, e := range list.Executions {
		listed = append(listed, e.ID)
	}
	var viewed []uuid.UUID
	rows, err := b.pool.Query(b.ctx, "select id from stent.execution_overview order by created_at desc, id desc")
	require.NoError(t, err)
	viewed, err = pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	require.NoError(t, err)
	require.Equal(t, listed, viewed, "same executions, same order as List")
	require.ElementsMatch(t, ids, viewed)

	type depth struct{ pending, due, running, waiting int64 }
	depths := map[[2]string]*depth{}
	held := 0
	for _, id := range ids {
		e, err := b.client.Get(b.ctx, id)
		require.NoError(t, err)
		checkOverview(t, b, e, now)
		checkTimeline(t, b, e, now)
		for _, tk := range e.Tasks {
			if tk.Kind != stent.KindActivity && tk.Kind != stent.KindWorkflow {
				continue
			}
			k := [2]string{tk.Queue, tk.Name}
			if depths[k] == nil {
				depths[k] = &depth{}
			}
			switch tk.State {
			case "pending":
				depths[k].pending++
				if !tk.RunAt.After(now) {
					depths[k].due++
				}
			case "running":
				depths[k].running++
				if tk.LeaseOwner == "w-views" {
					held++
				}
			case "waiting":
				depths[k].waiting++
			}
			if *depths[k] == (depth{}) {
				delete(depths, k)
			}
		}
	}

	got := map[[2]string]*depth{}
	rows, err = b.pool.Query(b.ctx, "select queue, function, pending, due_now, scheduled, running, waiting from stent.queue_depths")
	require.NoError(t, err)
	for rows.Next() {
		var q, f string
		var d depth
		var scheduled int64
		require.NoError(t, rows.Scan(&q, &f, &d.pending, &d.due, &scheduled, &d.running, &d.waiting))
		require.Equal(t, d.pending-d.due, scheduled)
		got[[2]string{q, f}] = &d
	}
	require.NoError(t, rows.Err())
	require.Equal(t, depths, got)
	require.Equal(t, depth{pending: 1, due: 1}, *got[[2]string{"views-orphans", "views.orphan"}])
	require.Equal(t, depth{pending: 2}, *got[[2]string{stent.DefaultQueue, "views.flow"}],
		"the delayed workflow and the one parked on its signal are scheduled")
	var progress string
	require.NoError(t, b.pool.QueryRow(b.ctx, "select progress_message from stent.execution_overview where id = $1", ids[0]).Scan(&progress))
	require.Equal(t, "doubled once", progress)

	dls, err := b.client.ListDeadLetters(b.ctx, stent.DeadLetterListParams{})
	require.NoError(t, err)
	require.NotEmpty(t, dls)
	rows, err = b.pool.Query(b.ctx, `select id, task_id, execution_id, workflow, execution_state, name, kind, queue, attempts,
		error_kind, error_message, created_at, age from stent.dead_letter_overview order by created_at desc, id desc`)
	require.NoError(t, err)
	i := 0
	for rows.Next() {
		require.Less(t, i, len(dls))
		d := dls[i]
		var r stent.DeadLetter
		var workflow, execState, errKind, errMsg string
		var age time.Duration
		require.NoError(t, rows.Scan(&r.ID, &r.TaskID, &r.ExecutionID, &workflow, &execState, &r.Name, &r.Kind, &r.Queue,
			&r.Attempts, &errKind, &errMsg, &r.CreatedAt, &age))
		require.Equal(t, [7]any{d.ID, d.TaskID, d.ExecutionID, d.Name, d.Kind, d.Queue, d.Attempts},
			[7]any{r.ID, r.TaskID, r.ExecutionID, r.Name, r.Kind, r.Queue, r.Attempts})
		requireTime(t, d.CreatedAt, r.CreatedAt)
		require.Equal(t, d.Error.Kind, errKind)
		require.Equal(t, d.Error.Message, errMsg)
		require.Equal(t, "views.flow", workflow)
		require.Equal(t, string(stent.StateFailed), execState)
		require.Equal(t, now.Sub(d.CreatedAt), age)
		i++
	}
	require.NoError(t, rows.Err())
	require.Equal(t, len(dls), i)

	workers, err := b.store.ListWorkers(b.ctx)
	require.NoError(t, err)
	require.Len(t, workers, 1)
	var id, status string
	var heldTasks int64
	var hb time.Time
	var age time.Duration
	require.NoError(t, b.pool.QueryRow(b.ctx, `select id, status, heartbeat_at, heartbeat_age, held_tasks from stent.worker_overview`).
		Scan(&id, &status, &hb, &age, &heldTasks))
	require.Equal(t, workers[0].ID, id)
	require.Equal(t, "live", status)
	requireTime(t, workers[0].HeartbeatAt, hb)
	require.Equal(t, now.Sub(hb), age)
	require.EqualValues(t, held, heldTasks)
	b.clock.Advance(3 * time.Minute)
	require.NoError(t, b.pool.QueryRow(b.ctx, `select status from stent.worker_overview`).Scan(&status))
	require.Equal(t, "stale", status, "no heartbeat for 2 minutes on the database clock")
}

// TestOperationsMigrationDownAndUp: migrating down to version 3 drops the operations views
// (and their helper function and index) and leaves the function package working; migrating
// up again restores them.
func TestOperationsMigrationDownAndUp(t *testing.T) {
	t.Parallel()
	b := setup(t)
	views := func() []string {
		rows, err := b.pool.Query(b.ctx, "select viewname::text from pg_views where schemaname = 'stent' order by 1")
		require.NoError(t, err)
		names, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		return names
	}
	all := []string{"dead_letter_overview", "execution_overview", "queue_depths", "task_timeline", "task_tree", "worker_overview"}
	require.Equal(t, all, views())

	// (Dispatched before: below the trace-context migration this build's functions cannot
	// dispatch; a down migration is followed by installing the older build's functions.)
	id, _ := b.dispatch(t, b.echo("views.down"), "x")
	require.NoError(t, stent.MigrateTo(b.ctx, b.pool, 3))
	require.Equal(t, []string{"task_tree"}, views())
	require.Zero(t, b.count(t, "select count(*) from pg_indexes where indexname = 'tasks_waiting_idx'"))
	require.Equal(t, stent.StatePending, b.executionState(t, id), "executions survive the down migration")

	require.NoError(t, stent.Migrate(b.ctx, b.pool))
	require.Equal(t, all, views())
	require.Equal(t, 1, b.count(t, "select count(*) from stent.execution_overview where id = $1", id))
}

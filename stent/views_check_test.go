package stent_test

import (
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stent"
)

// checkOverview compares an execution's stent.execution_overview row with Client.Get.
func checkOverview(t *testing.T, b *testBundle, e *stent.Execution, now time.Time) {
	t.Helper()
	var (
		workflow, state, queue           string
		createdAt                        time.Time
		startedAt, finishedAt            *time.Time
		duration                         *time.Duration
		errMsg, currentStep, progressMsg *string
		currentTask                      *int64
		counts                           [7]int64
	)
	require.NoError(t, b.pool.QueryRow(b.ctx, `select workflow, state, queue, created_at, started_at, finished_at, duration,
		error_message, current_task_id, current_step, progress_message, tasks_total, tasks_pending, tasks_running,
		tasks_waiting, tasks_completed, tasks_failed, tasks_cancelled
		from stent.execution_overview where id = $1`, e.ID).Scan(&workflow, &state, &queue, &createdAt, &startedAt,
		&finishedAt, &duration, &errMsg, &currentTask, &currentStep, &progressMsg, &counts[0], &counts[1], &counts[2],
		&counts[3], &counts[4], &counts[5], &counts[6]))
	require.Equal(t, [3]string{e.Workflow, string(e.State), e.Queue}, [3]string{workflow, state, queue})
	requireTime(t, e.CreatedAt, createdAt)
	require.Equal(t, e.StartedAt == nil, startedAt == nil)
	require.Equal(t, e.FinishedAt == nil, finishedAt == nil)
	if e.StartedAt != nil {
		end := now
		if e.FinishedAt != nil {
			end = *e.FinishedAt
		}
		require.Equal(t, end.Sub(*e.StartedAt), *duration)
	}
	if e.Error != nil {
		require.Equal(t, e.Error.Message, *errMsg)
	} else {
		require.Nil(t, errMsg)
	}

	want := [7]int64{int64(len(e.Tasks))}
	for _, tk := range e.Tasks {
		want[map[string]int{"pending": 1, "running": 2, "waiting": 3, "completed": 4, "failed": 5, "cancelled": 6}[tk.State]]++
	}
	require.Equal(t, want, counts, "task counts of %s", e.ID)

	// Current step: the latest unfinished call, else the latest call, else the root.
	cur := e.Tasks[0]
	for _, tk := range e.Tasks[1:] {
		unfinished := func(x *stent.Task) bool { return x.ParentID != nil && !finished(x.State) }
		if unfinished(tk) || !unfinished(cur) {
			cur = tk
		}
	}
	require.Equal(t, cur.ID, *currentTask, "current task of %s", e.ID)
	require.Equal(t, cur.Name, *currentStep)

	if len(e.Progress) > 0 {
		require.Equal(t, e.Progress[len(e.Progress)-1].Message, *progressMsg)
	} else {
		require.Nil(t, progressMsg)
	}
}

func finished(state string) bool {
	return state == "completed" || state == "failed" || state == "cancelled"
}

// checkTimeline compares an execution's stent.task_timeline rows with Client.Get: the same
// tasks with the same states, attempts and times, in depth-first order of positions.
func checkTimeline(t *testing.T, b *testBundle, e *stent.Execution, now time.Time) {
	t.Helper()
	children := map[int64][]*stent.Task{}
	var root *stent.Task
	for _, tk := range e.Tasks {
		if tk.ParentID == nil {
			root = tk
		} else {
			children[*tk.ParentID] = append(children[*tk.ParentID], tk)
		}
	}
	var order []*stent.Task
	var walk func(*stent.Task)
	walk = func(tk *stent.Task) {
		order = append(order, tk)
		kids := children[tk.ID]
		sort.Slice(kids, func(i, j int) bool { return *kids[i].Seq < *kids[j].Seq })
		for _, k := range kids {
			walk(k)
		}
	}
	walk(root)

	rows, err := b.pool.Query(b.ctx, `select ordinal, task_id, depth, state, attempts, created_at, started_at, finished_at,
		duration, error_message from stent.task_timeline where execution_id = $1 order by ordinal`, e.ID)
	require.NoError(t, err)
	i := 0
	for rows.Next() {
		require.Less(t, i, len(order))
		want := order[i]
		var ordinal, taskID int64
		var depth, attempts int
		var state string
		var created time.Time
		var started, finishedAt *time.Time
		var duration *time.Duration
		var errMsg *string
		require.NoError(t, rows.Scan(&ordinal, &taskID, &depth, &state, &attempts, &created, &started, &finishedAt, &duration, &errMsg))
		require.EqualValues(t, i+1, ordinal)
		require.Equal(t, want.ID, taskID, "tree order")
		require.Equal(t, want.ParentID != nil, depth > 0)
		require.Equal(t, want.State, state)
		require.Equal(t, want.Attempt, attempts)
		requireTime(t, want.CreatedAt, created)
		require.Equal(t, want.StartedAt == nil, started == nil)
		require.Equal(t, want.FinishedAt == nil, finishedAt == nil)
		switch {
		case want.StartedAt != nil && want.FinishedAt != nil:
			require.Equal(t, want.FinishedAt.Sub(*want.StartedAt), *duration)
		case want.StartedAt != nil && want.State == "running":
			require.Equal(t, now.Sub(*want.StartedAt), *duration)
		}
		switch {
		case want.Error != nil:
			require.Equal(t, want.Error.Message, *errMsg)
		case want.ParentID == nil && e.Error != nil:
			require.Equal(t, e.Error.Message, *errMsg)
		default:
			require.Nil(t, errMsg)
		}
		i++
	}
	require.NoError(t, rows.Err())
	require.Equal(t, len(order), i)
}

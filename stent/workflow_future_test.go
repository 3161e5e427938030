package stent_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/stenttest"
	"github.com/stentdev/stent/worker"
)

// TestWorkflowFutures: children started with Go run in parallel and their results are
// collected with Get, in any order; each child runs once.
func TestWorkflowFutures(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var runs atomic.Int32
	inc := stent.NewActivity("wf.inc", func(ctx context.Context, n int) (int, error) {
		runs.Add(1)
		return n + 1, nil
	}, stent.InRegistry(b.reg))
	wf := stent.NewWorkflow("wf.futures", func(ctx stent.Context, n int) (int, error) {
		futures := make([]*stent.Future[int], n)
		for i := range futures {
			futures[i] = stent.Go(ctx, inc, i*10)
		}
		sum := 0
		for i := len(futures) - 1; i >= 0; i-- { // collected in reverse
			v, err := futures[i].Get()
			if err != nil {
				return 0, err
			}
			sum += v
		}
		return sum, nil
	}, stent.InRegistry(b.reg))
	stenttest.StartWorker(t, b.client, worker.Config{Concurrency: 4})

	got, err := wf.Run(b.ctx, b.client, 5)
	require.NoError(t, err)
	require.Equal(t, 0+10+20+30+40+5, got)
	require.EqualValues(t, 5, runs.Load())
}

// TestTaskTreeView: the documented SQL view gives psql users the same tree client.Get
// returns.
func TestTaskTreeView(t *testing.T) {
	t.Parallel()
	b := setup(t)
	leaf := stent.NewActivity("wf.leaf", func(ctx context.Context, n int) (int, error) { return n, nil }, stent.InRegistry(b.reg))
	child := stent.NewWorkflow("wf.child", func(ctx stent.Context, n int) (int, error) {
		return leaf.Call(ctx, n)
	}, stent.InRegistry(b.reg))
	root := stent.NewWorkflow("wf.root", func(ctx stent.Context, n int) (int, error) {
		if _, err := stent.Step(ctx, "first", func(context.Context) (int, error) { return 1, nil }); err != nil {
			return 0, err
		}
		return child.Call(ctx, n)
	}, stent.InRegistry(b.reg))
	stenttest.StartWorker(t, b.client, worker.Config{Concurrency: 2})
	id, err := root.Dispatch(b.ctx, b.client, 7)
	require.NoError(t, err)
	_, err = root.Wait(b.ctx, b.client, id)
	require.NoError(t, err)

	e, err := b.client.Get(b.ctx, id)
	require.NoError(t, err)
	rows, err := b.pool.Query(b.ctx, `SELECT task_id, depth, path::text, kind, name, state, output::text
		FROM stent.task_tree WHERE execution_id = $1 ORDER BY sort_key`, id)
	require.NoError(t, err)
	defer rows.Close()
	var got []string
	seen := map[int64]bool{}
	for rows.Next() {
		var (
			taskID         int64
			depth          int
			path, kind, nm string
			state, output  string
		)
		require.NoError(t, rows.Scan(&taskID, &depth, &path, &kind, &nm, &state, &output))
		got = append(got, path+" "+kind+":"+nm+" "+state+" "+output)
		seen[taskID] = true
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{
		"{} workflow:wf.root completed 7",
		"{0} step:first completed 1",
		"{1} workflow:wf.child completed 7",
		"{1,0} activity:wf.leaf completed 7",
	}, got)
	require.Len(t, e.Tasks, len(got), "client.Get returns the same tasks")
	for _, tk := range e.Tasks {
		require.True(t, seen[tk.ID])
	}
}

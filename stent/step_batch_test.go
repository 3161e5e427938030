package stent_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/internal/store"
	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/stenttest"
	"github.com/stentdev/stent/worker"
)

// stent.record_steps writes each element for its own parent and token: a stale token costs
// only its own element (lease_lost, nothing written), and a position already recorded returns
// the recorded step instead of writing a second one.
func TestRecordStepsPerElement(t *testing.T) {
	t.Parallel()
	b := setup(t)
	act := b.echo("steps.parent")
	b.dispatch(t, act, "a")
	b.dispatch(t, act, "b")
	ts := b.claim(t, store.ClaimParams{})
	require.Len(t, ts, 2)
	p1, p2 := ts[0], ts[1]

	first, err := b.store.RecordSteps(b.ctx, []store.StepRecord{{Parent: p1.ID, Token: p1.LeaseToken, Seq: 0, Name: "s", Output: []byte(`1`)}})
	require.NoError(t, err)
	require.Equal(t, []store.StepResult{{Kind: "step", Name: "s", Output: []byte(`1`)}}, first)

	res, err := b.store.RecordSteps(b.ctx, []store.StepRecord{
		{Parent: p1.ID, Token: p1.LeaseToken, Seq: 0, Name: "s", Output: []byte(`2`)},     // position taken
		{Parent: p2.ID, Token: p2.LeaseToken + 1, Seq: 0, Name: "s", Output: []byte(`3`)}, // stale token
		{Parent: p2.ID, Token: p2.LeaseToken, Seq: 1, Name: "t", Output: []byte(`{"x":4}`)},
	})
	require.NoError(t, err)
	require.Equal(t, []store.StepResult{
		{Kind: "step", Name: "s", Output: []byte(`1`)},
		{LeaseLost: true},
		{Kind: "step", Name: "t", Output: []byte(`{"x": 4}`)},
	}, res)
	require.Equal(t, 1, b.count(t, "select count(*) from stent.tasks where parent_task_id = $1", p1.ID))
	require.Equal(t, 1, b.count(t, "select count(*) from stent.tasks where parent_task_id = $1", p2.ID),
		"the stale element wrote nothing")
}

// Malformed batches are refused whole, with ST003, and write nothing.
func TestRecordStepsRejectsBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.dispatch(t, b.echo("steps.bad"), "a")
	p := b.claimOne(t, "w1")
	for _, body := range []string{`{}`, `[1]`, `[{"parent": 1, "token": 1, "seq": 0}]`,
		fmt.Sprintf(`[{"parent": %d, "token": %d, "seq": -1, "name": "s"}]`, p.ID, p.LeaseToken)} {
		_, err := b.pool.Exec(b.ctx, "select * from stent.record_steps($1::jsonb)", body)
		require.ErrorContains(t, err, "ST003", body)
	}
	require.Zero(t, b.count(t, "select count(*) from stent.tasks where parent_task_id is not null"))
}

// Many workflows stepping at once share batched checkpoint writes: every step runs exactly
// once, every workflow gets its own results back, and a replay returns the recorded values.
func TestConcurrentStepsAreBatchedCorrectly(t *testing.T) {
	t.Parallel()
	pool := stenttest.Pool(t, stenttest.WithMaxConns(40))
	reg := stent.NewRegistry()
	var mu sync.Mutex
	runs := map[string]int{}
	wf := stent.NewWorkflow("steps.many", func(ctx stent.Context, n int) (int, error) {
		for i := range 5 {
			v, err := stent.Step(ctx, fmt.Sprintf("s%d", i), func(context.Context) (int, error) {
				mu.Lock()
				runs[fmt.Sprintf("%d/%d", n, i)]++
				mu.Unlock()
				return n*10 + i, nil
			})
			if err != nil {
				return 0, err
			}
			if v != n*10+i {
				return 0, fmt.Errorf("step %d of workflow %d returned %d", i, n, v)
			}
		}
		return n, nil
	}, stent.InRegistry(reg))
	client := stenttest.Client(t, pool, stent.Config{Registry: reg})
	ins := make([]int, 60)
	for i := range ins {
		ins[i] = i
	}
	ids, err := wf.DispatchMany(t.Context(), client, ins)
	require.NoError(t, err)
	stenttest.StartWorker(t, client, worker.Config{Concurrency: 30})
	for i, id := range ids {
		out, err := wf.Wait(t.Context(), client, id)
		require.NoError(t, err)
		require.Equal(t, i, out)
	}
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, runs, 300)
	for k, n := range runs {
		require.Equal(t, 1, n, "step %s ran %d times", k, n)
	}
	var steps int
	require.NoError(t, pool.QueryRow(t.Context(), "select count(*) from stent.tasks where kind = 'step'").Scan(&steps))
	require.Equal(t, 300, steps)
}

// A child call is due from its parent's due time: it is claimed ahead of workflows dispatched
// after its parent, so work already begun is finished before queued work starts.
func TestChildCallGoesAheadOfLaterWork(t *testing.T) {
	t.Parallel()
	b := setup(t)
	act := b.echo("order.parent")
	b.echo("order.child")
	_, first := b.dispatch(t, act, "first")
	b.clock.Advance(10 * time.Second)
	_, later := b.dispatch(t, act, "later")

	parent := b.claim(t, store.ClaimParams{Limit: 1})
	require.Len(t, parent, 1)
	require.Equal(t, first, parent[0].ID)
	b.clock.Advance(10 * time.Second)
	child, err := b.store.CallChild(b.ctx, parent[0].ID, parent[0].LeaseToken, 0, []byte(`{"name": "order.child"}`))
	require.NoError(t, err)
	require.Equal(t, parent[0].RunAt.Add(-time.Microsecond), child.RunAt, "the child is due just before its parent's due time")

	next := b.claim(t, store.ClaimParams{Limit: 1})
	require.Len(t, next, 1)
	require.Equal(t, child.ID, next[0].ID, "the child goes ahead of the workflow dispatched later")
	require.Equal(t, later, b.claim(t, store.ClaimParams{Limit: 1})[0].ID)
}

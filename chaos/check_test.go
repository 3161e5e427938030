package main

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/stenttest"
)

// TestCheckFindsViolations: the soak's checker reports what it exists to find — seeded with
// SQL on a database no worker serves: an execution never finished (lost), one finished with
// the wrong output, a task running on a lease that expired, effects committed for a
// transactional task that did not complete, and a plain task with more effects than attempts.
// The doctor sees the expired lease too.
func TestCheckFindsViolations(t *testing.T) {
	t.Parallel()
	pool := stenttest.Pool(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	_, err := pool.Exec(ctx, createEffects)
	require.NoError(t, err)
	run := newRunID()
	wl := defineWorkload(pool, run)
	client := stenttest.Client(t, pool, stent.Config{Registry: wl.reg})

	var list []dispatched
	for i, def := range []*stent.Workflow[int, int]{wl.sequence, wl.signal} {
		id, err := def.Dispatch(ctx, client, i+1, stent.WithIdempotencyKey(idempotencyKey(run, i)))
		require.NoError(t, err)
		list = append(list, dispatched{id: id, name: def.Name(), n: i + 1})
	}
	lost, wrong := list[0].id, list[1].id
	rootTask := func(id any) int64 {
		var task int64
		require.NoError(t, pool.QueryRow(ctx, "select id from stent.tasks where execution_id = $1 and parent_task_id is null", id).Scan(&task))
		return task
	}
	lostTask, wrongTask := rootTask(lost), rootTask(wrong)
	// The lost execution's root task is running on a lease that expired two minutes ago, it
	// has a transactional effect though it never completed, and two plain effects in its one
	// attempt.
	_, err = pool.Exec(ctx, `update stent.tasks set state = 'running', attempt = 1, lease_owner = 'gone',
		lease_expires_at = stent.current_time() - interval '2 minutes' where id = $1`, lostTask)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `insert into chaos_effects (run, kind, name, task_id, attempt, input, pid) values
		($2, 'tx', 'x', $1, 1, 1, 0), ($2, 'plain', 'y', $1, 1, 1, 0), ($2, 'plain', 'y', $1, 1, 1, 0)`, lostTask, run)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `update stent.tasks set state = 'completed', finished_at = stent.current_time() where id = $1`, wrongTask)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `update stent.executions set state = 'completed', output = '1', finished_at = stent.current_time() where id = $1`, wrong)
	require.NoError(t, err)

	s := &Summary{}
	require.NoError(t, check(ctx, client, run, list, s))
	require.Equal(t, 1, s.Lost)
	require.Equal(t, 1, s.WrongResults)
	require.Equal(t, 1, s.ExpiredRunning)
	require.Equal(t, 1, s.TxPhantoms)
	require.Equal(t, map[stent.ExecutionState]int{stent.StatePending: 1, stent.StateCompleted: 1}, s.ByState)
	require.NotEmpty(t, s.DoctorFindings, "the doctor reports the expired lease")
	require.Contains(t, s.Failures, "plain task "+strconv.FormatInt(lostTask, 10)+" (chaos.sequence): 2 effects in 1 attempts")
	require.False(t, s.OK())
}

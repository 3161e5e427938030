package worker_test

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/worker"
)

// The workflow crash tests run a workflow partly in a worker subprocess (TestHelperProcess in
// one of these modes), kill it with SIGKILL, and let an in-process worker finish it. Both
// processes define the same workflow and activity with the functions below, in their own
// registry; only the subprocess's activities block.
const (
	helperSeqWorkflow = "crash.wf.seq"        // mode: 10 sequential activities and a sleep
	helperSeqActivity = "crash.wf.seq.step"   // blocks at step seqBlockAt in the subprocess
	helperMapWorkflow = "crash.wf.map"        // mode: a fan-out of mapInputs activities
	helperMapActivity = "crash.wf.map.square" // blocks once mapBlockAfter effects exist
	seqSteps          = 10
	seqBlockAt        = 7
	mapInputs         = 100
	mapBlockAfter     = 30
)

// workflowHelperModes are TestHelperProcess's workflow modes: each defines its workflow in
// reg, its activities recording their effects with pool, and sets the functions the helper
// worker serves.
var workflowHelperModes = map[string]func(pool *pgxpool.Pool, reg *stent.Registry, cfg *worker.Config){
	helperSeqWorkflow: func(pool *pgxpool.Pool, reg *stent.Registry, cfg *worker.Config) {
		defineSeqWorkflow(reg, pool, cfg.ID, seqBlockAt)
		cfg.Functions = []string{helperSeqWorkflow, helperSeqActivity}
	},
	helperMapWorkflow: func(pool *pgxpool.Pool, reg *stent.Registry, cfg *worker.Config) {
		defineMapWorkflow(reg, pool, cfg.ID, mapBlockAfter)
		cfg.Functions = []string{helperMapWorkflow, helperMapActivity}
		cfg.Concurrency = 10
	},
}

// createEffects creates the table in which the activities record every attempt they start:
// the side effect whose count the crash tests check.
const createEffects = `create table effects (
	n int not null,
	attempt int not null,
	task_id bigint not null,
	who text not null)`

// survivorConfig is the in-process worker that finishes a crashed worker's work. Its lease
// outlasts the minute by which the tests advance the clock past the retries' backoff, so
// that advance cannot expire the survivor's own leases (its heartbeats run on real time).
var survivorConfig = worker.Config{ID: "survivor", Concurrency: 20, LeaseDuration: time.Hour}

// crashRetry retries one second after a failure (a rescued lease included), without jitter.
var crashRetry = stent.Retry(stent.RetryPolicy{InitialDelay: time.Second, Jitter: stent.NoJitter})

// recordEffect records that worker who started an attempt of the activity for input n.
func recordEffect(ctx context.Context, pool *pgxpool.Pool, who string, n int) error {
	info, _ := stent.AttemptFrom(ctx)
	_, err := pool.Exec(ctx, "insert into effects (n, attempt, task_id, who) values ($1, $2, $3, $4)",
		n, info.Attempt, info.TaskID, who)
	return err
}

// defineSeqWorkflow defines a workflow calling its activity for 1..steps in turn, counting
// each in the counter "done", with a one-hour durable sleep after step 5; it returns the sum
// of the outputs (10 n each). The activity records its effect, then — if n is blockAt — a
// crash marker, and blocks until its process is killed.
func defineSeqWorkflow(reg *stent.Registry, pool *pgxpool.Pool, who string, blockAt int) *stent.Workflow[int, int] {
	step := stent.NewActivity(helperSeqActivity, func(ctx context.Context, n int) (int, error) {
		if err := recordEffect(ctx, pool, who, n); err != nil {
			return 0, err
		}
		if n == blockAt {
			info, _ := stent.AttemptFrom(ctx)
			if _, err := pool.Exec(ctx, "insert into crash_markers (name, attempt, pid) values ($1, $2, $3)",
				helperSeqActivity, info.Attempt, os.Getpid()); err != nil {
				return 0, err
			}
			select {} // until killed
		}
		return 10 * n, nil
	}, stent.InRegistry(reg), crashRetry)
	return stent.NewWorkflow(helperSeqWorkflow, func(ctx stent.Context, steps int) (int, error) {
		sum := 0
		for n := 1; n <= steps; n++ {
			out, err := step.Call(ctx, n)
			if err != nil {
				return 0, err
			}
			sum += out
			if _, err := stent.Incr(ctx, "done", 1); err != nil {
				return 0, err
			}
			if n == 5 {
				if err := stent.Sleep(ctx, time.Hour); err != nil {
					return 0, err
				}
			}
		}
		return sum, nil
	}, stent.InRegistry(reg), crashRetry)
}

// defineMapWorkflow defines a workflow mapping its activity (n²) over 1..n and returning the
// sum. With blockAfter > 0 the activity blocks, after recording its effect, once at least
// blockAfter effects exist.
func defineMapWorkflow(reg *stent.Registry, pool *pgxpool.Pool, who string, blockAfter int) *stent.Workflow[int, int] {
	square := stent.NewActivity(helperMapActivity, func(ctx context.Context, n int) (int, error) {
		if err := recordEffect(ctx, pool, who, n); err != nil {
			return 0, err
		}
		if blockAfter > 0 {
			var count int
			if err := pool.QueryRow(ctx, "select count(*) from effects").Scan(&count); err != nil {
				return 0, err
			}
			if count >= blockAfter {
				select {} // until killed
			}
		}
		return n * n, nil
	}, stent.InRegistry(reg), crashRetry)
	return stent.NewWorkflow(helperMapWorkflow, func(ctx stent.Context, n int) (int, error) {
		in := make([]int, n)
		for i := range in {
			in[i] = i + 1
		}
		out, err := square.Map(ctx, in)
		if err != nil {
			return 0, err
		}
		sum := 0
		for _, v := range out {
			sum += v
		}
		return sum, nil
	}, stent.InRegistry(reg), crashRetry)
}

// effectRow is one row of the effects table.
type effectRow struct {
	N       int
	Attempt int
	TaskID  int64
	Who     string
}

// effects reads the effects table, ordered by input and attempt.
func (b *testBundle) effects() []effectRow {
	b.t.Helper()
	rows, err := b.pool.Query(b.ctx(), "select n, attempt, task_id, who from effects order by n, attempt, who")
	require.NoError(b.t, err)
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[effectRow])
	require.NoError(b.t, err)
	return out
}

// killHelper SIGKILLs a helper subprocess and waits until it has died of it.
func killHelper(t *testing.T, p *helperProc) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
	ws, ok := p.wait(t).Sys().(syscall.WaitStatus)
	require.True(t, ok)
	require.Equal(t, syscall.SIGKILL, ws.Signal())
}

// childTask is one activity task of an execution, as the database has it.
type childTask struct {
	ID         int64
	State      string
	Attempt    int
	LeaseOwner *string
	RunAt      time.Time
}

// childTasks reads the execution's tasks of kind kind, by id.
func (b *testBundle) childTasks(id uuid.UUID, kind string) []childTask {
	b.t.Helper()
	rows, err := b.pool.Query(b.ctx(), `select id, state, attempt, lease_owner, run_at from stent.tasks
		where execution_id = $1 and parent_task_id is not null and kind = $2 order by id`, id, kind)
	require.NoError(b.t, err)
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[childTask])
	require.NoError(b.t, err)
	return out
}

// logUnfinishedOnFailure logs the execution's unfinished tasks when the test fails, to show
// where a recovery got stuck.
func (b *testBundle) logUnfinishedOnFailure(id uuid.UUID) {
	b.t.Cleanup(func() {
		if !b.t.Failed() {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		rows, err := b.pool.Query(ctx, `select id, kind, name, state, attempt, coalesce(lease_owner, ''),
			run_at, coalesce(error::text, '') from stent.tasks where execution_id = $1 and state <> 'completed' order by id`, id)
		if err != nil {
			b.t.Logf("unfinished tasks: %v", err)
			return
		}
		defer rows.Close()
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				b.t.Logf("unfinished tasks: %v", err)
				return
			}
			b.t.Logf("unfinished task: %v", vals)
		}
	})
}

// TestCrashMidWorkflow runs a workflow of 10 sequential activities with a durable sleep after
// the 5th across two worker processes, both killed with SIGKILL: the first once the workflow
// sleeps, the second (started after the sleep's deadline) while the 7th activity runs. An
// in-process worker rescues that activity and finishes the workflow. Every activity ran once,
// except the one in flight at the kill (once per attempt); the sleep's deadline never moved;
// the counter counts each step once.
func TestCrashMidWorkflow(t *testing.T) {
	t.Parallel()
	start := time.Now()
	b := setupWithClock(t, start)
	b.exec(createMarkers)
	b.exec(createEffects)
	wf := defineSeqWorkflow(b.reg, b.pool, "survivor", 0)
	id, err := wf.Dispatch(b.ctx(), b.client, seqSteps)
	require.NoError(t, err)
	b.logUnfinishedOnFailure(id)

	// Process a runs steps 1-5 and records the sleep, then is killed while the workflow sleeps.
	a := b.startHelper(helperSeqWorkflow, "crash-a")
	var sleep childTask
	pollUntil(t, "the workflow to sleep", func() bool {
		sleeps := b.childTasks(id, "sleep")
		if len(sleeps) == 0 || b.taskState(id) != "pending" {
			return false
		}
		sleep = sleeps[0]
		return true
	})
	require.Equal(t, "waiting", sleep.State)
	require.WithinDuration(t, start.Add(time.Hour), sleep.RunAt, time.Millisecond, "the deadline is 1h from the first run")
	killHelper(t, a)

	// Process b, started after the deadline, completes the sleep, runs step 6 and is killed in step 7.
	b.clock.Set(start.Add(time.Hour + time.Minute))
	bproc := b.startHelper(helperSeqWorkflow, "crash-b")
	b.waitMarker(helperSeqActivity, 1)
	// The activity can start before the workflow's suspension commits: kill once it has.
	pollUntil(t, "the workflow to wait for step 7", func() bool { return b.taskState(id) == "waiting" })
	before := b.childTasks(id, "sleep")
	require.Len(t, before, 1)
	require.Equal(t, "completed", before[0].State)
	killHelper(t, bproc)
	acts := b.childTasks(id, "activity")
	require.Len(t, acts, seqBlockAt)
	inFlight := acts[seqBlockAt-1]
	require.Equal(t, "running", inFlight.State, "the dead worker still holds the lease")
	require.Equal(t, "crash-b", *inFlight.LeaseOwner)
	require.Equal(t, "waiting", b.taskState(id), "the workflow stays suspended on the activity")

	// Past the lease, the survivor's leader rescues step 7; past its backoff, the survivor runs it again.
	b.clock.Advance(time.Minute)
	b.startWorker(survivorConfig)
	pollUntil(t, "the in-flight activity to be rescued", func() bool {
		return b.childTasks(id, "activity")[seqBlockAt-1].State == "pending"
	})
	b.clock.Advance(time.Minute)
	got, err := wf.Wait(b.ctx(), b.client, id)
	require.NoError(t, err)
	require.Equal(t, 550, got)

	want := []effectRow{}
	for n := 1; n <= seqSteps; n++ {
		who := map[bool]string{true: "crash-a", false: "survivor"}[n <= 5]
		if n == 6 || n == seqBlockAt {
			who = "crash-b"
		}
		want = append(want, effectRow{N: n, Attempt: 1, Who: who})
		if n == seqBlockAt {
			want = append(want, effectRow{N: n, Attempt: 2, Who: "survivor"})
		}
	}
	effects := b.effects()
	for i := range effects {
		effects[i].TaskID = 0
	}
	require.Equal(t, want, effects, "each step ran once, the in-flight one once per attempt")
	after := b.childTasks(id, "sleep")
	require.Len(t, after, 1)
	require.Equal(t, sleep.RunAt, after[0].RunAt, "the recovery did not move the sleep's deadline")
	e := b.get(id)
	require.Equal(t, stent.StateCompleted, e.State)
	require.Equal(t, map[string]float64{"done": seqSteps}, e.Counters, "each step counted once")
	require.Len(t, b.childTasks(id, "activity"), seqSteps, "no step was called twice")
	require.Equal(t, int64(1), b.queryInt("select count(*) from crash_markers"))
}

// TestCrashDuringMap kills a worker process (10 slots) in the middle of a fan-out of 100
// activities, once 30 of them have recorded their effect; the activities still in its slots
// then block. An in-process worker rescues their tasks and finishes the rest. Every input
// ran at least once and at most once per attempt, those completed before the kill exactly
// once, and the workflow's result is right.
func TestCrashDuringMap(t *testing.T) {
	t.Parallel()
	start := time.Now()
	b := setupWithClock(t, start)
	b.exec(createEffects)
	wf := defineMapWorkflow(b.reg, b.pool, "survivor", 0)
	id, err := wf.Dispatch(b.ctx(), b.client, mapInputs)
	require.NoError(t, err)
	b.logUnfinishedOnFailure(id)

	child := b.startHelper(helperMapWorkflow, "crash-m")
	pollUntil(t, "30 effects", func() bool { return b.queryInt("select count(*) from effects") >= mapBlockAfter })
	killHelper(t, child)
	doneBefore := map[int64]bool{}
	for _, task := range b.childTasks(id, "activity") {
		if task.State == "completed" {
			doneBefore[task.ID] = true
		}
	}
	require.NotEmpty(t, doneBefore)

	b.clock.Advance(time.Minute) // past the dead worker's leases
	b.startWorker(survivorConfig)
	pollUntil(t, "the dead worker's tasks to be rescued", func() bool {
		return b.queryInt("select count(*) from stent.tasks where execution_id = $1 and state = 'running' and lease_owner = 'crash-m'", id) == 0
	})
	b.clock.Advance(time.Minute) // past the retries' backoff
	got, err := wf.Wait(b.ctx(), b.client, id)
	require.NoError(t, err)
	require.Equal(t, mapInputs*(mapInputs+1)*(2*mapInputs+1)/6, got)
	require.Equal(t, stent.StateCompleted, b.get(id).State)

	tasks := b.childTasks(id, "activity")
	require.Len(t, tasks, mapInputs, "one child per input, however often the workflow ran")
	byTask := map[int64][]effectRow{}
	inputs := map[int]bool{}
	for _, e := range b.effects() {
		byTask[e.TaskID] = append(byTask[e.TaskID], e)
		inputs[e.N] = true
	}
	require.Len(t, inputs, mapInputs, "every input ran")
	rescued := 0
	for _, task := range tasks {
		runs := byTask[task.ID]
		require.Equal(t, "completed", task.State)
		require.NotEmpty(t, runs, "task %d ran", task.ID)
		require.LessOrEqual(t, len(runs), 2, "task %d: at most the crashed attempt and its retry", task.ID)
		require.Equal(t, task.Attempt, runs[len(runs)-1].Attempt, "task %d: its last attempt ran", task.ID)
		if len(runs) == 2 {
			require.Equal(t, []int{1, 2}, []int{runs[0].Attempt, runs[1].Attempt})
			require.Equal(t, []string{"crash-m", "survivor"}, []string{runs[0].Who, runs[1].Who})
			rescued++
		}
		if doneBefore[task.ID] {
			require.Equal(t, []effectRow{{N: runs[0].N, Attempt: 1, TaskID: task.ID, Who: "crash-m"}}, runs,
				"task %d completed before the kill and never ran again", task.ID)
		}
	}
	require.Positive(t, rescued, "an activity blocked in flight was rescued and ran again")
}

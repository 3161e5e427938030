package stent_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/stenttest"
	"github.com/stentdev/stent/worker"
)

// seed writes rows with plain SQL, bypassing Stent's functions, to build broken states.
type seed struct {
	t *testing.T
	b *testBundle
}

func (s seed) exec(sql string, args ...any) {
	s.t.Helper()
	_, err := s.b.pool.Exec(s.b.ctx, sql, args...)
	require.NoError(s.t, err, sql)
}

// execution inserts an execution in state.
func (s seed) execution(state string) uuid.UUID {
	s.t.Helper()
	id := uuid.New()
	s.exec(`INSERT INTO stent.executions (id, workflow, state, queue, created_at, finished_at)
		VALUES ($1, 'wf', $2, 'default', stent.current_time(),
		        CASE WHEN $2 IN ('completed', 'failed', 'cancelled', 'timed_out') THEN stent.current_time() END)`, id, state)
	return id
}

// task inserts a task of execID (a root when parent is 0) in state; set is a SET list applied
// after the insert (e.g. "attempt = 5").
func (s seed) task(execID uuid.UUID, parent int64, seq int, kind, name, state string, set string) int64 {
	s.t.Helper()
	var p, q any
	if parent != 0 {
		p, q = parent, seq
	}
	var id int64
	err := s.b.pool.QueryRow(s.b.ctx, `INSERT INTO stent.tasks
		(execution_id, parent_task_id, seq, kind, name, state, queue, max_attempts, retry_initial_delay,
		 retry_backoff_factor, retry_max_delay, retry_jitter, run_at, created_at, attempt, finished_at,
		 lease_owner, lease_expires_at, lease_token)
		VALUES ($1, $2, $3, $4, $5, $6, 'default', 3, '1s', 2, '1m', 0, stent.current_time(), stent.current_time(),
		        CASE WHEN $6 = 'running' THEN 1 ELSE 0 END,
		        CASE WHEN $6 IN ('completed', 'failed', 'cancelled') THEN stent.current_time() END,
		        CASE WHEN $6 = 'running' THEN 'w-live' END,
		        CASE WHEN $6 = 'running' THEN stent.current_time() + interval '30 seconds' END,
		        CASE WHEN $6 = 'running' THEN 1 ELSE 0 END)
		RETURNING id`, execID, p, q, kind, name, state).Scan(&id)
	require.NoError(s.t, err)
	if set != "" {
		s.exec("UPDATE stent.tasks SET "+set+" WHERE id = $1", id)
	}
	return id
}

// liveWorker registers worker w-live with a fresh heartbeat.
func (s seed) liveWorker() {
	s.exec(`INSERT INTO stent.workers (id, hostname, pid, queues, functions, concurrency, started_at, heartbeat_at)
		VALUES ('w-live', 'h', 1, '{default}', '{}', 1, stent.current_time(), stent.current_time() - interval '5 seconds')`)
}

func checks(fs []stent.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Check)
	}
	slices.Sort(out)
	return out
}

// TestDoctor seeds each invariant violation with SQL and checks that stent.doctor reports
// exactly it (with its execution and task), that DoctorFix repairs the fixable ones (Doctor
// is then clean and the repair is the expected one), and leaves the others reported.
func TestDoctor(t *testing.T) {
	t.Parallel()
	type want struct {
		check    string
		task     bool // the finding names the task the seed returned
		fixable  bool
		after    string // SQL returning one row/column, checked after the fix (with $1 = task)
		afterVal any
	}
	cases := []struct {
		name string
		seed func(s seed) (uuid.UUID, int64)
		opts stent.DoctorOptions
		want want
	}{
		{"expired lease", func(s seed) (uuid.UUID, int64) {
			s.liveWorker()
			e := s.execution("running")
			return e, s.task(e, 0, 0, "activity", "a", "running", "lease_expires_at = stent.current_time() - interval '2 minutes'")
		}, stent.DoctorOptions{}, want{"expired_lease", true, true, "SELECT state || ':' || attempt FROM stent.tasks WHERE id = $1", "pending:1"}},
		{"lease of an unregistered worker", func(s seed) (uuid.UUID, int64) {
			e := s.execution("running")
			return e, s.task(e, 0, 0, "activity", "a", "running", "lease_owner = 'ghost'")
		}, stent.DoctorOptions{}, want{"dead_worker_lease", true, true, "SELECT state FROM stent.tasks WHERE id = $1", "pending"}},
		{"lease of a silent worker", func(s seed) (uuid.UUID, int64) {
			s.liveWorker()
			s.exec("UPDATE stent.workers SET heartbeat_at = stent.current_time() - interval '3 minutes'")
			e := s.execution("running")
			return e, s.task(e, 0, 0, "activity", "a", "running", "lease_expires_at = stent.current_time() + interval '10 seconds'")
		}, stent.DoctorOptions{}, want{"dead_worker_lease", true, true, "SELECT state FROM stent.tasks WHERE id = $1", "pending"}},
		{"runnable task of a finished execution", func(s seed) (uuid.UUID, int64) {
			e := s.execution("completed")
			root := s.task(e, 0, 0, "workflow", "wf", "completed", "")
			return e, s.task(e, root, 0, "activity", "a", "pending", "")
		}, stent.DoctorOptions{}, want{"runnable_in_finished_execution", true, true, "SELECT state FROM stent.tasks WHERE id = $1", "cancelled"}},
		{"waiting for more children than are open", func(s seed) (uuid.UUID, int64) {
			e := s.execution("running")
			root := s.task(e, 0, 0, "workflow", "wf", "waiting", "wait_remaining = 2")
			s.task(e, root, 0, "activity", "a", "completed", "wakes_parent = true")
			s.task(e, root, 1, "activity", "a", "pending", "wakes_parent = true")
			return e, root
		}, stent.DoctorOptions{}, want{"wait_mismatch", true, true, "SELECT state || ':' || wait_remaining FROM stent.tasks WHERE id = $1", "waiting:1"}},
		{"waiting with nothing left", func(s seed) (uuid.UUID, int64) {
			e := s.execution("running")
			root := s.task(e, 0, 0, "workflow", "wf", "waiting", "wait_remaining = 1")
			s.task(e, root, 0, "activity", "a", "completed", "wakes_parent = true")
			return e, root
		}, stent.DoctorOptions{}, want{"wait_mismatch", true, true, "SELECT state || ':' || wait_remaining || ':' || (run_at = stent.current_time()) FROM stent.tasks WHERE id = $1", "pending:0:true"}},
		{"cache follower without owner", func(s seed) (uuid.UUID, int64) {
			e := s.execution("running")
			root := s.task(e, 0, 0, "workflow", "wf", "waiting", "wait_remaining = 1")
			return e, s.task(e, root, 0, "activity", "a", "waiting", "wakes_parent = true, cache_key = 'k'")
		}, stent.DoctorOptions{}, want{"cache_wait_orphaned", true, true, "SELECT state FROM stent.tasks WHERE id = $1", "pending"}},
		{"sleep overdue", func(s seed) (uuid.UUID, int64) {
			e := s.execution("running")
			root := s.task(e, 0, 0, "workflow", "wf", "pending", "run_at = stent.current_time() + interval '1 hour'")
			s.task(e, root, 0, "sleep", "stent.sleep", "waiting", "run_at = stent.current_time() - interval '2 minutes'")
			return e, root
		}, stent.DoctorOptions{}, want{"wake_overdue", true, true, "SELECT run_at = stent.current_time() FROM stent.tasks WHERE id = $1", true}},
		{"signal arrived but workflow parked", func(s seed) (uuid.UUID, int64) {
			e := s.execution("running")
			root := s.task(e, 0, 0, "workflow", "wf", "pending", "run_at = stent.current_time() + interval '1 hour'")
			s.task(e, root, 0, "signal", "approve", "waiting", "run_at = stent.current_time() + interval '1 hour'")
			s.exec(`INSERT INTO stent.signals (execution_id, name, created_at) VALUES ($1, 'approve', stent.current_time() - interval '2 minutes')`, e)
			return e, root
		}, stent.DoctorOptions{}, want{"wake_overdue", true, true, "SELECT run_at = stent.current_time() FROM stent.tasks WHERE id = $1", true}},
		{"child of a missing parent", func(s seed) (uuid.UUID, int64) {
			e := s.execution("running")
			s.task(e, 0, 0, "workflow", "wf", "pending", "")
			tx, err := s.b.pool.Begin(s.b.ctx)
			require.NoError(s.t, err)
			defer func() { _ = tx.Rollback(s.b.ctx) }()
			_, err = tx.Exec(s.b.ctx, "SET LOCAL session_replication_role = replica")
			require.NoError(s.t, err)
			var id int64
			require.NoError(s.t, tx.QueryRow(s.b.ctx, `INSERT INTO stent.tasks (execution_id, parent_task_id, seq, kind, name, queue,
				max_attempts, retry_initial_delay, retry_backoff_factor, retry_max_delay, retry_jitter, run_at, created_at)
				VALUES ($1, 999999, 0, 'activity', 'a', 'default', 1, '0', 1, '0', 0, now(), now()) RETURNING id`, e).Scan(&id))
			require.NoError(s.t, tx.Commit(s.b.ctx))
			return e, id
		}, stent.DoctorOptions{}, want{"orphaned_task", true, false, "", nil}},
		{"child in another execution than its parent", func(s seed) (uuid.UUID, int64) {
			a, b := s.execution("running"), s.execution("running")
			rootA := s.task(a, 0, 0, "workflow", "wf", "pending", "")
			s.task(b, 0, 0, "workflow", "wf", "pending", "")
			return b, s.task(b, rootA, 0, "activity", "a", "completed", "")
		}, stent.DoctorOptions{}, want{"orphaned_task", true, false, "", nil}},
		{"execution without a root task", func(s seed) (uuid.UUID, int64) {
			return s.execution("pending"), 0
		}, stent.DoctorOptions{}, want{"missing_root_task", false, false, "", nil}},
		{"attempts beyond the maximum", func(s seed) (uuid.UUID, int64) {
			e := s.execution("pending")
			return e, s.task(e, 0, 0, "activity", "a", "pending", "attempt = 5")
		}, stent.DoctorOptions{}, want{"attempts_exceeded", true, false, "", nil}},
		{"dead letter of a completed task", func(s seed) (uuid.UUID, int64) {
			e := s.execution("completed")
			id := s.task(e, 0, 0, "activity", "a", "completed", "")
			s.exec(`INSERT INTO stent.dead_letters (task_id, execution_id, name, kind, queue, attempts, error, created_at)
				VALUES ($1, $2, 'a', 'activity', 'default', 3, '{}', stent.current_time())`, id, e)
			return e, id
		}, stent.DoctorOptions{}, want{"stale_dead_letter", true, true, "SELECT count(*)::int FROM stent.dead_letters WHERE task_id = $1", int32(0)}},
		{"duplicate checkpoint position", func(s seed) (uuid.UUID, int64) {
			s.exec("DROP INDEX stent.tasks_parent_seq_idx")
			e := s.execution("running")
			root := s.task(e, 0, 0, "workflow", "wf", "pending", "")
			s.task(e, root, 0, "step", "x", "completed", "")
			s.task(e, root, 0, "step", "y", "completed", "")
			return e, root
		}, stent.DoctorOptions{}, want{"checkpoint_duplicate", true, false, "", nil}},
		{"gap in a finished workflow's checkpoints", func(s seed) (uuid.UUID, int64) {
			e := s.execution("completed")
			root := s.task(e, 0, 0, "workflow", "wf", "completed", "")
			s.task(e, root, 0, "step", "x", "completed", "")
			s.task(e, root, 2, "step", "y", "completed", "")
			return e, root
		}, stent.DoctorOptions{}, want{"checkpoint_gap", true, false, "", nil}},
		{"checkpoint of the wrong kind", func(s seed) (uuid.UUID, int64) {
			e := s.execution("completed")
			root := s.task(e, 0, 0, "workflow", "wf", "completed", "")
			return e, s.task(e, root, 0, "sleep", "not-a-sleep", "completed", "")
		}, stent.DoctorOptions{}, want{"checkpoint_mismatch", true, false, "", nil}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			s := seed{t, b}
			fs, err := b.client.Doctor(b.ctx)
			require.NoError(t, err)
			require.Empty(t, fs, "a fresh database is healthy")

			execID, taskID := tc.seed(s)
			fs, err = b.client.DoctorWith(b.ctx, tc.opts)
			require.NoError(t, err)
			require.Len(t, fs, 1, "%+v", fs)
			f := fs[0]
			require.Equal(t, tc.want.check, f.Check)
			require.NotEmpty(t, f.Detail)
			require.Equal(t, tc.want.fixable, f.Fixable)
			require.NotNil(t, f.ExecutionID)
			require.Equal(t, execID, *f.ExecutionID)
			if tc.want.task {
				require.Equal(t, taskID, f.TaskID)
			}
			require.Empty(t, f.Action)

			o := tc.opts
			o.Fix = true
			fixed, err := b.client.DoctorWith(b.ctx, o)
			require.NoError(t, err)
			require.Len(t, fixed, 1)
			require.Equal(t, f.Check, fixed[0].Check)
			after, err := b.client.DoctorWith(b.ctx, tc.opts)
			require.NoError(t, err)
			if !tc.want.fixable {
				require.Empty(t, fixed[0].Action)
				require.Equal(t, fs, after, "unfixable findings stay")
				return
			}
			require.NotEmpty(t, fixed[0].Action)
			require.Empty(t, after, "fixed: %s", fixed[0].Action)
			var got any
			require.NoError(t, b.pool.QueryRow(b.ctx, tc.want.after, taskID).Scan(&got))
			require.Equal(t, tc.want.afterVal, got)
		})
	}
}

// TestDoctorDatabaseHealth: dead tuples in a Stent table and an old snapshot in the database
// are reported (with thresholds low enough for a test) and are not "fixable" by Stent.
func TestDoctorDatabaseHealth(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := seed{t, b}

	// Bloat: 2,000 dead rows, autovacuum kept away.
	s.exec("ALTER TABLE stent.progress SET (autovacuum_enabled = false)")
	e := s.execution("completed")
	s.exec(`INSERT INTO stent.progress (execution_id, message, created_at)
		SELECT $1, 'm', stent.current_time() FROM generate_series(1, 2000)`, e)
	s.exec("DELETE FROM stent.progress")
	opts := stent.DoctorOptions{BloatMinDead: 1000}
	var fs []stent.Finding
	pollUntil(t, "bloat reported (statistics are flushed asynchronously)", func() bool {
		s.exec("SELECT pg_stat_force_next_flush()")
		var err error
		fs, err = b.client.DoctorWith(b.ctx, opts)
		require.NoError(t, err)
		return len(fs) > 0
	})
	require.Equal(t, []string{"table_bloat"}, checks(fs))
	require.Contains(t, fs[0].Detail, "stent.progress")
	require.Nil(t, fs[0].ExecutionID)
	require.False(t, fs[0].Fixable)
	s.exec("VACUUM stent.progress")
	pollUntil(t, "bloat gone after VACUUM", func() bool {
		fs, err := b.client.DoctorWith(b.ctx, opts)
		require.NoError(t, err)
		return len(fs) == 0
	})

	// An old snapshot: a repeatable-read transaction left open while 50 transactions pass.
	conn, err := b.pool.Acquire(b.ctx)
	require.NoError(t, err)
	defer conn.Release()
	tx, err := conn.BeginTx(b.ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(context.Background()) }()
	_, err = tx.Exec(b.ctx, "SELECT count(*) FROM stent.tasks")
	require.NoError(t, err)
	for range 50 {
		s.exec("SELECT txid_current()")
	}
	fs, err = b.client.DoctorWith(b.ctx, stent.DoctorOptions{XminAge: 20})
	require.NoError(t, err)
	require.Equal(t, []string{"xmin_horizon"}, checks(fs))
	require.Contains(t, fs[0].Detail, "holds a snapshot")
	require.NoError(t, tx.Rollback(b.ctx))
	fs, err = b.client.DoctorWith(b.ctx, stent.DoctorOptions{XminAge: 20})
	require.NoError(t, err)
	require.Empty(t, fs)
}

// TestDoctorCleanAfterWorkload: after a normal workload — activities, workflow steps and
// children, a failure to the dead-letter queue, a cancellation, a durable sleep and a
// signal — with a live worker holding leases, the doctor reports nothing.
func TestDoctorCleanAfterWorkload(t *testing.T) {
	t.Parallel()
	b := setup(t)
	act := b.echo("doc.echo")
	fail := stent.NewActivity("doc.fail", func(context.Context, string) (string, error) {
		return "", errors.New("always fails")
	}, stent.InRegistry(b.reg), stent.Retry(stent.RetryPolicy{MaxAttempts: 1}))
	block := make(chan struct{})
	slow := stent.NewActivity("doc.slow", func(ctx context.Context, in string) (string, error) {
		select {
		case <-block:
		case <-ctx.Done():
		}
		return in, nil
	}, stent.InRegistry(b.reg))
	wf := stent.NewWorkflow("doc.wf", func(ctx stent.Context, in string) (string, error) {
		v, err := stent.Step(ctx, "step", func(context.Context) (string, error) { return in + "!", nil })
		if err != nil {
			return "", err
		}
		if err := stent.Sleep(ctx, time.Minute); err != nil {
			return "", err
		}
		sig, err := stent.WaitSignal[string](ctx, "go", time.Hour)
		if err != nil {
			return "", err
		}
		return act.Call(ctx, v+sig)
	}, stent.InRegistry(b.reg))
	stenttest.StartWorker(t, b.client, worker.Config{
		MaintenanceInterval: 10 * time.Millisecond, LeaseDuration: 2 * time.Second, HeartbeatInterval: 20 * time.Millisecond,
	})

	for i := range 5 {
		_, err := act.Run(b.ctx, b.client, "x")
		require.NoError(t, err, i)
	}
	_, err := fail.Run(b.ctx, b.client, "x")
	require.Error(t, err)
	id, err := wf.Dispatch(b.ctx, b.client, "in")
	require.NoError(t, err)
	pollUntil(t, "workflow asleep", func() bool {
		return b.count(t, "SELECT count(*) FROM stent.tasks WHERE kind = 'sleep' AND state = 'waiting'") == 1
	})
	b.clock.Advance(2 * time.Minute)
	pollUntil(t, "workflow waits for its signal", func() bool {
		return b.count(t, "SELECT count(*) FROM stent.tasks WHERE kind = 'signal' AND state = 'waiting'") == 1
	})
	require.NoError(t, b.client.Signal(b.ctx, id, "go", "?"))
	got, err := wf.Wait(b.ctx, b.client, id)
	require.NoError(t, err)
	require.Equal(t, "in!?", got)
	cancelled, err := act.Dispatch(b.ctx, b.client, "c", stent.WithDelay(time.Hour))
	require.NoError(t, err)
	_, err = b.client.Cancel(b.ctx, cancelled)
	require.NoError(t, err)

	// One attempt running under a live lease while the doctor looks.
	running, err := slow.Dispatch(b.ctx, b.client, "s")
	require.NoError(t, err)
	pollUntil(t, "slow activity running", func() bool {
		return b.count(t, "SELECT count(*) FROM stent.tasks WHERE name = 'doc.slow' AND state = 'running'") == 1
	})
	// The fake clock jumped; the worker has heartbeaten since (as it would in real time).
	pollUntil(t, "heartbeat at the current time", func() bool {
		return b.count(t, "SELECT count(*) FROM stent.workers WHERE heartbeat_at = stent.current_time()") == 1
	})
	fs, err := b.client.Doctor(b.ctx)
	require.NoError(t, err)
	require.Empty(t, fs)
	fixed, err := b.client.DoctorFix(b.ctx)
	require.NoError(t, err)
	require.Empty(t, fixed)
	close(block)
	_, err = slow.Wait(b.ctx, b.client, running)
	require.NoError(t, err)
	fs, err = b.client.Doctor(b.ctx)
	require.NoError(t, err)
	require.Empty(t, fs)
	require.Equal(t, 1, b.count(t, "SELECT count(*) FROM stent.dead_letters"))
}

// TestDoctorOptionsValidated: bad thresholds are an InvalidArgumentError before any query.
func TestDoctorOptionsValidated(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, o := range []stent.DoctorOptions{{Grace: -time.Second}, {BloatRatio: 1.5}, {BloatRatio: -0.1}, {BloatMinDead: -1}, {XminAge: -1}} {
		_, err := b.client.DoctorWith(b.ctx, o)
		var ia *stent.InvalidArgumentError
		require.ErrorAs(t, err, &ia, "%+v", o)
	}
}

package stent_test

import (
	"slices"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stent"
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

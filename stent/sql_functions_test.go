package stent_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/internal/store"
	"github.com/stentdev/stent/stent"
)

// TestDispatchErrors: an unregistered name is an *UnregisteredError listing what is
// registered; bad options are an *InvalidArgumentError; nothing is inserted either way.
func TestDispatchErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	act := b.echo("errs.b")
	b.echo("errs.a")

	_, err := b.client.Dispatch(b.ctx, "errs.missing", "in")
	var ue *stent.UnregisteredError
	require.ErrorAs(t, err, &ue)
	require.Equal(t, &stent.UnregisteredError{Name: "errs.missing", Registered: []string{"errs.a", "errs.b"}}, ue)
	require.Contains(t, err.Error(), "errs.a, errs.b")

	one := func(o stent.DispatchOption) []stent.DispatchOption { return []stent.DispatchOption{o} }
	for name, opts := range map[string][]stent.DispatchOption{
		"negative delay":     one(stent.WithDelay(-time.Second)),
		"priority too high":  one(stent.WithPriority(1001)),
		"priority too low":   one(stent.WithPriority(-1001)),
		"empty queue":        one(stent.WithQueue("")),
		"queue with a space": one(stent.WithQueue("bad queue")),
		"queue of 129 bytes": one(stent.WithQueue(strings.Repeat("q", 129))), // caught by the database
		"tag with a space":   one(stent.WithTags("ok", "bad tag")),
		"empty tag":          one(stent.WithTags("")),
		"empty key":          one(stent.WithIdempotencyKey("")),
		"key of 513 bytes":   one(stent.WithIdempotencyKey(strings.Repeat("k", 513))),
		"zero run at":        one(stent.WithRunAt(time.Time{})),
		"negative attempts":  one(stent.WithRetry(stent.RetryPolicy{MaxAttempts: -3})),
		"delay and run at":   {stent.WithDelay(time.Second), stent.WithRunAt(b.clock.Now())},
	} {
		var ia *stent.InvalidArgumentError
		_, err := act.Dispatch(b.ctx, b.client, "in", opts...)
		require.ErrorAs(t, err, &ia, name)
		_, err = b.client.Dispatch(b.ctx, "errs.b", "in", opts...)
		require.ErrorAs(t, err, &ia, name)
		_, err = act.DispatchMany(b.ctx, b.client, []string{"a", "b"}, opts...)
		require.ErrorAs(t, err, &ia, name)
	}
	require.Zero(t, b.count(t, "select count(*) from stent.executions"))
	require.Zero(t, b.count(t, "select count(*) from stent.tasks"))
}

// TestSQLDispatch: stent.dispatch from SQL (psql, triggers) takes the defaults a worker
// registered in stent.functions, explicit arguments override them, and unknown names get
// the built-in defaults.
func TestSQLDispatch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.NoError(t, b.store.RegisterFunctions(b.ctx, []byte(`[{"name": "sql.fn", "kind": "activity",
		"queue": "sqlq", "priority": 7, "tags": ["gpu"], "max_attempts": 9, "retry_initial_delay_ms": 1500,
		"retry_backoff_factor": 3, "retry_max_delay_ms": 60000, "retry_jitter": 0.25,
		"retry_on": ["conn_reset"], "timeout_ms": 2000}]`)))

	dispatch := func(query string, args ...any) (uuid.UUID, int64) {
		t.Helper()
		var (
			execID  uuid.UUID
			taskID  int64
			created bool
		)
		require.NoError(t, b.pool.QueryRow(b.ctx, query, args...).Scan(&execID, &taskID, &created))
		require.True(t, created)
		require.Equal(t, taskID, b.rootTask(t, execID).ID)
		return execID, taskID
	}

	execID, taskID := dispatch(`select * from stent.dispatch('sql.fn', '{"n": 1}')`)
	e, tk := b.execution(t, execID), b.task(t, taskID)
	require.Equal(t, "sql.fn", e.Workflow)
	require.JSONEq(t, `{"n": 1}`, string(e.Input))
	require.Equal(t, "sqlq", tk.Queue)
	require.Equal(t, "sqlq", e.Queue)
	require.EqualValues(t, 7, tk.Priority)
	require.Equal(t, []string{"gpu"}, tk.Tags)
	require.Equal(t, "activity", tk.Kind)
	require.EqualValues(t, 9, tk.MaxAttempts)
	require.Equal(t, 1500*time.Millisecond, intervalDuration(t, tk.RetryInitialDelay))
	require.Equal(t, 3.0, tk.RetryBackoffFactor)
	require.Equal(t, time.Minute, intervalDuration(t, tk.RetryMaxDelay))
	require.Equal(t, 0.25, tk.RetryJitter)
	require.Equal(t, []string{"conn_reset"}, tk.RetryOn)
	require.Equal(t, 2*time.Second, intervalDuration(t, tk.Timeout))
	requireTime(t, b.clock.Now(), tk.RunAt)
	requireTime(t, b.clock.Now(), e.CreatedAt)

	runAt := b.clock.Now().Add(time.Hour)
	_, taskID = dispatch(`select * from stent.dispatch('sql.fn', p_queue => 'other', p_priority => -2,
		p_tags => '{}', p_run_at => $1, p_max_attempts => 1)`, runAt)
	tk = b.task(t, taskID)
	require.Equal(t, "other", tk.Queue)
	require.EqualValues(t, -2, tk.Priority)
	require.Empty(t, tk.Tags)
	require.EqualValues(t, 1, tk.MaxAttempts)
	requireTime(t, runAt, tk.RunAt)
	require.Equal(t, 3.0, tk.RetryBackoffFactor, "unset fields still come from stent.functions")

	execID, taskID = dispatch(`select * from stent.dispatch('sql.unknown')`)
	tk = b.task(t, taskID)
	require.JSONEq(t, `null`, string(b.execution(t, execID).Input))
	require.Equal(t, stent.DefaultQueue, tk.Queue)
	require.Equal(t, "activity", tk.Kind)
	require.EqualValues(t, stent.DefaultMaxAttempts, tk.MaxAttempts)
	require.Equal(t, stent.DefaultInitialDelay, intervalDuration(t, tk.RetryInitialDelay))
	require.Equal(t, stent.DefaultMaxDelay, intervalDuration(t, tk.RetryMaxDelay))
	require.Equal(t, stent.DefaultJitter, tk.RetryJitter)
	require.False(t, tk.Timeout.Valid)

	// An idempotency key works from SQL as well.
	keyed, _ := dispatch(`select * from stent.dispatch('sql.fn', p_idempotency_key => 'k1')`)
	var again uuid.UUID
	var created bool
	require.NoError(t, b.pool.QueryRow(b.ctx, `select execution_id, created from stent.dispatch('sql.fn', p_idempotency_key => 'k1')`).Scan(&again, &created))
	require.Equal(t, keyed, again)
	require.False(t, created)
}

// TestSQLDispatchBadRequests: malformed requests to stent.dispatch_many raise ST003 (invalid
// argument), which the adapter maps to *InvalidArgumentError, and insert nothing.
func TestSQLDispatchBadRequests(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for name, req := range map[string]string{
		"not an array":         `{"name": "x"}`,
		"not an object":        `[1]`,
		"missing name":         `[{"input": 1}]`,
		"empty name":           `[{"name": ""}]`,
		"negative delay_ms":    `[{"name": "x", "delay_ms": -5}]`,
		"zero max_attempts":    `[{"name": "x", "max_attempts": 0}]`,
		"zero timeout_ms":      `[{"name": "x", "timeout_ms": 0}]`,
		"unknown kind":         `[{"name": "x", "kind": "cron"}]`,
		"tags not an array":    `[{"name": "x", "tags": "gpu"}]`,
		"retry_on not array":   `[{"name": "x", "retry_on": "conn_reset"}]`,
		"second request bad":   `[{"name": "x"}, {"name": "y", "delay_ms": -1}]`,
		"delay_ms not numeric": `[{"name": "x", "delay_ms": "soon"}]`,
		"priority overflow":    `[{"name": "x", "priority": 40000}]`,
	} {
		_, err := b.store.DispatchMany(b.ctx, []byte(req))
		var ia *store.InvalidArgumentError
		require.ErrorAs(t, err, &ia, name)
		require.Contains(t, ia.Message, "dispatch", name)
	}
	_, err := b.pool.Exec(b.ctx, `select stent.dispatch_many('[{"input": 1}]')`)
	requireSQLState(t, err, "ST003")
	require.Contains(t, err.Error(), "request 1: name is required")
	_, err = b.pool.Exec(b.ctx, `select stent.dispatch_many('[{"name": "x"}, {"name": "y", "delay_ms": -1}]')`)
	require.Contains(t, err.Error(), "request 2: delay_ms must not be negative")
	require.Zero(t, b.count(t, "select count(*) from stent.executions"))
}

// TestDispatchOneMatchesMany: stent.dispatch_one (typed arguments, the path of every single
// dispatch) and stent.dispatch_many (a JSON request) write the same execution and root task
// for the same request — with every option set, and with none (registered defaults) — so
// the two insert statements cannot drift apart.
func TestDispatchOneMatchesMany(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.NoError(t, b.store.RegisterFunctions(b.ctx, []byte(`[{"name": "same.fn", "kind": "workflow",
		"queue": "sameq", "priority": 3, "tags": ["a"], "max_attempts": 4, "retry_initial_delay_ms": 250,
		"retry_backoff_factor": 1.5, "retry_max_delay_ms": 9000, "retry_jitter": 0.5,
		"retry_on": ["x"], "timeout_ms": 700, "key_path": ["tenant"]}]`)))

	// row is everything dispatch decides about an execution and its root task, as text.
	row := func(execID uuid.UUID) string {
		t.Helper()
		var s string
		require.NoError(t, b.pool.QueryRow(b.ctx, `
			SELECT concat_ws('|', e.workflow, e.state, e.input, e.queue, e.priority, e.tags, e.deadline,
			       e.created_at, t.kind, t.name, t.state, t.queue, t.priority, t.tags, t.attempt,
			       t.max_attempts, t.retry_initial_delay, t.retry_backoff_factor, t.retry_max_delay,
			       t.retry_jitter, t.retry_on, t.timeout, t.run_at, t.concurrency_key, t.trace_context,
			       t.lease_owner, t.lease_token, t.created_at)
			FROM stent.executions e JOIN stent.tasks t ON t.execution_id = e.id AND t.parent_task_id IS NULL
			WHERE e.id = $1`, execID).Scan(&s))
		return s
	}
	one := func(query string) uuid.UUID {
		t.Helper()
		var id uuid.UUID
		require.NoError(t, b.pool.QueryRow(b.ctx, query).Scan(&id))
		return id
	}
	for name, c := range map[string]struct{ one, many string }{
		"defaults": {
			`SELECT execution_id FROM stent.dispatch_one('same.fn', '{"tenant": "acme"}')`,
			`SELECT execution_id FROM stent.dispatch_many('[{"name": "same.fn", "input": {"tenant": "acme"}}]')`,
		},
		"every option": {
			`SELECT execution_id FROM stent.dispatch_one('same.fn', '{"n": 1}', p_kind => 'activity',
			   p_queue => 'q2', p_priority => -5, p_tags => '{b,c}', p_delay_ms => 1500,
			   p_max_duration_ms => 60000, p_max_attempts => 7, p_retry_initial_delay_ms => 10,
			   p_retry_backoff_factor => 2, p_retry_max_delay_ms => 100, p_retry_jitter => 0,
			   p_retry_on => '{y}', p_timeout_ms => 5000, p_concurrency_key => 'k',
			   p_trace_context => '{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}')`,
			`SELECT execution_id FROM stent.dispatch_many('[{"name": "same.fn", "input": {"n": 1}, "kind": "activity",
			   "queue": "q2", "priority": -5, "tags": ["b", "c"], "delay_ms": 1500, "max_duration_ms": 60000,
			   "max_attempts": 7, "retry_initial_delay_ms": 10, "retry_backoff_factor": 2,
			   "retry_max_delay_ms": 100, "retry_jitter": 0, "retry_on": ["y"], "timeout_ms": 5000,
			   "concurrency_key": "k",
			   "trace_context": {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}}]')`,
		},
		"run at and deadline": {
			`SELECT execution_id FROM stent.dispatch_one('same.fn', p_run_at => '2026-02-01 00:00:00+00',
			   p_deadline => '2026-03-01 00:00:00+00', p_key_path => '{missing}')`,
			`SELECT execution_id FROM stent.dispatch_many('[{"name": "same.fn", "run_at": "2026-02-01T00:00:00Z",
			   "deadline": "2026-03-01T00:00:00Z", "key_path": ["missing"]}]')`,
		},
	} {
		require.Equal(t, row(one(c.many)), row(one(c.one)), name)
	}
}

// TestDispatchOneChecksMatchMany: dispatch_one (typed arguments) and dispatch_many (JSON)
// check a request's values with the same rules and report the same problem. The rules are
// written twice on purpose — inline in dispatch_many's one pass over a batch (a shared
// PL/pgSQL check per request made bulk dispatches about a fifth slower) and over typed
// arguments in dispatch_one — so this table keeps them from drifting apart.
func TestDispatchOneChecksMatchMany(t *testing.T) {
	t.Parallel()
	b := setup(t)
	message := func(query string, args ...any) string {
		t.Helper()
		_, err := b.pool.Exec(b.ctx, query, args...)
		requireSQLState(t, err, "ST003")
		var pgErr *pgconn.PgError
		require.ErrorAs(t, err, &pgErr)
		msg := strings.TrimPrefix(pgErr.Message, "stent.dispatch_one: ")
		return strings.TrimPrefix(msg, "stent.dispatch_many: request 1: ")
	}
	for _, c := range []struct{ one, many string }{
		{`p_name => ''`, `"name": ""`},
		{`p_name => 'a b'`, `"name": "a b"`},
		{`p_name => '` + strings.Repeat("n", 201) + `'`, `"name": "` + strings.Repeat("n", 201) + `"`},
		{`p_queue => ''`, `"queue": ""`},
		{`p_queue => '` + strings.Repeat("q", 129) + `'`, `"queue": "` + strings.Repeat("q", 129) + `"`},
		{`p_tags => '{ok,"not ok"}'`, `"tags": ["ok", "not ok"]`},
		{`p_idempotency_key => ''`, `"idempotency_key": ""`},
		{`p_idempotency_key => E'k\n'`, `"idempotency_key": "k\n"`},
		{`p_concurrency_key => '` + strings.Repeat("k", 257) + `'`, `"concurrency_key": "` + strings.Repeat("k", 257) + `"`},
		{`p_priority => 1001`, `"priority": 1001`},
		{`p_priority => -1001`, `"priority": -1001`},
		{`p_max_attempts => 0`, `"max_attempts": 0`},
		{`p_delay_ms => -1`, `"delay_ms": -1`},
		{`p_max_duration_ms => 0`, `"max_duration_ms": 0`},
		{`p_retry_initial_delay_ms => -1`, `"retry_initial_delay_ms": -1`},
		{`p_retry_max_delay_ms => -1`, `"retry_max_delay_ms": -1`},
		{`p_retry_backoff_factor => 0.5`, `"retry_backoff_factor": 0.5`},
		{`p_retry_jitter => 1.5`, `"retry_jitter": 1.5`},
		{`p_timeout_ms => 0`, `"timeout_ms": 0`},
		{`p_kind => 'cron'`, `"kind": "cron"`},
		{`p_trace_context => '[1]'`, `"trace_context": [1]`},
	} {
		one := `SELECT * FROM stent.dispatch_one('a', ` + c.one + `)`
		if strings.HasPrefix(c.one, "p_name") {
			one = `SELECT * FROM stent.dispatch_one(` + c.one + `)`
		}
		many := `{"name": "a", ` + c.many + `}`
		if strings.HasPrefix(c.many, `"name"`) {
			many = `{` + c.many + `}`
		}
		require.Equal(t, message(`SELECT * FROM stent.dispatch_many(jsonb_build_array($1::jsonb))`, many), message(one), c.one)
	}
	require.Zero(t, b.count(t, "SELECT count(*) FROM stent.executions"))
}

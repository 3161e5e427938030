package stent_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
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

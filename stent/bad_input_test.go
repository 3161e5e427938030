package stent_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stent"
)

// rowCounts counts the rows of every table bad input could touch, to show it changed nothing.
func (b *testBundle) rowCounts(t *testing.T) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, table := range []string{"executions", "tasks", "signals", "dead_letters", "limits", "pauses", "functions", "workers"} {
		out[table] = b.count(t, "SELECT count(*) FROM stent."+table)
	}
	return out
}

// TestBadInputSQL calls the SQL functions with malformed ids, names, JSON, negative
// durations and oversized payloads: each raises ST003 (invalid argument; ST002 for an id
// that names nothing), or PostgreSQL's own error where the value cannot even be typed, and
// nothing changes.
func TestBadInputSQL(t *testing.T) {
	t.Parallel()
	b := setup(t)
	execID, _ := b.dispatch(t, b.echo("bad.sql"), "x")
	long := strings.Repeat("n", 201)
	big := `"` + strings.Repeat("x", 2<<20) + `"`
	cases := []struct {
		name, sql string
		args      []any
		code      string
	}{
		{"dispatch: invalid JSON", "SELECT * FROM stent.dispatch_many($1::text::jsonb)", []any{`[{"name": "a"`}, "22P02"},
		{"dispatch: not an array", "SELECT * FROM stent.dispatch_many($1)", []any{`{"name": "a"}`}, "ST003"},
		{"dispatch: null", "SELECT * FROM stent.dispatch_many(NULL)", nil, "ST003"},
		{"dispatch: request not an object", "SELECT * FROM stent.dispatch_many($1)", []any{`["a"]`}, "ST003"},
		{"dispatch: no name", "SELECT * FROM stent.dispatch_many($1)", []any{`[{"input": 1}]`}, "ST003"},
		{"dispatch: name too long", "SELECT * FROM stent.dispatch_many($1)", []any{`[{"name": "` + long + `"}]`}, "ST003"},
		{"dispatch: name with a space", "SELECT * FROM stent.dispatch_many($1)", []any{`[{"name": "a b"}]`}, "ST003"},
		{"dispatch: name with a control character", "SELECT * FROM stent.dispatch_many($1)", []any{`[{"name": "a\u0007"}]`}, "ST003"},
		{"dispatch: bad queue", "SELECT * FROM stent.dispatch_many($1)", []any{`[{"name": "a", "queue": ""}]`}, "ST003"},
		{"dispatch: bad tag", "SELECT * FROM stent.dispatch_many($1)", []any{`[{"name": "a", "tags": ["x", 1]}]`}, "ST003"},
		{"dispatch: empty idempotency key", "SELECT * FROM stent.dispatch_many($1)", []any{`[{"name": "a", "idempotency_key": ""}]`}, "ST003"},
		{"dispatch: idempotency key with a newline", "SELECT * FROM stent.dispatch_many($1)", []any{`[{"name": "a", "idempotency_key": "k\n"}]`}, "ST003"},
		{"dispatch: concurrency key too long", "SELECT * FROM stent.dispatch_many($1)", []any{`[{"name": "a", "concurrency_key": "` + strings.Repeat("k", 257) + `"}]`}, "ST003"},
		{"dispatch: negative delay", "SELECT * FROM stent.dispatch_many($1)", []any{`[{"name": "a", "delay_ms": -1}]`}, "ST003"},
		{"dispatch: delay not a number", "SELECT * FROM stent.dispatch_many($1)", []any{`[{"name": "a", "delay_ms": "soon"}]`}, "ST003"},
		{"dispatch: negative max duration", "SELECT * FROM stent.dispatch_many($1)", []any{`[{"name": "a", "max_duration_ms": -5}]`}, "ST003"},
		{"dispatch: negative retry delay", "SELECT * FROM stent.dispatch_many($1)", []any{`[{"name": "a", "retry_initial_delay_ms": -1}]`}, "ST003"},
		{"dispatch: jitter above 1", "SELECT * FROM stent.dispatch_many($1)", []any{`[{"name": "a", "retry_jitter": 2}]`}, "ST003"},
		{"dispatch: backoff below 1", "SELECT * FROM stent.dispatch_many($1)", []any{`[{"name": "a", "retry_backoff_factor": 0.5}]`}, "ST003"},
		{"dispatch: priority out of range", "SELECT * FROM stent.dispatch_many($1)", []any{`[{"name": "a", "priority": 40000}]`}, "ST003"},
		{"dispatch: fractional attempts", "SELECT * FROM stent.dispatch_many($1)", []any{`[{"name": "a", "max_attempts": 1.5}]`}, "ST003"},
		{"dispatch: run_at not a string", "SELECT * FROM stent.dispatch_many($1)", []any{`[{"name": "a", "run_at": 5}]`}, "ST003"},
		{"dispatch: bad second request", "SELECT * FROM stent.dispatch_many($1)", []any{`[{"name": "a"}, {"name": "a", "timeout_ms": 0}]`}, "ST003"},
		{"dispatch: oversized input", "SELECT * FROM stent.dispatch_many($1::text::jsonb)", []any{`[{"name": "a", "input": ` + big + `}]`}, "23514"},
		{"dispatch(): bad name", "SELECT * FROM stent.dispatch($1)", []any{"bad name"}, "ST003"},
		{"signal: null execution", "SELECT stent.send_signal(NULL, 'go')", nil, "ST003"},
		{"signal: malformed execution id", "SELECT stent.send_signal($1::text::uuid, 'go')", []any{"not-a-uuid"}, "22P02"},
		{"signal: unknown execution", "SELECT stent.send_signal($1, 'go')", []any{uuid.New()}, "ST002"},
		{"signal: empty name", "SELECT stent.send_signal($1, '')", []any{execID}, "ST003"},
		{"signal: name too long", "SELECT stent.send_signal($1, $2)", []any{execID, long}, "ST003"},
		{"signal: name with a tab", "SELECT stent.send_signal($1, $2)", []any{execID, "a\tb"}, "ST003"},
		{"signal: oversized payload", "SELECT stent.send_signal($1, 'go', $2::text::jsonb)", []any{execID, big}, "23514"},
		{"cancel: unknown execution", "SELECT stent.cancel_execution($1)", []any{uuid.New()}, "ST002"},
		{"pause: bad queue", "SELECT stent.pause('queue', $1)", []any{"a b"}, "ST003"},
		{"pause: bad kind", "SELECT stent.pause('table', 'x')", nil, "ST003"},
		{"resume: bad function", "SELECT stent.resume('function', $1)", []any{long}, "ST003"},
		{"limits: bad name", "SELECT stent.set_limits($1, 1)", []any{"x\x01"}, "ST003"},
		{"limits: negative", "SELECT stent.set_limits('a', -1)", nil, "ST003"},
		{"limits: negative period", "SELECT stent.set_limits('a', NULL, NULL, 1, '-1s')", nil, "ST003"},
		{"purge: negative age", "SELECT stent.purge('-1 hour', 10)", nil, "ST003"},
		{"rescue: zero limit", "SELECT * FROM stent.rescue_expired(0)", nil, "ST003"},
		{"dispatch_one: no name", "SELECT * FROM stent.dispatch_one(NULL)", nil, "ST003"},
		{"dispatch_one: bad name", "SELECT * FROM stent.dispatch_one('a b')", nil, "ST003"},
		{"dispatch_one: bad queue", "SELECT * FROM stent.dispatch_one('a', p_queue => '')", nil, "ST003"},
		{"dispatch_one: bad tag", "SELECT * FROM stent.dispatch_one('a', p_tags => '{x,\"y z\"}')", nil, "ST003"},
		{"dispatch_one: null tag", "SELECT * FROM stent.dispatch_one('a', p_tags => ARRAY['x', NULL])", nil, "ST003"},
		{"dispatch_one: idempotency key with a newline", "SELECT * FROM stent.dispatch_one('a', p_idempotency_key => $1)", []any{"k\n"}, "ST003"},
		{"dispatch_one: concurrency key too long", "SELECT * FROM stent.dispatch_one('a', p_concurrency_key => $1)", []any{strings.Repeat("k", 257)}, "ST003"},
		{"dispatch_one: priority out of range", "SELECT * FROM stent.dispatch_one('a', p_priority => 1001)", nil, "ST003"},
		{"dispatch_one: negative delay", "SELECT * FROM stent.dispatch_one('a', p_delay_ms => -1)", nil, "ST003"},
		{"dispatch_one: zero max duration", "SELECT * FROM stent.dispatch_one('a', p_max_duration_ms => 0)", nil, "ST003"},
		{"dispatch_one: zero attempts", "SELECT * FROM stent.dispatch_one('a', p_max_attempts => 0)", nil, "ST003"},
		{"dispatch_one: negative retry delay", "SELECT * FROM stent.dispatch_one('a', p_retry_max_delay_ms => -1)", nil, "ST003"},
		{"dispatch_one: backoff below 1", "SELECT * FROM stent.dispatch_one('a', p_retry_backoff_factor => 0.5)", nil, "ST003"},
		{"dispatch_one: jitter above 1", "SELECT * FROM stent.dispatch_one('a', p_retry_jitter => 1.5)", nil, "ST003"},
		{"dispatch_one: zero timeout", "SELECT * FROM stent.dispatch_one('a', p_timeout_ms => 0)", nil, "ST003"},
		{"dispatch_one: bad kind", "SELECT * FROM stent.dispatch_one('a', p_kind => 'step')", nil, "ST003"},
		{"dispatch_one: trace context not an object", "SELECT * FROM stent.dispatch_one('a', p_trace_context => '[1]')", nil, "ST003"},
		{"dispatch_one: empty worker", "SELECT * FROM stent.dispatch_one('a', p_worker_id => '', p_queues => '{default}', p_names => '{a}', p_served_tags => '{}', p_lease => '30s')", nil, "ST003"},
		{"dispatch_one: worker without queues", "SELECT * FROM stent.dispatch_one('a', p_worker_id => 'w', p_names => '{a}', p_served_tags => '{}', p_lease => '30s')", nil, "ST003"},
		{"dispatch_one: zero lease", "SELECT * FROM stent.dispatch_one('a', p_worker_id => 'w', p_queues => '{default}', p_names => '{a}', p_served_tags => '{}', p_lease => '0s')", nil, "ST003"},
		{"dispatch_one: oversized input", "SELECT * FROM stent.dispatch_one('a', $1::text::jsonb)", []any{big}, "23514"},
		{"call_children: jitter above 1", "SELECT * FROM stent.call_children($1)", []any{`[{"parent": 1, "token": 1, "seq": 0, "request": {"name": "a", "retry_jitter": 2}}]`}, "ST003"},
		{"call_children: queue too long", "SELECT * FROM stent.call_children($1)", []any{`[{"parent": 1, "token": 1, "seq": 0, "request": {"name": "a", "queue": "` + long + `"}}]`}, "ST003"},
		{"record_steps: name too long", "SELECT * FROM stent.record_steps($1)", []any{`[{"parent": 1, "token": 1, "seq": 0, "name": "` + long + `"}]`}, "ST003"},
		{"claim: negative lease", "SELECT * FROM stent.claim_tasks('w', '{default}', '{bad.sql}', '{}', 1, '-1s')", nil, "ST003"},
		{"renew: negative lease", "SELECT * FROM stent.renew_leases('w', '{}', '{}', '-1s')", nil, "ST003"},
		{"fail: negative retry after", "SELECT * FROM stent.fail_task(1, 1, '{}', true, '-1s')", nil, "ST003"},
		{"replay: unknown dead letter", "SELECT stent.replay_dead_letter(-1)", nil, "ST002"},
		{"doctor: negative grace", "SELECT * FROM stent.doctor('-1 minute')", nil, "ST003"},
		{"register worker: zero concurrency", "SELECT stent.register_worker('w', 'h', 1, '{}', '{}', '{}', 0)", nil, "ST003"},
	}
	before := b.rowCounts(t)
	for _, tc := range cases {
		_, err := b.pool.Exec(b.ctx, tc.sql, tc.args...)
		var pgErr *pgconn.PgError
		require.ErrorAs(t, err, &pgErr, tc.name)
		require.Equal(t, tc.code, pgErr.Code, "%s: %s", tc.name, pgErr.Message)
		require.NotEmpty(t, pgErr.Message)
	}
	require.Equal(t, before, b.rowCounts(t))
}

// TestBadInputAPI calls the Go API with malformed ids, names, keys, JSON, negative durations
// and oversized payloads: each returns a typed error (InvalidArgumentError, ErrNotFound,
// ErrPayloadTooLarge, UnregisteredError) and nothing changes.
func TestBadInputAPI(t *testing.T) {
	t.Parallel()
	b := setup(t, withConfig(stent.Config{MaxPayloadBytes: 1000}))
	act := b.echo("bad.api")
	execID, _ := b.dispatch(t, act, "x")
	long := strings.Repeat("n", 201)
	invalid := func(err error) bool {
		var ia *stent.InvalidArgumentError
		return errors.As(err, &ia)
	}
	notFound := func(err error) bool { return errors.Is(err, stent.ErrNotFound) }
	tooLarge := func(err error) bool { return errors.Is(err, stent.ErrPayloadTooLarge) }
	unregistered := func(err error) bool {
		var u *stent.UnregisteredError
		return errors.As(err, &u)
	}
	dispatch := func(opts ...stent.DispatchOption) func(context.Context) error {
		return func(ctx context.Context) error { _, err := act.Dispatch(ctx, b.client, "x", opts...); return err }
	}
	cases := []struct {
		name string
		call func(context.Context) error
		is   func(error) bool
	}{
		{"dispatch: unknown name", func(ctx context.Context) error { _, err := b.client.Dispatch(ctx, "nope", 1); return err }, unregistered},
		{"dispatch: empty name", func(ctx context.Context) error { _, err := b.client.Dispatch(ctx, "", 1); return err }, unregistered},
		{"dispatch: oversized input", func(ctx context.Context) error {
			_, err := act.Dispatch(ctx, b.client, strings.Repeat("x", 1000))
			return err
		}, tooLarge},
		{"dispatch: unencodable input", func(ctx context.Context) error { _, err := b.client.Dispatch(ctx, "bad.api", math.NaN()); return err }, invalid},
		{"dispatch: unencodable input (channel)", func(ctx context.Context) error {
			_, err := b.client.Dispatch(ctx, "bad.api", make(chan int))
			return err
		}, invalid},
		{"dispatch: negative delay", dispatch(stent.WithDelay(-time.Second)), invalid},
		{"dispatch: negative max duration", dispatch(stent.WithMaxDuration(-time.Second)), invalid},
		{"dispatch: zero deadline", dispatch(stent.WithDeadline(time.Time{})), invalid},
		{"dispatch: empty idempotency key", dispatch(stent.WithIdempotencyKey("")), invalid},
		{"dispatch: idempotency key too long", dispatch(stent.WithIdempotencyKey(strings.Repeat("k", 513))), invalid},
		{"dispatch: idempotency key with NUL", dispatch(stent.WithIdempotencyKey("k\x00")), invalid},
		{"dispatch: idempotency key not UTF-8", dispatch(stent.WithIdempotencyKey("k\xff")), invalid},
		{"dispatch: concurrency key with escape", dispatch(stent.WithConcurrencyKey("\x1b[31m")), invalid},
		{"dispatch: bad queue", dispatch(stent.WithQueue("a b")), invalid},
		{"dispatch: bad tag", dispatch(stent.WithTags(long)), invalid},
		{"dispatch: bad priority", dispatch(stent.WithPriority(1001)), invalid},
		{"dispatch: negative retry delay", dispatch(stent.WithRetry(stent.RetryPolicy{InitialDelay: -time.Second})), invalid},
		{"dispatch: NaN jitter", dispatch(stent.WithRetry(stent.RetryPolicy{Jitter: math.NaN()})), invalid},
		{"signal: unknown execution", func(ctx context.Context) error { return b.client.Signal(ctx, uuid.New(), "go", 1) }, notFound},
		{"signal: nil execution", func(ctx context.Context) error { return b.client.Signal(ctx, uuid.Nil, "go", 1) }, notFound},
		{"signal: empty name", func(ctx context.Context) error { return b.client.Signal(ctx, execID, "", 1) }, invalid},
		{"signal: name too long", func(ctx context.Context) error { return b.client.Signal(ctx, execID, long, 1) }, invalid},
		{"signal: name with control character", func(ctx context.Context) error { return b.client.Signal(ctx, execID, "go\r", 1) }, invalid},
		{"signal: oversized payload", func(ctx context.Context) error { return b.client.Signal(ctx, execID, "go", strings.Repeat("x", 1000)) }, tooLarge},
		{"cancel: unknown execution", func(ctx context.Context) error { _, err := b.client.Cancel(ctx, uuid.New()); return err }, notFound},
		{"get: unknown execution", func(ctx context.Context) error { _, err := b.client.Get(ctx, uuid.New()); return err }, notFound},
		{"get task: negative id", func(ctx context.Context) error { _, err := b.client.GetTask(ctx, -1); return err }, notFound},
		{"purge: negative age", func(ctx context.Context) error {
			_, err := b.client.Purge(ctx, -time.Hour, stent.PurgeParams{})
			return err
		}, invalid},
		{"dead letters: bad limit", func(ctx context.Context) error {
			_, err := b.client.ListDeadLetters(ctx, stent.DeadLetterListParams{Limit: -1})
			return err
		}, invalid},
		{"replay: unknown dead letter", func(ctx context.Context) error { _, err := b.client.ReplayDeadLetter(ctx, 0); return err }, notFound},
		{"pause: bad queue", func(ctx context.Context) error { return b.client.PauseQueue(ctx, "") }, invalid},
		{"pause: bad function", func(ctx context.Context) error { return b.client.PauseFunction(ctx, "a\nb") }, invalid},
		{"limits: negative", func(ctx context.Context) error {
			return b.client.SetLimits(ctx, "bad.api", stent.Limits{MaxConcurrent: -1})
		}, invalid},
		{"limits: negative rate period", func(ctx context.Context) error {
			return b.client.SetLimits(ctx, "bad.api", stent.Limits{Rate: stent.Rate{Count: 1, Per: -time.Second}})
		}, invalid},
		{"limits: bad name", func(ctx context.Context) error { return b.client.SetLimits(ctx, long, stent.Limits{}) }, invalid},
		{"doctor: negative grace", func(ctx context.Context) error {
			_, err := b.client.DoctorWith(ctx, stent.DoctorOptions{Grace: -time.Minute})
			return err
		}, invalid},
	}
	before := b.rowCounts(t)
	for _, tc := range cases {
		err := tc.call(b.ctx)
		require.Error(t, err, tc.name)
		require.True(t, tc.is(err), "%s: %T %v", tc.name, err, err)
		require.NotEmpty(t, err.Error())
	}
	require.Equal(t, before, b.rowCounts(t))
}

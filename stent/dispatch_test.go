package stent_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/internal/store"
	"github.com/stentdev/stent/stent"
)

// TestDispatchDelayed: WithDelay and WithRunAt tasks are not claimable before their run_at on
// the database clock, and are after; stent.next_due reports the time left.
func TestDispatchDelayed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	act := b.echo("delayed")
	t0 := b.clock.Now()
	_, delayed := b.dispatch(t, act, "delay", stent.WithDelay(10*time.Minute))
	_, scheduled := b.dispatch(t, act, "run at", stent.WithRunAt(t0.Add(time.Hour)))
	requireTime(t, t0.Add(10*time.Minute), b.task(t, delayed).RunAt)
	requireTime(t, t0.Add(time.Hour), b.task(t, scheduled).RunAt)

	nextDue := func() (time.Duration, bool) {
		d, ok, err := b.store.NextDue(b.ctx, []string{stent.DefaultQueue}, []string{"delayed"}, nil)
		require.NoError(t, err)
		return d, ok
	}
	requireNextDue := func(want time.Duration) {
		t.Helper()
		d, ok := nextDue()
		require.True(t, ok)
		require.Equal(t, want, d)
		var secs float64
		require.NoError(t, b.pool.QueryRow(b.ctx, "select stent.next_due('{default}', '{delayed}', '{}')").Scan(&secs))
		require.Equal(t, want.Seconds(), secs, "stent.next_due in seconds")
	}

	requireNextDue(10 * time.Minute)
	require.Empty(t, b.claim(t, store.ClaimParams{}))
	b.clock.Advance(10*time.Minute - time.Second)
	requireNextDue(time.Second)
	require.Empty(t, b.claim(t, store.ClaimParams{}))
	b.clock.Advance(time.Second)
	// Due now: next_due reports only future instants (a due task is claimed, not waited for).
	requireNextDue(50 * time.Minute)
	require.Equal(t, delayed, b.claimOne(t, "w1").ID)
	requireNextDue(50 * time.Minute)
	require.Empty(t, b.claim(t, store.ClaimParams{}))
	b.clock.Advance(time.Hour) // overdue: no future instant left
	_, ok := nextDue()
	require.False(t, ok, "an overdue task is not a future wake-up")
	require.Equal(t, scheduled, b.claimOne(t, "w1").ID)
	_, ok = nextDue()
	require.False(t, ok, "nothing pending")
}

// TestPayloadLimit: inputs whose encoded JSON is limit−1 or limit bytes are accepted, limit+1
// is ErrPayloadTooLarge and inserts nothing (a batch with one such input inserts none).
func TestPayloadLimit(t *testing.T) {
	t.Parallel()
	const limit = 1000
	b := setup(t, withConfig(stent.Config{MaxPayloadBytes: limit}))
	act := b.echo("payload")
	input := func(size int) string { // a JSON string of size bytes: the quotes and size-2 letters
		s := strings.Repeat("p", size-2)
		enc, err := json.Marshal(s)
		require.NoError(t, err)
		require.Len(t, enc, size)
		return s
	}

	for _, size := range []int{limit - 1, limit} {
		id, err := act.Dispatch(b.ctx, b.client, input(size))
		require.NoError(t, err, "size %d", size)
		require.Len(t, b.execution(t, id).Input, size)
	}
	_, err := act.Dispatch(b.ctx, b.client, input(limit+1))
	require.ErrorIs(t, err, stent.ErrPayloadTooLarge)
	_, err = act.DispatchMany(b.ctx, b.client, []string{input(limit), input(limit + 1)})
	require.ErrorIs(t, err, stent.ErrPayloadTooLarge)
	require.Equal(t, 2, b.count(t, "select count(*) from stent.executions"))
	require.Equal(t, 2, b.count(t, "select count(*) from stent.tasks"))
}

// TestPayloadBackstop: the database refuses inputs over 2 MiB whoever inserts them — raw
// SQL hits the executions_payload_size constraint, a dispatch gets ErrPayloadTooLarge.
func TestPayloadBackstop(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const backstop = 2 << 20
	_, err := b.pool.Exec(b.ctx, `insert into stent.executions (id, workflow, input, queue, created_at)
		values (gen_random_uuid(), 'raw', to_jsonb(repeat('a', $1)), 'default', now())`, backstop)
	requireSQLState(t, err, "23514")
	require.Contains(t, err.Error(), "executions_payload_size")

	req, err := json.Marshal([]map[string]any{{"name": "raw", "input": strings.Repeat("a", backstop)}})
	require.NoError(t, err)
	_, err = b.store.DispatchMany(b.ctx, req)
	require.ErrorIs(t, err, stent.ErrPayloadTooLarge)

	// The backstop measures jsonb's text form, which can be far longer than the encoded
	// input: 1e300 is 6 bytes of JSON but 301 digits as jsonb text. Such an input passes the
	// client's limit and is refused by the database, with the same error.
	floats := stent.NewActivity("floats", func(_ context.Context, in []float64) (int, error) { return len(in), nil },
		stent.InRegistry(b.reg))
	in := make([]float64, 7000)
	for i := range in {
		in[i] = 1e300
	}
	enc, err := json.Marshal(in)
	require.NoError(t, err)
	require.Less(t, len(enc), stent.DefaultMaxPayloadBytes/10)
	_, err = floats.Dispatch(b.ctx, b.client, in)
	require.ErrorIs(t, err, stent.ErrPayloadTooLarge)
	require.Zero(t, b.count(t, "select count(*) from stent.executions"))
	require.Zero(t, b.count(t, "select count(*) from stent.tasks"))
}

// TestIdempotencyRace: 50 concurrent dispatches with one key create one execution, and every
// caller gets its id.
func TestIdempotencyRace(t *testing.T) {
	t.Parallel()
	const callers = 50
	b := setup(t, withMaxConns(callers))
	act := b.echo("idempotent")
	ids := make([]uuid.UUID, callers)
	errs := make([]error, callers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			<-start
			ids[i], errs[i] = act.Dispatch(b.ctx, b.client, "first", stent.WithIdempotencyKey("order-42"))
		})
	}
	close(start)
	wg.Wait()
	for i := range callers {
		require.NoError(t, errs[i])
		require.Equal(t, ids[0], ids[i], "caller %d", i)
	}
	require.Equal(t, 1, b.count(t, "select count(*) from stent.executions"))
	require.Equal(t, 1, b.count(t, "select count(*) from stent.tasks"))

	// Later dispatches with the key, whatever their input, return it too and create nothing.
	again, err := act.Dispatch(b.ctx, b.client, "second", stent.WithIdempotencyKey("order-42"))
	require.NoError(t, err)
	require.Equal(t, ids[0], again)
	e := b.execution(t, ids[0])
	require.JSONEq(t, `"first"`, string(e.Input))
	require.Equal(t, "order-42", e.IdempotencyKey.String)
	res, err := b.store.DispatchMany(b.ctx, []byte(`[{"name":"idempotent","idempotency_key":"order-42"}]`))
	require.NoError(t, err)
	require.Equal(t, []store.Dispatched{{ExecutionID: ids[0], TaskID: b.rootTask(t, ids[0]).ID, Created: false}}, res)

	// A key shared by a batch makes it one execution, as documented on DispatchMany.
	batch, err := act.DispatchMany(b.ctx, b.client, []string{"x", "y", "z"}, stent.WithIdempotencyKey("batch-key"))
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{batch[0], batch[0], batch[0]}, batch)
	require.Equal(t, 2, b.count(t, "select count(*) from stent.executions"))
}

// TestDispatchTx: a dispatch in a rolled-back transaction leaves no execution and wakes no
// worker; committed, it is visible and notified on 'stent_tasks' with its queue name.
func TestDispatchTx(t *testing.T) {
	t.Parallel()
	b := setup(t)
	act := b.echo("tx.dispatch", stent.Queue("txq"))
	listener, err := pgx.Connect(b.ctx, b.pool.Config().ConnString())
	require.NoError(t, err)
	defer listener.Close(context.Background())
	_, err = listener.Exec(b.ctx, "listen stent_tasks")
	require.NoError(t, err)
	receive := func() string {
		t.Helper()
		ctx, cancel := context.WithTimeout(b.ctx, waitTimeout)
		defer cancel()
		n, err := listener.WaitForNotification(ctx)
		require.NoError(t, err)
		require.Equal(t, "stent_tasks", n.Channel)
		return n.Payload
	}

	tx, err := b.pool.Begin(b.ctx)
	require.NoError(t, err)
	id, err := act.DispatchTx(b.ctx, b.client, tx, "rolled back")
	require.NoError(t, err)
	var inTx int
	require.NoError(t, tx.QueryRow(b.ctx, "select count(*) from stent.executions where id = $1", id).Scan(&inTx))
	require.Equal(t, 1, inTx, "visible inside its transaction")
	require.NoError(t, tx.Rollback(b.ctx))
	_, err = b.client.Get(b.ctx, id)
	require.ErrorIs(t, err, stent.ErrNotFound)
	require.Zero(t, b.count(t, "select count(*) from stent.tasks"))
	// Notifications arrive in commit order: if the rolled-back dispatch had notified, its
	// notification would come before this marker.
	marker := "marker-" + uuid.NewString()
	_, err = b.pool.Exec(b.ctx, "select pg_notify('stent_tasks', $1)", marker)
	require.NoError(t, err)
	require.Equal(t, marker, receive())

	tx, err = b.pool.Begin(b.ctx)
	require.NoError(t, err)
	id, err = b.client.DispatchTx(b.ctx, tx, "tx.dispatch", "committed")
	require.NoError(t, err)
	require.NoError(t, tx.Commit(b.ctx))
	require.Equal(t, "txq", receive())
	e, err := b.client.Get(b.ctx, id)
	require.NoError(t, err)
	require.Equal(t, stent.StatePending, e.State)
	require.JSONEq(t, `"committed"`, string(e.Input))
}

// A dispatch outside a caller's transaction commits early and then waits for durability
// (stent.await_durable): when Dispatch returns, the execution is visible to every session,
// and the wait itself is an ordinary function any client can call.
func TestDispatchEarlyCommitIsVisibleAndDurable(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id, _ := b.dispatch(t, b.echo("early.visible"), "x")
	conn, err := b.pool.Acquire(b.ctx)
	require.NoError(t, err)
	defer conn.Release()
	var state string
	require.NoError(t, conn.QueryRow(b.ctx, "select state from stent.executions where id = $1", id).Scan(&state))
	require.Equal(t, "pending", state)
	_, err = conn.Exec(b.ctx, "select stent.await_durable()")
	require.NoError(t, err)

	// The wait flushes the WAL past an earlier asynchronous commit of another session (the
	// WAL writer would flush it within wal_writer_delay, 200 ms, so read the flush position
	// right away).
	other, err := b.pool.Acquire(b.ctx)
	require.NoError(t, err)
	defer other.Release()
	tx, err := other.Begin(b.ctx)
	require.NoError(t, err)
	_, err = tx.Exec(b.ctx, "set local synchronous_commit = off")
	require.NoError(t, err)
	_, err = tx.Exec(b.ctx, "update stent.executions set tags = tags where id = $1", id)
	require.NoError(t, err)
	require.NoError(t, tx.Commit(b.ctx))
	var written string
	require.NoError(t, other.QueryRow(b.ctx, "select pg_current_wal_insert_lsn()::text").Scan(&written))
	_, err = conn.Exec(b.ctx, "select stent.await_durable()")
	require.NoError(t, err)
	var flushed bool
	require.NoError(t, conn.QueryRow(b.ctx, "select pg_current_wal_flush_lsn() >= $1::pg_lsn", written).Scan(&flushed))
	require.True(t, flushed, "await_durable flushed the WAL past the asynchronous commit")
	var setting string
	require.NoError(t, b.pool.QueryRow(b.ctx, "select current_setting('synchronous_commit')").Scan(&setting))
	require.Equal(t, "on", setting, "the early commit's synchronous_commit=off is local to its transaction")
}

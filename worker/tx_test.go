package worker_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/worker"
)

// txFixture is a ledger table and transactional activities writing to it.
type txFixture struct {
	b       *testBundle
	write   *stent.Activity[string, string]
	started chan struct{}
	release chan struct{}
}

// newTxFixture creates the ledger and three activities: tx.ok writes and succeeds, tx.err
// writes and fails (permanently), tx.held writes, then waits for the test to release it and
// succeeds whatever happened meanwhile.
func newTxFixture(b *testBundle) *txFixture {
	b.exec(`create table ledger (note text primary key)`)
	f := &txFixture{b: b, started: make(chan struct{}, 1), release: make(chan struct{})}
	insert := func(ctx context.Context, tx pgx.Tx, note string) error {
		_, err := tx.Exec(ctx, "insert into ledger (note) values ($1)", note)
		return err
	}
	f.write = stent.NewTxActivity("tx.ok", func(ctx context.Context, tx pgx.Tx, note string) (string, error) {
		return "wrote " + note, insert(ctx, tx, note)
	}, b.in())
	stent.NewTxActivity("tx.err", func(ctx context.Context, tx pgx.Tx, note string) (string, error) {
		if err := insert(ctx, tx, note); err != nil {
			return "", err
		}
		return "", stent.Permanent(errors.New("changed my mind"))
	}, b.in())
	stent.NewTxActivity("tx.held", func(ctx context.Context, tx pgx.Tx, note string) (string, error) {
		if err := insert(context.WithoutCancel(ctx), tx, note); err != nil {
			return "", err
		}
		f.started <- struct{}{}
		select {
		case <-f.release:
		case <-b.done:
		}
		return "wrote " + note, nil
	}, b.in())
	return f
}

// notes lists the ledger's committed rows.
func (f *txFixture) notes() []string {
	f.b.t.Helper()
	rows, err := f.b.pool.Query(f.b.ctx(), "select note from ledger order by note")
	require.NoError(f.b.t, err)
	notes, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(f.b.t, err)
	return notes
}

// waitTxEnded waits until no transaction holds a lock on the ledger: the attempt's
// transaction has committed or rolled back, so what the ledger shows is final.
func (f *txFixture) waitTxEnded() {
	f.b.t.Helper()
	pollUntil(f.b.t, "the attempt's transaction to end", func() bool {
		return f.b.queryInt(`select count(*) from pg_locks l join pg_class c on c.oid = l.relation
			where c.relname = 'ledger' and l.pid <> pg_backend_pid()`) == 0
	})
}

// TestTxActivity checks that a transactional activity's writes commit together with its
// completion, and are rolled back when it fails or when its lease is lost before it
// completes.
func TestTxActivity(t *testing.T) {
	t.Parallel()

	t.Run("Commits", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		f := newTxFixture(b)
		b.startWorker(worker.Config{})
		out, err := f.write.Run(b.ctx(), b.client, "a")
		require.NoError(t, err)
		require.Equal(t, "wrote a", out)
		require.Equal(t, []string{"a"}, f.notes())
	})

	t.Run("ErrorRollsBack", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		f := newTxFixture(b)
		b.startWorker(worker.Config{})
		id, err := b.client.Dispatch(b.ctx(), "tx.err", "b")
		require.NoError(t, err)
		dl := requireDeadLettered(b, id, 1, stent.KindError)
		require.Contains(t, dl.Error.Message, "changed my mind")
		require.False(t, dl.Error.Retryable)
		f.waitTxEnded()
		require.Empty(t, f.notes(), "the failed attempt's writes are rolled back")
	})

	t.Run("LostLeaseRollsBack", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		f := newTxFixture(b)
		b.startWorker(worker.Config{})
		id, err := b.client.Dispatch(b.ctx(), "tx.held", "c")
		require.NoError(t, err)
		receive(t, f.started, "the attempt to write")

		st, err := b.client.Cancel(b.ctx(), id)
		require.NoError(t, err)
		require.Equal(t, stent.StateCancelled, st)
		close(f.release) // it returns success after losing its lease
		f.waitTxEnded()
		require.Empty(t, f.notes(), "the cancelled attempt's writes are rolled back")
		e := b.get(id)
		require.Equal(t, stent.StateCancelled, e.State)
		require.Nil(t, e.Output)

		// The worker is unharmed: the next transactional attempt commits.
		out, err := f.write.Run(b.ctx(), b.client, "d")
		require.NoError(t, err)
		require.Equal(t, "wrote d", out)
		require.Equal(t, []string{"d"}, f.notes())
	})
}

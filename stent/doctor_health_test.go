package stent_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/stenttest"
	"github.com/stentdev/stent/worker"
)

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
	// The lease outlasts the fake clock's two-minute jump below: a shorter one would expire
	// in database time the moment the clock jumps, and the leader's rescue could take a
	// running workflow back (pending after a retry delay that the stopped clock never
	// reaches) before the next heartbeat renewed it.
	stenttest.StartWorker(t, b.client, worker.Config{
		MaintenanceInterval: 10 * time.Millisecond, LeaseDuration: 10 * time.Minute, HeartbeatInterval: 20 * time.Millisecond,
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

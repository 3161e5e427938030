package worker_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/worker"
)

type num struct{ N int }

// TestEndToEnd runs a batch of dispatched activities on one worker: every result comes back
// through Wait, every attempt sees its AttemptInfo, and no more than Concurrency functions
// run at once. The functions block until every slot is busy; at that point the database
// must show exactly Concurrency running tasks (a claim is one statement, so an over-claim
// would show there at once).
func TestEndToEnd(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const concurrency, tasks = 3, 12

	var running, maxRunning atomic.Int32
	gate := make(chan struct{})
	double := stent.NewActivity("e2e.double", func(ctx context.Context, in num) (int, error) {
		cur := running.Add(1)
		defer running.Add(-1)
		for {
			m := maxRunning.Load()
			if cur <= m || maxRunning.CompareAndSwap(m, cur) {
				break
			}
		}
		info, ok := stent.AttemptFrom(ctx)
		if !ok || info.Attempt != 1 || info.Name != "e2e.double" || info.WorkerID != "e2e-worker" {
			return 0, stent.Permanent(errors.New("bad attempt info"))
		}
		select {
		case <-gate:
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-b.done:
			return 0, errors.New("test ended")
		}
		return 2 * in.N, nil
	}, b.in())

	w := b.startWorker(worker.Config{ID: "e2e-worker", Concurrency: concurrency})
	require.Equal(t, worker.StateReady, w.Status())
	waitClosed(t, w.Ready(), "Ready")
	require.Equal(t, int64(1), b.queryInt("select count(*) from stent.workers where id = 'e2e-worker' and state = 'running'"))

	ins := make([]num, tasks)
	for i := range ins {
		ins[i] = num{N: i}
	}
	ids, err := double.DispatchMany(b.ctx(), b.client, ins)
	require.NoError(t, err)
	pollUntil(t, "every slot to be busy", func() bool { return running.Load() >= concurrency })
	require.Equal(t, int64(concurrency), b.queryInt("select count(*) from stent.tasks where state = 'running'"))
	close(gate)

	for i, id := range ids {
		out, err := double.Wait(b.ctx(), b.client, id)
		require.NoError(t, err)
		require.Equal(t, 2*i, out)
	}
	require.LessOrEqual(t, maxRunning.Load(), int32(concurrency), "never more than Concurrency at once")
	require.GreaterOrEqual(t, maxRunning.Load(), int32(2), "the batch ran concurrently")
	require.Equal(t, int64(tasks), b.queryInt(
		"select count(*) from stent.tasks where state = 'completed' and attempt = 1 and lease_owner is null"))
}

// TestClaimsOnlyItsQueuesAndFunctions checks the claim filters: a worker serving one queue
// and one function leaves other queues' and other functions' tasks pending.
func TestClaimsOnlyItsQueuesAndFunctions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	echo := stent.NewActivity("filter.echo", func(ctx context.Context, s string) (string, error) { return s, nil }, b.in())
	other := stent.NewActivity("filter.other", func(ctx context.Context, s string) (string, error) { return s, nil }, b.in())
	b.startWorker(worker.Config{Queues: []string{"fast"}, Functions: []string{"filter.echo"}})

	elsewhere, err := echo.Dispatch(b.ctx(), b.client, "slow", stent.WithQueue("slow"))
	require.NoError(t, err)
	unserved, err := other.Dispatch(b.ctx(), b.client, "fast", stent.WithQueue("fast"))
	require.NoError(t, err)
	served, err := echo.Dispatch(b.ctx(), b.client, "fast", stent.WithQueue("fast"))
	require.NoError(t, err)

	out, err := echo.Wait(b.ctx(), b.client, served)
	require.NoError(t, err)
	require.Equal(t, "fast", out)
	// The served task was dispatched last: had the worker been willing to take the others,
	// the claim order (run_at, id) would have given them to it first.
	require.Equal(t, "pending", b.taskState(elsewhere))
	require.Equal(t, "pending", b.taskState(unserved))
}

// TestBatchedCompletion runs 500 no-op tasks with 50 slots and checks, with
// pg_stat_statements, that their completions took fewer statements than tasks.
func TestBatchedCompletion(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const tasks = 500
	noop := stent.NewActivity("batch.noop", func(ctx context.Context, in int) (int, error) { return in, nil }, b.in())

	statsOK := true
	completeCalls := func() int64 {
		var n int64
		err := b.pool.QueryRow(b.ctx(), `
			select coalesce(sum(calls), 0)::bigint from pg_stat_statements
			where dbid = (select oid from pg_database where datname = current_database())
			  and query ilike '%stent.complete_tasks(%'`).Scan(&n)
		if err != nil {
			t.Logf("pg_stat_statements unavailable, not counting statements: %v", err)
			statsOK = false
		}
		return n
	}
	before := completeCalls()

	ins := make([]int, tasks)
	for i := range ins {
		ins[i] = i
	}
	_, err := noop.DispatchMany(b.ctx(), b.client, ins)
	require.NoError(t, err)
	b.startWorker(worker.Config{Concurrency: 50})
	pollUntil(t, "every execution completed", func() bool {
		return b.queryInt("select count(*) from stent.executions where state = 'completed'") == tasks
	})
	require.Equal(t, int64(tasks), b.queryInt("select count(*) from stent.tasks where state = 'completed' and attempt = 1"))

	if !statsOK {
		t.Skip("pg_stat_statements is not available on this server")
	}
	calls := completeCalls() - before
	t.Logf("%d tasks completed with %d complete_tasks statements", tasks, calls)
	require.Positive(t, calls)
	require.Less(t, calls, int64(tasks), "completions are batched")
}

// TestSchemaVersion checks that a worker refuses to start against a database whose schema
// or functions are older than the build, naming both versions and the command to run.
func TestSchemaVersion(t *testing.T) {
	t.Parallel()

	check := func(t *testing.T, b *testBundle, haveVersion, haveCode int32) {
		stent.NewActivity("schema.noop", func(ctx context.Context, in int) (int, error) { return in, nil }, b.in())
		w, err := worker.New(b.client, worker.Config{})
		require.NoError(t, err)
		err = w.Run(b.ctx())
		var sve *stent.SchemaVersionError
		require.ErrorAs(t, err, &sve)
		require.Equal(t, haveVersion, sve.Have)
		require.Equal(t, stent.SchemaVersion, sve.Want)
		require.Equal(t, haveCode, sve.HaveCode)
		require.Equal(t, int32(stent.CodeVersion), sve.WantCode)
		require.Contains(t, err.Error(), fmt.Sprintf("version %d", haveVersion))
		require.Contains(t, err.Error(), fmt.Sprintf("version %d", stent.SchemaVersion))
		require.Contains(t, err.Error(), "stent migrate up")
		require.Equal(t, worker.StateStopped, w.Status())
		select {
		case <-w.Done():
		default:
			require.FailNow(t, "Done must be closed after Run returned")
		}
		select {
		case <-w.Ready():
			require.FailNow(t, "a worker that did not start is never ready")
		default:
		}
	}

	t.Run("NoSchema", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		require.NoError(t, stent.MigrateTo(b.ctx(), b.pool, 0))
		check(t, b, 0, 0)
	})
	t.Run("OldFunctions", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.exec("drop function stent.code_version()")
		check(t, b, stent.SchemaVersion, 0)
	})
}

// TestConfig checks the defaults New applies and the errors it returns for bad configs.
func TestConfig(t *testing.T) {
	t.Parallel()
	b := setup(t)
	stent.NewActivity("config.a", func(ctx context.Context, in int) (int, error) { return in, nil }, b.in())
	stent.NewActivity("config.b", func(ctx context.Context, in int) (int, error) { return in, nil }, b.in())

	w, err := worker.New(b.client, worker.Config{})
	require.NoError(t, err)
	cfg := w.Config()
	require.NotEmpty(t, cfg.ID)
	require.Equal(t, cfg.ID, w.ID())
	require.Equal(t, []string{stent.DefaultQueue}, cfg.Queues)
	require.Equal(t, []string{"config.a", "config.b"}, cfg.Functions)
	require.Equal(t, worker.DefaultConcurrency, cfg.Concurrency)
	require.Equal(t, worker.DefaultLeaseDuration, cfg.LeaseDuration)
	require.Equal(t, worker.DefaultLeaseDuration/3, cfg.HeartbeatInterval)
	require.Equal(t, worker.DefaultShutdownTimeout, cfg.ShutdownTimeout)
	require.Equal(t, worker.DefaultCompletionBatchSize, cfg.CompletionBatchSize)
	require.Equal(t, worker.StateStarting, w.Status())
	other, err := worker.New(b.client, worker.Config{})
	require.NoError(t, err)
	require.NotEqual(t, cfg.ID, other.ID(), "default ids are unique")

	_, err = worker.New(nil, worker.Config{})
	var ia *stent.InvalidArgumentError
	require.ErrorAs(t, err, &ia)

	for _, tc := range []struct {
		field string // named in the error
		cfg   worker.Config
	}{
		{"Concurrency", worker.Config{Concurrency: -1}},
		{"Concurrency", worker.Config{Concurrency: 10001}},
		{"LeaseDuration", worker.Config{LeaseDuration: 500 * time.Millisecond}},
		{"HeartbeatInterval", worker.Config{LeaseDuration: 2 * time.Second, HeartbeatInterval: time.Second}},
		{"HeartbeatInterval", worker.Config{HeartbeatInterval: -time.Second}},
		{"PollInterval", worker.Config{PollInterval: time.Microsecond}},
		{"ShutdownTimeout", worker.Config{ShutdownTimeout: -time.Second}},
		{"MaintenanceInterval", worker.Config{MaintenanceInterval: time.Microsecond}},
		{"Retention", worker.Config{Retention: -2}},
		{"CompletionBatchSize", worker.Config{CompletionBatchSize: -1}},
		{"queue", worker.Config{Queues: []string{"no spaces allowed"}}},
	} {
		_, err := worker.New(b.client, tc.cfg)
		var ia *stent.InvalidArgumentError
		require.ErrorAs(t, err, &ia, "%+v", tc.cfg)
		require.Contains(t, err.Error(), tc.field)
	}

	_, err = worker.New(b.client, worker.Config{Functions: []string{"config.a", "config.missing"}})
	var ue *stent.UnregisteredError
	require.ErrorAs(t, err, &ue)
	require.Equal(t, "config.missing", ue.Name)
	require.Equal(t, []string{"config.a", "config.b"}, ue.Registered)

	empty := stent.NewRegistry()
	c2, err := stent.NewClient(b.pool, stent.Config{Registry: empty})
	require.NoError(t, err)
	defer c2.Close()
	_, err = worker.New(c2, worker.Config{})
	require.ErrorAs(t, err, &ia)
	require.Contains(t, err.Error(), "Functions")

	// -1 disables retention; it is not an error.
	_, err = worker.New(b.client, worker.Config{Retention: -1})
	require.NoError(t, err)
}

// TestRunTwice checks that a worker runs once: a second Run is an error.
func TestRunTwice(t *testing.T) {
	t.Parallel()
	b := setup(t)
	stent.NewActivity("twice.noop", func(ctx context.Context, in int) (int, error) { return in, nil }, b.in())
	rw := b.runWorker(worker.Config{})
	require.Error(t, rw.w.Run(b.ctx()))
	rw.cancel()
	require.NoError(t, rw.wait(t))
	require.Error(t, rw.w.Run(b.ctx()), "a stopped worker does not run again")
}

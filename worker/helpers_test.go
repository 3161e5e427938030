package worker_test

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/stenttest"
	"github.com/stentdev/stent/worker"
)

// waitTimeout bounds everything a test waits for. Tests never sleep to wait: they block on
// channels or poll the database, and fail after waitTimeout.
const waitTimeout = 30 * time.Second

// fastRetry retries at once (a zero backoff delay), so retry tests need no clock.
func fastRetry(maxAttempts int) stent.Option {
	return stent.Retry(stent.RetryPolicy{MaxAttempts: maxAttempts, InitialDelay: time.Nanosecond, Jitter: stent.NoJitter})
}

// testBundle is one test's database, pool, client and registry. Each test registers its
// activities in its own registry, so workers never see another test's functions.
type testBundle struct {
	t      *testing.T
	url    string
	pool   *pgxpool.Pool
	client *stent.Client
	reg    *stent.Registry
	clock  *stenttest.Clock // nil when the database's real clock is used

	doneOnce sync.Once
	done     chan struct{} // closed at the end of the test, before its workers stop
}

// setup gives the test a fresh migrated database on the real clock.
func setup(t *testing.T) *testBundle {
	t.Helper()
	return newBundle(t, nil)
}

// setupWithClock gives the test a fresh database whose pool sees a fake clock started at
// start (stent.current_time() on every connection of the pool).
func setupWithClock(t *testing.T, start time.Time) *testBundle {
	t.Helper()
	return newBundle(t, stenttest.NewClock(start))
}

func newBundle(t *testing.T, clock *stenttest.Clock) *testBundle {
	t.Helper()
	url := stenttest.DB(t)
	opts := []stenttest.Option{stenttest.WithURL(url), stenttest.WithMaxConns(20)}
	if clock != nil {
		opts = append(opts, stenttest.WithClock(clock))
	}
	pool := stenttest.Pool(t, opts...)
	reg := stent.NewRegistry()
	b := &testBundle{
		t: t, url: url, pool: pool, reg: reg, clock: clock,
		done: make(chan struct{}),
	}
	b.client = stenttest.Client(t, pool, stent.Config{
		Registry: reg, Logger: testLogger(), WaitPollInterval: 50 * time.Millisecond,
	})
	t.Cleanup(b.finish)
	return b
}

// testLogger logs to stderr when STENT_TEST_LOG is set, and nowhere otherwise.
func testLogger() *zerolog.Logger {
	l := zerolog.Nop()
	if os.Getenv("STENT_TEST_LOG") != "" {
		l = zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr}).With().Timestamp().Logger()
	}
	return &l
}

// finish closes done, releasing activities that block on it.
func (b *testBundle) finish() { b.doneOnce.Do(func() { close(b.done) }) }

// in registers definitions in the test's registry.
func (b *testBundle) in() stent.Option { return stent.InRegistry(b.reg) }

// ctx returns a context that ends after waitTimeout (or with the test).
func (b *testBundle) ctx() context.Context {
	ctx, cancel := context.WithTimeout(b.t.Context(), waitTimeout)
	b.t.Cleanup(cancel)
	return ctx
}

// startWorker runs an in-process worker for the rest of the test (see
// stenttest.StartWorker). Activities blocked on b.done are released before it stops.
func (b *testBundle) startWorker(cfg worker.Config) *worker.Worker {
	b.t.Helper()
	w := stenttest.StartWorker(b.t, b.client, cfg)
	b.t.Cleanup(b.finish) // runs before StartWorker's cleanup stops the worker
	return w
}

// runningWorker is a worker whose Run context the test controls.
type runningWorker struct {
	w      *worker.Worker
	cancel context.CancelFunc
	errc   chan error
}

// runWorker starts w.Run on a context the test cancels itself, and waits until it is ready.
func (b *testBundle) runWorker(cfg worker.Config) *runningWorker {
	b.t.Helper()
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 50 * time.Millisecond
	}
	if cfg.MaintenanceInterval == 0 {
		cfg.MaintenanceInterval = 50 * time.Millisecond
	}
	w, err := worker.New(b.client, cfg)
	require.NoError(b.t, err)
	ctx, cancel := context.WithCancel(context.Background())
	rw := &runningWorker{w: w, cancel: cancel, errc: make(chan error, 1)}
	go func() { rw.errc <- w.Run(ctx) }()
	b.t.Cleanup(func() {
		b.finish()
		cancel()
		w.HardStop()
		<-w.Done()
	})
	select {
	case <-w.Ready():
	case err := <-rw.errc:
		require.FailNow(b.t, "worker did not start", "%v", err)
	case <-time.After(waitTimeout):
		require.FailNow(b.t, "worker not ready in time")
	}
	return rw
}

// wait returns the result of Run (failing the test if it takes longer than waitTimeout).
func (rw *runningWorker) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-rw.errc:
		return err
	case <-time.After(waitTimeout):
		require.FailNow(t, "worker.Run did not return in time")
		return nil
	}
}

// waitExec waits for the execution to finish.
func (b *testBundle) waitExec(id uuid.UUID) (*stent.Execution, error) {
	b.t.Helper()
	return b.client.Wait(b.ctx(), id)
}

// get reads the execution and its tasks.
func (b *testBundle) get(id uuid.UUID) *stent.Execution {
	b.t.Helper()
	e, err := b.client.Get(b.ctx(), id)
	require.NoError(b.t, err)
	return e
}

// root reads the execution's root task.
func (b *testBundle) root(id uuid.UUID) *stent.Task {
	b.t.Helper()
	e := b.get(id)
	require.NotEmpty(b.t, e.Tasks)
	return e.Tasks[0]
}

// deadLetter returns the execution's dead letter, failing if there is none.
func (b *testBundle) deadLetter(id uuid.UUID) *stent.DeadLetter {
	b.t.Helper()
	dls, err := b.client.ListDeadLetters(b.ctx(), stent.DeadLetterListParams{})
	require.NoError(b.t, err)
	for _, dl := range dls {
		if dl.ExecutionID == id {
			return dl
		}
	}
	require.FailNow(b.t, "no dead letter", "execution %s", id)
	return nil
}

// exec runs a statement on the test's pool.
func (b *testBundle) exec(sql string, args ...any) {
	b.t.Helper()
	_, err := b.pool.Exec(b.ctx(), sql, args...)
	require.NoError(b.t, err)
}

// queryInt runs a query returning one integer.
func (b *testBundle) queryInt(sql string, args ...any) int64 {
	b.t.Helper()
	var n int64
	require.NoError(b.t, b.pool.QueryRow(b.ctx(), sql, args...).Scan(&n))
	return n
}

// pollUntil polls cond until it returns true, failing the test after waitTimeout. cond runs
// on the test's goroutine, so it may use require.
func pollUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			require.FailNow(t, "timed out waiting for "+what)
		}
		select {
		case <-tick.C:
		case <-t.Context().Done():
			require.FailNow(t, "test ended waiting for "+what)
		}
	}
}

// receive waits for a value on ch.
func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitTimeout):
		require.FailNow(t, "timed out waiting for "+what)
		var zero T
		return zero
	}
}

// taskState reads the root task's state from the database.
func (b *testBundle) taskState(id uuid.UUID) string {
	b.t.Helper()
	var s string
	require.NoError(b.t, b.pool.QueryRow(b.ctx(),
		"select state from stent.tasks where execution_id = $1 and parent_task_id is null", id).Scan(&s))
	return s
}

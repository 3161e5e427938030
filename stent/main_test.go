package stent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/stentdev/stent/internal/store"
	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/stenttest"
)

// TestMain starts one throwaway PostgreSQL cluster for the package (stenttest.Run) and, once
// every test passed and the cluster is stopped, checks that no goroutine leaked.
func TestMain(m *testing.M) {
	code := stenttest.Run(m)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// epoch is where every test's fake clock starts: far from the real time, so a timestamp taken
// from the real clock by mistake would stand out.
var epoch = time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)

// waitTimeout bounds every wait for something asynchronous (a worker, a notification).
const waitTimeout = 30 * time.Second

// testBundle is what most tests need: a fresh migrated database whose connections all see the
// fake clock, a client with a registry of its own, and the store adapter for SQL-level calls.
type testBundle struct {
	ctx    context.Context
	clock  *stenttest.Clock
	pool   *pgxpool.Pool
	reg    *stent.Registry
	client *stent.Client
	store  *store.Store
}

type setupConfig struct {
	cfg      stent.Config
	maxConns int
}

// withConfig sets the client's configuration (its Registry is always the bundle's).
func withConfig(cfg stent.Config) func(*setupConfig) {
	return func(c *setupConfig) { c.cfg = cfg }
}

// withMaxConns sizes the bundle's pool.
func withMaxConns(n int) func(*setupConfig) {
	return func(c *setupConfig) { c.maxConns = n }
}

func setup(t *testing.T, opts ...func(*setupConfig)) *testBundle {
	t.Helper()
	sc := setupConfig{maxConns: 10}
	for _, o := range opts {
		o(&sc)
	}
	clock := stenttest.NewClock(epoch)
	pool := stenttest.Pool(t, stenttest.WithClock(clock), stenttest.WithMaxConns(sc.maxConns))
	reg := stent.NewRegistry()
	sc.cfg.Registry = reg
	return &testBundle{
		ctx:    t.Context(),
		clock:  clock,
		pool:   pool,
		reg:    reg,
		client: stenttest.Client(t, pool, sc.cfg),
		store:  store.New(pool),
	}
}

// echo registers an activity that returns its input, for tests that only need something
// dispatchable (SQL-level tests never run it).
func (b *testBundle) echo(name string, opts ...stent.Option) *stent.Activity[string, string] {
	return stent.NewActivity(name, func(_ context.Context, in string) (string, error) { return in, nil },
		append([]stent.Option{stent.InRegistry(b.reg)}, opts...)...)
}

// claim runs stent.claim_tasks with defaults for the fields p leaves zero: worker "w1", queue
// "default", every registered name, limit 100, lease 30s.
func (b *testBundle) claim(t *testing.T, p store.ClaimParams) []*store.Task {
	t.Helper()
	if p.WorkerID == "" {
		p.WorkerID = "w1"
	}
	if p.Queues == nil {
		p.Queues = []string{stent.DefaultQueue}
	}
	if p.Names == nil {
		p.Names = b.reg.Names()
	}
	if p.Limit == 0 {
		p.Limit = 100
	}
	if p.Lease == 0 {
		p.Lease = 30 * time.Second
	}
	ts, err := b.store.ClaimTasks(b.ctx, p)
	require.NoError(t, err)
	return ts
}

// claimOne claims as workerID and requires exactly one task.
func (b *testBundle) claimOne(t *testing.T, workerID string) *store.Task {
	t.Helper()
	ts := b.claim(t, store.ClaimParams{WorkerID: workerID})
	require.Len(t, ts, 1, "claimed tasks")
	return ts[0]
}

func (b *testBundle) task(t *testing.T, id int64) *store.Task {
	t.Helper()
	tk, err := b.store.GetTask(b.ctx, id)
	require.NoError(t, err)
	return tk
}

func (b *testBundle) execution(t *testing.T, id uuid.UUID) *store.Execution {
	t.Helper()
	e, err := b.store.GetExecution(b.ctx, id)
	require.NoError(t, err)
	return e
}

// rootTask returns the root task of an execution.
func (b *testBundle) rootTask(t *testing.T, execID uuid.UUID) *store.Task {
	t.Helper()
	ts, err := b.store.ListTasks(b.ctx, execID)
	require.NoError(t, err)
	require.NotEmpty(t, ts)
	require.False(t, ts[0].ParentTaskID.Valid, "first task is the root")
	return ts[0]
}

// count runs a count(*) query.
func (b *testBundle) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, b.pool.QueryRow(b.ctx, query, args...).Scan(&n))
	return n
}

// dispatch dispatches one input of act and returns the execution id and its root task id.
func (b *testBundle) dispatch(t *testing.T, act *stent.Activity[string, string], in string, opts ...stent.DispatchOption) (uuid.UUID, int64) {
	t.Helper()
	id, err := act.Dispatch(b.ctx, b.client, in, opts...)
	require.NoError(t, err)
	return id, b.rootTask(t, id).ID
}

// errJSON is an attempt error in its stored form.
func errJSON(kind, message string) []byte {
	b, _ := json.Marshal(map[string]any{"kind": kind, "message": message, "retryable": true})
	return b
}

// storedError decodes a stored error document.
func storedError(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	require.NotEmpty(t, raw, "stored error")
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	return m
}

// pollUntil polls cond until it holds, failing the test after waitTimeout.
func pollUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, waitTimeout, 10*time.Millisecond, "waiting for %s", what)
}

// requireTime checks that got is the same instant as want (the database returns local time).
func requireTime(t *testing.T, want, got time.Time, msgAndArgs ...any) {
	t.Helper()
	require.True(t, want.Equal(got), "want %s, got %s %v", want.UTC(), got.UTC(), fmt.Sprint(msgAndArgs...))
}

// noJitter is a retry policy with exact delays, for tests that compute run_at.
func noJitter(maxAttempts int, initial time.Duration) stent.RetryPolicy {
	return stent.RetryPolicy{MaxAttempts: maxAttempts, InitialDelay: initial, BackoffFactor: 2,
		MaxDelay: time.Hour, Jitter: stent.NoJitter}
}

// executionState reads an execution's state.
func (b *testBundle) executionState(t *testing.T, id uuid.UUID) stent.ExecutionState {
	t.Helper()
	return stent.ExecutionState(b.execution(t, id).State)
}

func mustUUID(t *testing.T, s string) uuid.UUID {
	t.Helper()
	id, err := uuid.Parse(s)
	require.NoError(t, err)
	return id
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/stenttest"
	"github.com/stentdev/stent/worker"
)

// update rewrites the golden files under testdata/ with what the commands print now:
// go test ./cmd/stent -run Golden -update.
var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// opsBundle is a database whose clock is a fake one, seeded by seedOps with executions in
// every interesting state, and a way to run commands that see the same clock.
type opsBundle struct {
	*testBundle
	clock  *stenttest.Clock
	reg    *stent.Registry
	client *stent.Client
	ids    []uuid.UUID // the seeded executions, in the order goldens name them
}

// Seeded executions (indexes into opsBundle.ids).
const (
	opsCompleted = iota // shop.checkout, completed with steps, progress, counters and state
	opsFailed           // shop.fail, failed permanently: dead letter 1
	opsRunning          // shop.charge on queue slow, leased by worker w-ops
	opsPending          // shop.checkout on queue slow, which no live worker serves for it
	opsCrashed          // shop.charge on queue slow, failed with a stack: dead letter 2
)

func setupOps(t *testing.T) *opsBundle {
	t.Helper()
	dbURL := stenttest.DB(t)
	clock := stenttest.NewClock(t0)
	pool := stenttest.Pool(t, stenttest.WithURL(dbURL), stenttest.WithClock(clock), stenttest.WithMaxConns(10))
	reg := stent.NewRegistry()
	return &opsBundle{testBundle: &testBundle{dbURL: dbURL, pool: pool}, clock: clock, reg: reg,
		client: stenttest.Client(t, pool, stent.Config{Registry: reg})}
}

// cli runs a command whose database clock is the bundle's clock now.
func (b *opsBundle) cli(t *testing.T, args ...string) result {
	t.Helper()
	return runCLI(t, t.Context(), nil, append([]string{"--database-url", fakeNowURL(b.dbURL, b.clock.Now())}, args...)...)
}

// cliIn runs a command with stdin as its input (a terminal to answer prompts).
func (b *opsBundle) cliIn(t *testing.T, ctx context.Context, stdin *terminal, args ...string) result {
	t.Helper()
	return runCLI(t, ctx, stdin, append([]string{"--database-url", fakeNowURL(b.dbURL, b.clock.Now())}, args...)...)
}

// fakeNowURL adds stent.fake_now=now to the connection's startup options.
func fakeNowURL(dbURL string, now time.Time) string {
	opt := "-c stent.fake_now=" + now.UTC().Format(time.RFC3339Nano)
	if u, err := url.Parse(dbURL); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Set("options", opt)
		u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
		return u.String()
	}
	return dbURL + " options='" + opt + "'"
}

// seedOps runs a real worker (on the fake clock) for a completed workflow and a failed
// activity, stops it, then sets up a leased task, a pending execution nobody serves and a
// failure with a stack through the SQL functions, one second apart.
func (b *opsBundle) seedOps(t *testing.T) {
	t.Helper()
	ctx := t.Context()
	charge := stent.NewActivity("shop.charge", func(_ context.Context, order string) (string, error) {
		b.clock.Advance(1500 * time.Millisecond) // it takes its time, for the timeline
		return "paid " + order, nil
	}, stent.InRegistry(b.reg))
	fail := stent.NewActivity("shop.fail", func(context.Context, string) (string, error) {
		return "", stent.Permanent(errors.New("card declined"))
	}, stent.InRegistry(b.reg))
	checkout := stent.NewWorkflow("shop.checkout", func(ctx stent.Context, order string) (string, error) {
		if _, err := stent.Step(ctx, "reserve", func(context.Context) (string, error) {
			b.clock.Advance(200 * time.Millisecond)
			return "reserved " + order, nil
		}); err != nil {
			return "", err
		}
		paid, err := charge.Call(ctx, order)
		if err != nil {
			return "", err
		}
		if err := stent.Progress(ctx, "charged", map[string]int{"cents": 4200}); err != nil {
			return "", err
		}
		if _, err := stent.Incr(ctx, "items", 3); err != nil {
			return "", err
		}
		if err := stent.SetState(ctx, "stage", "shipped"); err != nil {
			return "", err
		}
		return paid + ", shipped", nil
	}, stent.InRegistry(b.reg))

	w, err := worker.New(b.client, worker.Config{ID: "w-test", Queues: []string{"default"}, Concurrency: 1,
		PollInterval: 20 * time.Millisecond, MaintenanceInterval: time.Hour, ShutdownTimeout: 5 * time.Second,
		ResidentWait: -1}) // one slot, always suspending: the child runs only once the workflow parked
	require.NoError(t, err)
	wctx, stop := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- w.Run(wctx) }()
	wait := func(id uuid.UUID) {
		t.Helper()
		waitCtx, cancel := context.WithTimeout(ctx, waitTimeout)
		defer cancel()
		_, _ = b.client.Wait(waitCtx, id)
		require.NoError(t, waitCtx.Err(), "execution %s did not finish", id)
	}
	id, err := checkout.Dispatch(ctx, b.client, "order-1", stent.WithTags("eu", "web"), stent.WithIdempotencyKey("order-1"))
	require.NoError(t, err)
	wait(id)
	b.ids = append(b.ids, id)
	b.clock.Advance(time.Second)
	id, err = fail.Dispatch(ctx, b.client, "order-x")
	require.NoError(t, err)
	wait(id)
	b.ids = append(b.ids, id)
	stop()
	require.NoError(t, <-errc)

	b.clock.Advance(time.Second)
	b.exec(t, `select stent.register_worker('w-ops', 'host-1', 4242, '{slow}', '{shop.charge}', '{}', 4)`)
	id, err = charge.Dispatch(ctx, b.client, "order-2", stent.WithQueue("slow"))
	require.NoError(t, err)
	b.ids = append(b.ids, id)
	b.claim(t)
	b.clock.Advance(time.Second)
	id, err = checkout.Dispatch(ctx, b.client, "order-3", stent.WithQueue("slow"))
	require.NoError(t, err)
	b.ids = append(b.ids, id)
	b.clock.Advance(time.Second)
	id, err = charge.Dispatch(ctx, b.client, "order-4", stent.WithQueue("slow"))
	require.NoError(t, err)
	b.ids = append(b.ids, id)
	task, token := b.claim(t)
	b.exec(t, `select * from stent.fail_task($1, $2, $3, false)`, task, token,
		`{"kind": "panic", "message": "runtime error: index out of range [3] with length 3", `+
			`"stack": "goroutine 7 [running]:\nshop.charge(...)\n\t/src/shop/charge.go:42 +0x1d\n", "retryable": false, "attempt": 1}`)
	b.clock.Advance(time.Second)
}

// claim claims one task of queue slow for worker w-ops with a one-hour lease.
func (b *opsBundle) claim(t *testing.T) (id, token int64) {
	t.Helper()
	require.NoError(t, b.pool.QueryRow(t.Context(),
		`select id, lease_token from stent.claim_tasks('w-ops', '{slow}', '{shop.charge}', '{}', 1, '1 hour')`).Scan(&id, &token))
	return id, token
}

func (b *opsBundle) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	_, err := b.pool.Exec(t.Context(), sql, args...)
	require.NoError(t, err)
}

// normalize replaces the seeded execution ids (and their 8-character prefixes) with fixed
// ones of the same width, and the dashboard's load time, so goldens are stable.
func (b *opsBundle) normalize(s string) string {
	for i, id := range b.ids {
		s = strings.ReplaceAll(s, id.String(), fmt.Sprintf("%08d-0000-4000-8000-000000000000", i+1))
		s = strings.ReplaceAll(s, id.String()[:8], fmt.Sprintf("%08d", i+1))
	}
	s = regexp.MustCompile(`snapshot · \d+ms`).ReplaceAllString(s, "snapshot · 0ms")
	return s
}

// golden compares a command's output with testdata/name.golden (rewritten with -update).
func (b *opsBundle) golden(t *testing.T, name string, res result) {
	t.Helper()
	require.Equal(t, exitOK, res.code, res.stderr)
	require.Empty(t, res.stderr)
	got := b.normalize(res.stdout)
	path := filepath.Join("testdata", name+".golden")
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "no golden file: run go test ./cmd/stent -run %s -update", t.Name())
	require.Equal(t, string(want), got)
}

// runWith runs a command with stdin and a stderr of the test's choosing.
func (b *opsBundle) runWith(t *testing.T, stdin *terminal, stderr io.Writer, args ...string) result {
	t.Helper()
	var stdout strings.Builder
	c := &cli{stdin: stdin, stdout: &stdout, stderr: stderr, getenv: func(string) string { return "" }}
	code := c.run(t.Context(), append([]string{"--database-url", fakeNowURL(b.dbURL, b.clock.Now())}, args...))
	return result{code: code, stdout: stdout.String()}
}

// fakeTerminalWriter is an output stream that claims to be a terminal.
type fakeTerminalWriter struct{ syncBuffer }

func (*fakeTerminalWriter) IsTerminal() bool { return true }

// pipeTerminal is a terminal stdin whose answer the test controls; reading reports whether a
// command is waiting on it.
type pipeTerminal struct {
	r       *io.PipeReader
	waiting atomic.Bool
}

func newPipeTerminal() (*terminal, *pipeTerminal, *io.PipeWriter) {
	r, w := io.Pipe()
	p := &pipeTerminal{r: r}
	return &terminal{p}, p, w
}

func (p *pipeTerminal) Read(b []byte) (int, error) {
	p.waiting.Store(true)
	return p.r.Read(b)
}

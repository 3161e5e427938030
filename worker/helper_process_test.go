package worker_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/stenttest"
	"github.com/stentdev/stent/worker"
)

// The crash and signal tests run workers in subprocesses: the test binary itself, re-executed to run
// only TestHelperProcess, configured by these environment variables.
const (
	envHelperMode = "STENT_WORKER_HELPER"     // helperBlock or helperExit
	envHelperURL  = "STENT_WORKER_HELPER_URL" // the test's database
	envHelperNow  = "STENT_WORKER_HELPER_NOW" // the fake database time (RFC 3339)
	envHelperID   = "STENT_WORKER_HELPER_ID"  // the worker id
)

// Helper modes and the activity each serves. Both write a marker row when an attempt
// starts; helperBlock's activity then blocks forever (the parent kills the process),
// helperExit's exits the process (a task that kills its worker every time).
// helperSignal's runs under worker.RunUntilSignal and blocks until its context ends.
const (
	helperBlock  = "crash.block"
	helperExit   = "crash.exit"
	helperSignal = "signal.hold"
)

// createMarkers creates the table in which helper activities record their attempts.
const createMarkers = `create table crash_markers (
	id bigint generated always as identity primary key,
	name text not null,
	attempt int not null,
	pid int not null)`

// TestHelperProcess is not a test: it is the body of the crash tests' worker subprocess, and
// skips itself when run normally.
func TestHelperProcess(t *testing.T) {
	t.Parallel()
	mode := os.Getenv(envHelperMode)
	if mode == "" {
		t.Skip("the worker subprocess of the crash tests")
	}
	now, err := time.Parse(time.RFC3339Nano, os.Getenv(envHelperNow))
	require.NoError(t, err)
	pool := stenttest.Pool(t, stenttest.WithURL(os.Getenv(envHelperURL)),
		stenttest.WithClock(stenttest.NewClock(now)), stenttest.WithMaxConns(10))
	reg := stent.NewRegistry()
	mark := func(ctx context.Context, name string) error {
		info, _ := stent.AttemptFrom(ctx)
		_, err := pool.Exec(ctx, "insert into crash_markers (name, attempt, pid) values ($1, $2, $3)",
			name, info.Attempt, os.Getpid())
		return err
	}
	stent.NewActivity(helperBlock, func(ctx context.Context, in string) (string, error) {
		if err := mark(ctx, helperBlock); err != nil {
			return "", err
		}
		select {} // until killed
	}, stent.InRegistry(reg))
	stent.NewActivity(helperExit, func(ctx context.Context, in string) (string, error) {
		if err := mark(ctx, helperExit); err != nil {
			return "", err
		}
		os.Exit(3)
		return "", nil
	}, stent.InRegistry(reg), stent.Retry(stent.RetryPolicy{MaxAttempts: 2}))
	stent.NewActivity(helperSignal, func(ctx context.Context, in string) (string, error) {
		if err := mark(ctx, helperSignal); err != nil {
			return "", err
		}
		<-ctx.Done()
		return "", ctx.Err()
	}, stent.InRegistry(reg))
	client := stenttest.Client(t, pool, stent.Config{Registry: reg, Logger: testLogger()})
	cfg := worker.Config{
		ID: os.Getenv(envHelperID), Functions: []string{mode},
		PollInterval: 20 * time.Millisecond, MaintenanceInterval: time.Hour, ShutdownTimeout: time.Minute,
	}
	// Workflow modes (crash_workflow_test.go) register their definitions and adjust cfg.
	if define, ok := workflowHelperModes[mode]; ok {
		define(pool, reg, &cfg)
	}
	w, err := worker.New(client, cfg)
	require.NoError(t, err)
	if mode == helperSignal {
		require.NoError(t, worker.RunUntilSignal(context.Background(), w))
		return
	}
	require.NoError(t, w.Run(context.Background()))
	t.Fatal("the helper worker returned; it should have been killed")
}

// helperProc is a running worker subprocess.
type helperProc struct {
	cmd  *exec.Cmd
	out  bytes.Buffer
	done chan struct{}
	err  error // cmd.Wait's result, set before done is closed
}

// startHelper starts a worker subprocess on the test's database, seeing the fake clock's
// current time. It is killed (if still running) when the test ends, and its output is
// logged if the test failed.
func (b *testBundle) startHelper(mode, id string) *helperProc {
	b.t.Helper()
	require.NotNil(b.t, b.clock, "helper processes use the test's fake clock")
	p := &helperProc{done: make(chan struct{})}
	p.cmd = exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	p.cmd.Env = append(os.Environ(),
		envHelperMode+"="+mode,
		envHelperURL+"="+b.url,
		envHelperNow+"="+b.clock.Now().Format(time.RFC3339Nano),
		envHelperID+"="+id,
	)
	var mu sync.Mutex
	w := &lockedWriter{mu: &mu, w: &p.out}
	p.cmd.Stdout, p.cmd.Stderr = w, w
	require.NoError(b.t, p.cmd.Start())
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	b.t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		if b.t.Failed() {
			mu.Lock()
			b.t.Logf("helper %s output:\n%s", id, p.out.String())
			mu.Unlock()
		}
	})
	return p
}

// wait waits for the subprocess to end and returns its exit status.
func (p *helperProc) wait(t *testing.T) *exec.ExitError {
	t.Helper()
	waitClosed(t, p.done, "the helper process to exit")
	var ee *exec.ExitError
	require.True(t, errors.As(p.err, &ee), "helper exit: %v", p.err)
	return ee
}

// waitClosed waits for ch to be closed.
func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(waitTimeout):
		require.FailNow(t, "timed out waiting for "+what)
	}
}

// waitMarker waits until the helper activity name has recorded the start of attempt.
func (b *testBundle) waitMarker(name string, attempt int) {
	b.t.Helper()
	pollUntil(b.t, name+" attempt "+strconv.Itoa(attempt)+" to start", func() bool {
		return b.queryInt("select count(*) from crash_markers where name = $1 and attempt = $2", name, attempt) > 0
	})
}

// lockedWriter serializes writes from a subprocess's stdout and stderr copiers.
type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

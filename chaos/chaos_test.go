package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/stenttest"
)

// The soak's worker processes are this test binary, re-executed to run only
// TestChaosWorkerProcess, configured by these environment variables.
const (
	envWorkerID  = "STENT_CHAOS_WORKER_ID"
	envWorkerURL = "STENT_CHAOS_WORKER_URL"
	envWorkerRun = "STENT_CHAOS_WORKER_RUN"
)

// TestMain checks that no goroutine outlives the tests (not in worker processes, which are
// killed or stopped by their parent).
func TestMain(m *testing.M) {
	code := stenttest.Run(m)
	if code == 0 && os.Getenv(envWorkerID) == "" {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// TestChaosWorkerProcess is not a test: it is the body of the soak's worker processes, and
// skips itself when run normally.
func TestChaosWorkerProcess(t *testing.T) {
	id := os.Getenv(envWorkerID)
	if id == "" {
		t.Skip("the worker process of TestChaosSoak")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	require.NoError(t, workerProcess(ctx, os.Getenv(envWorkerURL), id, os.Getenv(envWorkerRun), os.Stderr))
}

// TestChaosSoak is a short soak: 3 worker processes and the workload mix for 20 seconds of
// faults — worker SIGKILLs, a worker frozen past its leases, one fast and one immediate
// Postgres restart, Postgres frozen past the leases, terminated listener and worker
// backends — then the soak's invariants: every execution finished with its
// expected result, transactional effects exactly once, plain ones at most once per attempt,
// no task running without a live lease, no worker dying on its own, a clean doctor.
func TestChaosSoak(t *testing.T) {
	t.Parallel()
	logs := &workerLogs{bufs: map[string]*bytes.Buffer{}}
	var progress bytes.Buffer
	cfg := Config{
		Duration:       20 * time.Second,
		Workers:        3,
		DispatchEvery:  200 * time.Millisecond,
		KillEvery:      3 * time.Second,
		PauseEvery:     7 * time.Second,
		TerminateEvery: 2 * time.Second,
		DrainTimeout:   2 * time.Minute,
		Progress:       &lockedWriter{w: &progress, mu: &logs.mu},
		WorkerLogs:     logs.open,
		WorkerCommand: func(id, url, run string) *exec.Cmd {
			cmd := exec.Command(os.Args[0], "-test.run=^TestChaosWorkerProcess$", "-test.count=1")
			cmd.Env = append(os.Environ(), envWorkerID+"="+id, envWorkerURL+"="+url, envWorkerRun+"="+run)
			return cmd
		},
	}
	// With a server given to stenttest, soak a fresh database there (Postgres is then not
	// restarted); otherwise the soak starts and restarts its own cluster.
	ownCluster := os.Getenv(stenttest.EnvDatabaseURL) == ""
	if !ownCluster {
		cfg.DatabaseURL = stenttest.DB(t)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	s, err := Run(ctx, cfg)
	logs.mu.Lock()
	t.Logf("soak progress:\n%s", progress.String())
	logs.mu.Unlock()
	t.Cleanup(func() {
		if t.Failed() {
			logs.logTails(t)
		}
	})
	require.NoError(t, err)
	var summary strings.Builder
	s.Print(&summary)
	t.Logf("summary:\n%s", summary.String())

	// The faults happened.
	require.Positive(t, s.Kills, "workers killed")
	require.Positive(t, s.Pauses, "workers frozen")
	require.Positive(t, s.ListenerTerminations, "listener backends terminated")
	require.Positive(t, s.BackendTerminations, "worker backends terminated")
	if ownCluster {
		require.Equal(t, []string{"fast", "immediate"}, s.Restarts)
		require.Equal(t, 1, s.Hangs, "Postgres frozen")
	}
	// Every kind of ending was exercised, and every execution is accounted for.
	require.Positive(t, s.ByState[stent.StateCompleted])
	require.Positive(t, s.ByState[stent.StateCancelled])
	require.Positive(t, s.ByState[stent.StateFailed])
	total := 0
	for _, n := range s.ByState {
		total += n
	}
	require.Equal(t, s.Executions, total)
	require.Positive(t, s.TxEffects)
	require.Positive(t, s.PlainEffects)

	// The invariants.
	require.Zero(t, s.Lost, "lost executions")
	require.Zero(t, s.WrongResults, "executions with another result than expected")
	require.Zero(t, s.ExpiredRunning, "tasks running without a live lease")
	require.Zero(t, s.TxDuplicates, "duplicate effects of transactional activities")
	require.Zero(t, s.TxPhantoms, "effects of transactional activities that did not complete")
	require.Empty(t, s.UnexpectedExits, "workers that died on their own")
	require.Equal(t, s.Workers, s.WorkersProbed, "workers still claiming and completing work after the faults")
	require.Empty(t, s.DoctorFindings)
	require.Empty(t, s.Failures)
}

// workerLogs keeps each worker process's output, to show when the soak fails.
type workerLogs struct {
	mu   sync.Mutex
	bufs map[string]*bytes.Buffer
}

func (l *workerLogs) open(id string) io.Writer {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := &bytes.Buffer{}
	l.bufs[id] = b
	return &lockedWriter{w: b, mu: &l.mu}
}

// logTails logs the last lines of every worker's output.
func (l *workerLogs) logTails(t *testing.T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ids := make([]string, 0, len(l.bufs))
	for id := range l.bufs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		lines := strings.Split(strings.TrimSpace(l.bufs[id].String()), "\n")
		t.Logf("worker %s (last %d lines):\n%s", id, min(len(lines), 20), strings.Join(lines[max(0, len(lines)-20):], "\n"))
	}
}

// lockedWriter serializes writes to a buffer shared with readers.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

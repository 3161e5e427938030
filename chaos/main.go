// Command chaos is Stent's chaos soak: worker processes and a dispatcher run a mix of
// workflows (sequential activities, inline steps, a fan-out, sleeps, signals, cancellations
// and failures that go to the dead-letter queue) while a monkey SIGKILLs and freezes workers,
// restarts Postgres (fast and immediate shutdown) and terminates worker backends. It checks
// that every execution finished with its expected result, that transactional activities'
// effects exist exactly once, plain ones' at most once per attempt, that no task runs without
// a live lease and that the doctor finds nothing, then prints a summary and exits 1 if any check
// failed (2 if the soak could not run).
//
//	go run ./chaos --duration 5m
//	go run ./chaos --duration 1m --database-url postgres://localhost/scratch
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
)

func main() {
	var cfg Config
	flag.DurationVar(&cfg.Duration, "duration", 0, "how long to dispatch and inject faults (default 5m)")
	flag.StringVar(&cfg.DatabaseURL, "database-url", "", "soak this database instead of a throwaway cluster (Postgres is then not restarted)")
	flag.IntVar(&cfg.Workers, "workers", 0, "worker processes (default 3)")
	flag.DurationVar(&cfg.DispatchEvery, "dispatch-every", 0, "pace of dispatches (default 150ms)")
	flag.DurationVar(&cfg.KillEvery, "kill-every", 0, "mean interval between worker SIGKILLs (default 4s)")
	flag.DurationVar(&cfg.PauseEvery, "pause-every", 0, "interval between worker freezes longer than a lease (default 20s)")
	flag.DurationVar(&cfg.TerminateEvery, "terminate-every", 0, "interval between backend terminations (default 3s)")
	flag.DurationVar(&cfg.DrainTimeout, "drain-timeout", 0, "how long to wait after the last fault for every execution to finish (default 3m)")
	flag.Uint64Var(&cfg.Seed, "seed", 0, "seed of the random choices (default: the clock)")
	workerID := flag.String("worker", "", "internal: run as the worker process with this id")
	run := flag.String("run", "", "internal: the soak's run id (worker mode)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *workerID != "" {
		if err := workerProcess(ctx, cfg.DatabaseURL, *workerID, *run, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	os.Exit(soak(ctx, cfg))
}

// soak runs the soak with worker processes re-executing this binary, their output in a log
// directory, and returns the exit code.
func soak(ctx context.Context, cfg Config) int {
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		return 2
	}
	logDir, err := os.MkdirTemp("", "stent-chaos-logs-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		return 2
	}
	logs := &logFiles{dir: logDir}
	defer logs.close()
	cfg.WorkerLogs = logs.open
	cfg.WorkerCommand = func(id, url, run string) *exec.Cmd {
		return exec.Command(exe, "-worker", id, "-run", run, "-database-url", url)
	}
	cfg.Progress = os.Stdout
	s, err := Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		return 2
	}
	fmt.Println()
	s.Print(os.Stdout)
	fmt.Println("worker logs:", logDir)
	if !s.OK() {
		return 1
	}
	return 0
}

// logFiles gives each worker process a log file in dir.
type logFiles struct {
	dir   string
	mu    sync.Mutex
	files []*os.File
}

func (l *logFiles) open(id string) io.Writer {
	f, err := os.Create(filepath.Join(l.dir, id+".log"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos: worker log:", err)
		return io.Discard
	}
	l.mu.Lock()
	l.files = append(l.files, f)
	l.mu.Unlock()
	return f
}

func (l *logFiles) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, f := range l.files {
		_ = f.Close()
	}
}

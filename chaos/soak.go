package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stentdev/stent/internal/pglaunch"
	"github.com/stentdev/stent/stent"
)

// Run performs one soak: it prepares the database, starts the worker processes, dispatches
// the workload while the monkey injects faults for cfg.Duration, waits for every execution
// to finish, stops the workers and checks the invariants. The returned summary says what
// happened; its Failures list the broken invariants. An error means the soak could not run.
func Run(ctx context.Context, cfg Config) (*Summary, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	run := newRunID()
	fmt.Fprintf(cfg.Progress, "%s  preparing soak %s\n", stamp(), run)
	url := cfg.DatabaseURL
	var cluster *pglaunch.Cluster
	if url == "" {
		c, err := startCluster(ctx)
		if err != nil {
			return nil, err
		}
		defer func() { _ = c.Stop() }()
		cluster, url = c, c.URL("postgres")
		fmt.Fprintf(cfg.Progress, "%s  Postgres started\n", stamp())
	}
	pool, err := dispatcherPool(ctx, url)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	if err := stent.Migrate(ctx, pool); err != nil {
		return nil, fmt.Errorf("chaos: migrate: %w", err)
	}
	if _, err := pool.Exec(ctx, createEffects); err != nil {
		return nil, fmt.Errorf("chaos: create effects table: %w", err)
	}
	wl := defineWorkload(pool, run)
	client, err := stent.NewClient(pool, stent.Config{Registry: wl.reg})
	if err != nil {
		return nil, err
	}
	defer client.Close()

	fmt.Fprintf(cfg.Progress, "%s  soak %s: %d workers, faults for %s, seed %d\n", stamp(), run, cfg.Workers, cfg.Duration, cfg.Seed)
	fl := &fleet{command: cfg.WorkerCommand, url: url, run: run, logs: cfg.WorkerLogs}
	if err := fl.startAll(cfg.Workers); err != nil {
		fl.stop(10 * time.Second)
		return nil, err
	}
	stopped := false
	defer func() {
		if !stopped {
			fl.stop(10 * time.Second)
		}
	}()

	wd := startWatchdog(cfg.Progress, 15*time.Second)
	watching := true
	defer func() {
		if watching {
			wd.close()
		}
	}()
	rng := mrand.New(mrand.NewPCG(cfg.Seed, 1))
	d := &dispatcher{client: client, wl: wl, run: run, every: cfg.DispatchEvery, rng: mrand.New(mrand.NewPCG(cfg.Seed, 2))}
	m := &monkey{cfg: cfg, fleet: fl, cluster: cluster, pool: pool, rng: rng, log: cfg.Progress, wd: wd}
	faultCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	dispatchDone := make(chan struct{})
	go func() { defer close(dispatchDone); d.dispatch(faultCtx) }()
	m.run(ctx, cfg.Duration)
	faultsEnd := time.Now()
	if ctx.Err() != nil {
		<-dispatchDone
		return nil, ctx.Err()
	}
	<-dispatchDone
	fmt.Fprintf(cfg.Progress, "%s  faults over; %d executions dispatched; waiting for the drain\n", stamp(), len(d.executions()))

	s := &Summary{Run: run, Seed: cfg.Seed, Duration: cfg.Duration, Workers: cfg.Workers,
		Kills: m.kills, Pauses: m.pauses, Hangs: m.hangs, Restarts: m.restarts, ListenerTerminations: m.listenerKill, BackendTerminations: m.backendKill,
		DispatchRetries: d.retries.Load(), LostReplies: d.lostReplies.Load(), SignalsSent: d.signals.Load(), CancelsSent: d.cancels.Load()}
	lastFault := m.lastFault
	if lastFault.IsZero() {
		lastFault = faultsEnd
	}
	drained, err := waitDrain(ctx, pool, run, len(d.executions()), lastFault.Add(cfg.DrainTimeout))
	if err != nil {
		return nil, err
	}
	if drained {
		s.Drain = time.Since(lastFault)
		s.DrainAfterDispatch = time.Since(faultsEnd)
	} else {
		s.Failures = append(s.Failures, fmt.Sprintf("executions still unfinished %s after the last fault", cfg.DrainTimeout))
	}
	fmt.Fprintf(cfg.Progress, "%s  drained=%v; probing every worker\n", stamp(), drained)
	probeFailures := probeWorkers(ctx, client, wl, run, cfg.Workers)
	s.Failures = append(s.Failures, probeFailures...)
	s.WorkersProbed = cfg.Workers - len(probeFailures)
	fmt.Fprintf(cfg.Progress, "%s  stopping the workers\n", stamp())
	stopped = true
	for _, id := range fl.stop(30 * time.Second) {
		s.Failures = append(s.Failures, "worker "+id+" did not stop within 30s of being asked")
	}
	watching = false
	s.Stalled = wd.close()
	fmt.Fprintf(cfg.Progress, "%s  workers stopped; checking\n", stamp())
	s.UnexpectedExits = fl.unexpectedExits()
	for _, e := range s.UnexpectedExits {
		s.Failures = append(s.Failures, "worker exited on its own: "+e)
	}
	s.Failures = append(s.Failures, m.killErrors...)
	for _, e := range m.restartErrs {
		s.Failures = append(s.Failures, "Postgres restart: "+e)
	}
	for _, e := range d.errors() {
		s.Failures = append(s.Failures, "dispatcher gave up: "+e)
	}
	if err := check(ctx, client, run, d.executions(), s); err != nil {
		return nil, err
	}
	fmt.Fprintf(cfg.Progress, "%s  checked; stopping Postgres\n", stamp())
	return s, nil
}

// clustersRoot holds the soaks' throwaway clusters, so that each start removes those left
// behind by killed soaks.
func clustersRoot() string { return filepath.Join(os.TempDir(), "stent-chaos-clusters") }

// startCluster starts a throwaway PostgreSQL cluster under clustersRoot.
func startCluster(ctx context.Context) (*pglaunch.Cluster, error) {
	root := clustersRoot()
	if err := os.Mkdir(root, 0o755); err == nil {
		_ = os.Chmod(root, os.ModeSticky|0o777) // the postgres user must traverse it
	} else if !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("chaos: create %s: %w", root, err)
	}
	pglaunch.CleanupStale(root)
	dir, err := os.MkdirTemp(root, "cluster-")
	if err != nil {
		return nil, fmt.Errorf("chaos: create cluster directory: %w", err)
	}
	_ = os.RemoveAll(dir) // Start creates it, and then removes it on Stop
	c, err := pglaunch.Start(ctx, pglaunch.Options{Dir: dir})
	if err != nil {
		return nil, fmt.Errorf("chaos: start PostgreSQL (or pass --database-url): %w", err)
	}
	return c, nil
}

// dispatcherPool connects the dispatcher, the monkey and the checker.
func dispatcherPool(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("chaos: parse database URL: %w", err)
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = "chaos-dispatcher"
	cfg.MaxConns = 20
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("chaos: connect: %w", err)
	}
	return pool, nil
}

// newRunID returns a random id naming this soak's rows.
func newRunID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

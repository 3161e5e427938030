package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/worker"
)

// workerAppPrefix starts the application_name of every worker process's connections, which
// is how the monkey finds their backends.
const workerAppPrefix = "chaos-worker-"

// workerConfig is the configuration of every worker process: short leases and frequent
// maintenance, so that the work of a killed worker is rescued within seconds.
func workerConfig(id string) worker.Config {
	return worker.Config{
		ID:                  id,
		Concurrency:         16,
		LeaseDuration:       4 * time.Second,
		HeartbeatInterval:   time.Second,
		PollInterval:        250 * time.Millisecond,
		MaintenanceInterval: 500 * time.Millisecond,
		ShutdownTimeout:     5 * time.Second,
		DBTimeout:           5 * time.Second,
	}
}

// slotTag returns the routing tag of the worker slot of worker id ("<run>-slot<N>-<n>"):
// "slot<N>". Only the probes are tagged, so each probe runs on its slot's worker.
func slotTag(id string) string {
	parts := strings.Split(id, "-")
	if len(parts) != 3 {
		return "slot0"
	}
	return parts[1]
}

// workerProcess is the body of a worker process (the chaos binary with -worker, or the test
// binary's helper): it runs a stent worker serving the workload until ctx ends or its parent
// goes away (stdin reaches EOF). A worker that cannot start — Postgres is restarting — is
// retried; a worker whose Run returns while it should be running is an error.
func workerProcess(ctx context.Context, url, id, run string, logw io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin) // the parent holds the other end
		cancel()
		time.Sleep(15 * time.Second) // a graceful stop normally ends well before this
		os.Exit(4)
	}()
	log := zerolog.New(logw).Level(zerolog.WarnLevel).With().Timestamp().Str("worker", id).Logger()

	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return fmt.Errorf("chaos worker: parse database URL: %w", err)
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = workerAppPrefix + id
	cfg.MaxConns = 40
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("chaos worker: create pool: %w", err)
	}
	defer pool.Close()
	wl := defineWorkload(pool, run)
	client, err := stent.NewClient(pool, stent.Config{Registry: wl.reg, Logger: &log})
	if err != nil {
		return fmt.Errorf("chaos worker: client: %w", err)
	}
	defer client.Close()

	for {
		cfg := workerConfig(id)
		cfg.Tags = []string{slotTag(id)} // it still takes every untagged task
		w, err := worker.New(client, cfg)
		if err != nil {
			return fmt.Errorf("chaos worker: %w", err)
		}
		err = w.Run(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			return errors.New("chaos worker: Run returned while the worker should be running")
		}
		log.Warn().Err(err).Msg("chaos worker: could not start; retrying")
		select {
		case <-time.After(500 * time.Millisecond):
		case <-ctx.Done():
			return nil
		}
	}
}

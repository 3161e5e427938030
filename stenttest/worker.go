package stenttest

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/worker"
)

// Client returns a stent.Client on pool, closed at the end of the test.
func Client(t testing.TB, pool *pgxpool.Pool, cfg stent.Config) *stent.Client {
	t.Helper()
	c, err := stent.NewClient(pool, cfg)
	if err != nil {
		t.Fatalf("stenttest: new client: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// StartWorker runs an in-process worker for the test: it returns once the worker is ready
// and stops it (gracefully, waiting for it to return) when the test ends. Zero config fields
// get test-friendly values: fast polling and maintenance so that tests do not wait.
func StartWorker(t testing.TB, client *stent.Client, cfg worker.Config) *worker.Worker {
	t.Helper()
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 50 * time.Millisecond
	}
	if cfg.MaintenanceInterval == 0 {
		cfg.MaintenanceInterval = 50 * time.Millisecond
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = 5 * time.Second
	}
	w, err := worker.New(client, cfg)
	if err != nil {
		t.Fatalf("stenttest: new worker: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- w.Run(ctx) }()
	select {
	case <-w.Ready():
	case err := <-errc:
		cancel()
		t.Fatalf("stenttest: worker did not start: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatalf("stenttest: worker not ready after 30s")
	}
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("stenttest: worker stopped with error: %v", err)
		}
	})
	return w
}

// Package exampledb gives the examples a database: DATABASE_URL when set, otherwise a
// throwaway local PostgreSQL started from the installed server binaries and removed on exit.
package exampledb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stentdev/stent/internal/pglaunch"
	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/worker"
)

// Open returns a pool on a migrated database and a function that releases everything.
func Open(ctx context.Context) (*pgxpool.Pool, func(), error) {
	url := os.Getenv("DATABASE_URL")
	stop := func() {}
	if url == "" {
		fmt.Fprintln(os.Stderr, "DATABASE_URL is not set: starting a throwaway PostgreSQL from the local binaries…")
		c, err := pglaunch.Start(ctx, pglaunch.Options{})
		if err != nil {
			if errors.Is(err, pglaunch.ErrNoPostgres) {
				return nil, nil, fmt.Errorf("no PostgreSQL found.\n"+
					"  Install the server (Debian/Ubuntu: sudo apt-get install postgresql; macOS: brew install postgresql@15),\n"+
					"  or run `docker compose up -d --wait` and set DATABASE_URL=postgres://stent:stent@localhost:5432/stent?sslmode=disable\n(%w)", err)
			}
			return nil, nil, err
		}
		url = c.URL("postgres")
		stop = func() { _ = c.Stop() }
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		stop()
		return nil, nil, fmt.Errorf("connecting to %s: %w", url, err)
	}
	if err := stent.Migrate(ctx, pool); err != nil {
		pool.Close()
		stop()
		return nil, nil, err
	}
	return pool, func() { pool.Close(); stop() }, nil
}

// Main runs an example: it opens the database (see Open), calls run with it and standard
// output, and exits with status 1 and the error on failure.
func Main(name string, run func(ctx context.Context, pool *pgxpool.Pool, out io.Writer) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	pool, release, err := Open(ctx)
	if err == nil {
		err = run(ctx, pool, os.Stdout)
		release()
	}
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

// StartWorker runs a worker for the example until the returned stop function is called
// (it waits for the worker's graceful shutdown).
func StartWorker(ctx context.Context, client *stent.Client, cfg worker.Config) (stop func(), err error) {
	w, err := worker.New(client, cfg)
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- w.Run(wctx) }()
	select {
	case <-w.Ready():
	case err := <-errc:
		cancel()
		return nil, err
	}
	return func() { cancel(); <-errc }, nil
}

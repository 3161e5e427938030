package main

import (
	"context"
	"fmt"
	"os"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stentdev/stent/internal/pglaunch"
	"github.com/stentdev/stent/stent"
)

// env is the server the benchmark runs on.
type env struct {
	cluster *pglaunch.Cluster
	baseURL string // URL of the maintenance database
	version string
	n       int
}

func newEnv(ctx context.Context) (*env, error) {
	e := &env{baseURL: os.Getenv("DATABASE_URL")}
	if e.baseURL == "" {
		c, err := pglaunch.Start(ctx, pglaunch.Options{})
		if err != nil {
			return nil, err
		}
		e.cluster, e.baseURL = c, c.URL("postgres")
	}
	conn, err := pgx.Connect(ctx, e.baseURL)
	if err != nil {
		e.close()
		return nil, err
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&e.version); err != nil {
		e.close()
		return nil, err
	}
	return e, nil
}

func (e *env) close() {
	if e.cluster != nil {
		_ = e.cluster.Stop()
	}
}

// freshDB creates and migrates a new database and returns a pool on it (max conns sized for
// the worker) and a cleanup function.
func (e *env) freshDB(ctx context.Context, maxConns int) (*pgxpool.Pool, func(), error) {
	e.n++
	name := fmt.Sprintf("stent_bench_%d_%d", os.Getpid(), e.n)
	admin, err := pgx.Connect(ctx, e.baseURL)
	if err != nil {
		return nil, nil, err
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return nil, nil, err
	}
	cfg, err := pgxpool.ParseConfig(e.baseURL)
	if err != nil {
		return nil, nil, err
	}
	cfg.ConnConfig.Database = name
	cfg.MaxConns = int32(maxConns)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	drop := func() {
		pool.Close()
		if c, err := pgx.Connect(context.Background(), e.baseURL); err == nil {
			_, _ = c.Exec(context.Background(), "DROP DATABASE "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
			_ = c.Close(context.Background())
		}
	}
	if err := stent.Migrate(ctx, pool); err != nil {
		drop()
		return nil, nil, err
	}
	_, _ = pool.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
	return pool, drop, nil
}

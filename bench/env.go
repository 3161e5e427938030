package main

import (
	"context"
	"fmt"
	"net/url"
	"os"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stentdev/stent/internal/pglaunch"
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

// database is a fresh database of one run.
type database struct {
	url  string
	pool *pgxpool.Pool
	drop func()
}

// freshDB creates a new database with pg_stat_statements and returns a pool on it sized for
// maxConns; drop closes the pool and drops the database.
func (e *env) freshDB(ctx context.Context, maxConns int) (*database, error) {
	e.n++
	name := fmt.Sprintf("bench_%d_%d", os.Getpid(), e.n)
	admin, err := pgx.Connect(ctx, e.baseURL)
	if err != nil {
		return nil, err
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(e.baseURL)
	if err != nil {
		return nil, err
	}
	cfg.ConnConfig.Database = name
	cfg.MaxConns = int32(maxConns)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	db := &database{url: databaseURL(e.baseURL, name), pool: pool}
	db.drop = func() {
		pool.Close()
		if c, err := pgx.Connect(context.Background(), e.baseURL); err == nil {
			_, _ = c.Exec(context.Background(), "DROP DATABASE "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
			_ = c.Close(context.Background())
		}
	}
	if _, err := pool.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"); err != nil {
		db.drop()
		return nil, fmt.Errorf("pg_stat_statements: %w", err)
	}
	return db, nil
}

// databaseURL returns base with its database replaced by name.
func databaseURL(base, name string) string {
	cfg, err := pgx.ParseConfig(base)
	if err != nil {
		return base
	}
	u := url.URL{Scheme: "postgres", Host: fmt.Sprintf("%s:%d", cfg.Host, cfg.Port), Path: "/" + name, RawQuery: "sslmode=disable"}
	if cfg.Password != "" {
		u.User = url.UserPassword(cfg.User, cfg.Password)
	} else {
		u.User = url.User(cfg.User)
	}
	return u.String()
}

// vacuum analyzes the tables a run just filled, so that every system drains a backlog with
// fresh statistics, as a long-lived database would have.
func vacuum(ctx context.Context, pool *pgxpool.Pool, tables ...string) {
	for _, t := range tables {
		_, _ = pool.Exec(ctx, "VACUUM ANALYZE /*bench*/ "+t)
	}
}

package stenttest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Option configures Pool.
type Option func(*poolOptions)

type poolOptions struct {
	url      string
	maxConns int32
	clock    *Clock
}

// WithURL makes Pool connect to url instead of a fresh database, for example
// to give a second pool (another "process") the database of the first.
func WithURL(url string) Option {
	return func(o *poolOptions) { o.url = url }
}

// WithMaxConns sets the pool's maximum size (pgxpool's default is
// max(4, GOMAXPROCS) — tight for a worker plus a client).
func WithMaxConns(n int) Option {
	return func(o *poolOptions) { o.maxConns = int32(n) }
}

// WithClock makes every connection of the pool see clock's current time
// through stent.current_time(). A moved clock reaches a connection the next
// time it is acquired from the pool; a connection held meanwhile keeps the
// value it had when acquired.
func WithClock(clock *Clock) Option {
	return func(o *poolOptions) { o.clock = clock }
}

// Pool returns a pgxpool on a fresh database (see DB), or on the WithURL
// database, closed when the test ends.
func Pool(t testing.TB, opts ...Option) *pgxpool.Pool {
	t.Helper()
	var o poolOptions
	for _, opt := range opts {
		opt(&o)
	}
	if o.url == "" {
		o.url = DB(t)
	}
	cfg, err := pgxpool.ParseConfig(o.url)
	if err != nil {
		t.Fatalf("stenttest: parse pool URL: %v", err)
	}
	if o.maxConns > 0 {
		cfg.MaxConns = o.maxConns
	}
	if o.clock != nil {
		h := &clockHook{clock: o.clock}
		cfg.PrepareConn = h.prepareConn
		cfg.BeforeClose = h.beforeClose
	}
	ctx, cancel := context.WithTimeout(t.Context(), dbTimeout)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("stenttest: create pool: %v", err)
	}
	t.Cleanup(pool.Close)
	if err := pool.Ping(ctx); err != nil {
		t.Fatalf("stenttest: connect pool: %v", err)
	}
	return pool
}

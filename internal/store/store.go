// Package store is the one adapter over the sqlc-generated package db: every runtime SQL call
// of Stent goes through it, and it maps database errors to Stent's error values in one place
// (errors.go). It has no behaviour of its own beyond argument conversion.
package store

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stentdev/stent/db"
)

// DBTX is what queries run on: a pool, a connection or a transaction.
type DBTX interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Store runs Stent's queries on a pool, or on a caller's transaction (WithTx).
type Store struct {
	q    *db.Queries
	dbtx DBTX
}

// New returns a Store that runs on pool.
func New(pool *pgxpool.Pool) *Store {
	return &Store{q: db.New(), dbtx: pool}
}

// WithTx returns a Store that runs on tx (for the Tx variants of the API).
func (s *Store) WithTx(tx pgx.Tx) *Store {
	return &Store{q: s.q, dbtx: tx}
}

// Rows re-exported so callers above the adapter never import db.
type (
	Execution  = db.Execution
	Task       = db.Task
	DeadLetter = db.DeadLetter
	Worker     = db.Worker
)

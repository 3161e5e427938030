package main

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// runExecutions counts the run's executions and those not yet finished.
const runExecutions = `select count(*), count(*) filter (where state not in ('completed', 'failed', 'cancelled', 'timed_out'))
	from stent.executions where idempotency_key like 'chaos-' || $1 || '-%'`

// waitDrain polls until the run's want executions all exist and are finished, or the
// deadline passes (then it returns false). Query errors — Postgres may still be recovering —
// are retried until the deadline.
func waitDrain(ctx context.Context, pool *pgxpool.Pool, run string, want int, deadline time.Time) (bool, error) {
	for {
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		var total, unfinished int
		err := pool.QueryRow(qctx, runExecutions, run).Scan(&total, &unfinished)
		cancel()
		if err == nil && total >= want && unfinished == 0 {
			return true, nil
		}
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		if time.Now().After(deadline) {
			return false, nil
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
}

// Package stent is a durable execution engine for Go programs whose data lives in
// PostgreSQL.
//
// Functions are defined once, with types, and dispatched through a Client on the
// application's own pgxpool.Pool; workers (package worker) claim and run them. Everything
// is coordinated by PL/pgSQL functions in the database's "stent" schema: claims are single
// statements with FOR UPDATE SKIP LOCKED, every write of an attempt is fenced by a lease
// token, terminal states are sticky, and the database clock decides all time comparisons.
// LISTEN/NOTIFY wakes workers and waiters, and every loop also polls, so a lost notification
// costs latency, never correctness.
//
//	var Charge = stent.NewActivity("billing.charge", charge,
//		stent.Queue("billing"), stent.Retry(stent.RetryPolicy{MaxAttempts: 5}))
//
//	if err := stent.Migrate(ctx, pool); err != nil { ... }
//	client, _ := stent.NewClient(pool, stent.Config{})
//	id, _ := Charge.Dispatch(ctx, client, payment, stent.WithIdempotencyKey("order-42"))
//	receipt, err := Charge.Wait(ctx, client, id)
//
// Activities are at-least-once: an attempt whose worker dies is rescued when its lease
// expires and runs again (the rescued attempt counts, so a task that crashes its process
// ends in the dead-letter queue). Activities made with NewTxActivity complete in the same
// transaction as their own writes, which makes their database effects exactly-once.
package stent

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stentdev/stent/stent"
)

// createEffects creates the user table in which activities record their side effects: one
// row per attempt for plain activities (written in their own transaction, before the work),
// one row per completed task for transactional ones (written in the completion's
// transaction). run scopes rows to one soak, so a shared database can hold several.
const createEffects = `create table if not exists chaos_effects (
	id bigint generated always as identity primary key,
	run text not null,
	kind text not null,
	name text not null,
	task_id bigint not null,
	attempt int not null,
	input bigint not null,
	pid int not null)`

// Effect kinds in chaos_effects.
const (
	effectTx    = "tx"
	effectPlain = "plain"
)

// Function names. Transactional activities end in ".tx", so the checker can tell them apart.
const (
	actTxDouble    = "chaos.double.tx"
	actPlainDouble = "chaos.double.plain"
	actTxSquare    = "chaos.square.tx"
	actAlwaysFails = "chaos.fails.plain"
	actProbe       = "chaos.probe"

	wfSequence = "chaos.sequence"
	wfFanOut   = "chaos.fanout"
	wfSleep    = "chaos.sleep"
	wfSignal   = "chaos.signal"
	wfCancel   = "chaos.cancel"
	wfFail     = "chaos.fail"
)

// Workload constants: the fan-out's width, the signal the dispatcher sends, the signal that
// never comes (so a cancelled workflow cannot finish first), and the failing activity's
// attempts.
const (
	fanOutWidth      = 20
	signalName       = "chaos.go"
	neverSignal      = "chaos.never"
	failAttempts     = 2
	failMessage      = "chaos: this activity always fails"
	giveUpMessage    = "chaos: giving up"
	signalWaitLimit  = 10 * time.Minute
	plainActivityRun = 100 * time.Millisecond
)

// chaosRetry lets every function that should succeed outlive any number of kills: many
// attempts, short backoff.
var chaosRetry = stent.Retry(stent.RetryPolicy{MaxAttempts: 1000, InitialDelay: 100 * time.Millisecond, MaxDelay: time.Second})

// workload holds the soak's typed definitions, registered in one registry. Worker processes
// and the dispatcher each build their own (only workers run them).
type workload struct {
	reg      *stent.Registry
	probe    *stent.Activity[int, int]
	sequence *stent.Workflow[int, int]
	fanOut   *stent.Workflow[int, int]
	sleep    *stent.Workflow[int, int]
	signal   *stent.Workflow[int, int]
	cancel   *stent.Workflow[int, int]
	fail     *stent.Workflow[int, int]
}

// defineWorkload defines the activities and workflows of run in a new registry; plain
// activities record their effects through pool.
func defineWorkload(pool *pgxpool.Pool, run string) *workload {
	reg := stent.NewRegistry()
	in := stent.InRegistry(reg)
	txEffect := func(ctx context.Context, tx pgx.Tx, name string, n int) error {
		return recordEffect(ctx, tx, run, effectTx, name, n)
	}
	plainEffect := func(ctx context.Context, name string, n int) error {
		if err := recordEffect(ctx, pool, run, effectPlain, name, n); err != nil {
			return err
		}
		// The work itself: long enough for kills to land inside attempts.
		select {
		case <-time.After(plainActivityRun):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	txDouble := stent.NewTxActivity(actTxDouble, func(ctx context.Context, tx pgx.Tx, n int) (int, error) {
		return 2 * n, txEffect(ctx, tx, actTxDouble, n)
	}, in, chaosRetry)
	plainDouble := stent.NewActivity(actPlainDouble, func(ctx context.Context, n int) (int, error) {
		return 2 * n, plainEffect(ctx, actPlainDouble, n)
	}, in, chaosRetry)
	txSquare := stent.NewTxActivity(actTxSquare, func(ctx context.Context, tx pgx.Tx, n int) (int, error) {
		return n * n, txEffect(ctx, tx, actTxSquare, n)
	}, in, chaosRetry)
	alwaysFails := stent.NewActivity(actAlwaysFails, func(ctx context.Context, n int) (int, error) {
		if err := plainEffect(ctx, actAlwaysFails, n); err != nil {
			return 0, err
		}
		return 0, errors.New(failMessage)
	}, in, stent.Retry(stent.RetryPolicy{MaxAttempts: failAttempts, InitialDelay: 100 * time.Millisecond}))

	w := &workload{reg: reg}
	w.probe = stent.NewActivity(actProbe, func(_ context.Context, n int) (int, error) { return n, nil }, in)
	w.sequence = stent.NewWorkflow(wfSequence, func(ctx stent.Context, n int) (int, error) {
		sum := 0
		for i, act := range []*stent.Activity[int, int]{txDouble, plainDouble, txDouble, plainDouble} {
			out, err := act.Call(ctx, 10*n+i+1)
			if err != nil {
				return 0, err
			}
			sum += out
		}
		step, err := stent.Step(ctx, "chaos.offset", func(context.Context) (int, error) { return n + 7, nil })
		return sum + step, err
	}, in, chaosRetry)
	w.fanOut = stent.NewWorkflow(wfFanOut, func(ctx stent.Context, n int) (int, error) {
		outs, err := txSquare.Map(ctx, fanOutInputs(n))
		sum := 0
		for _, v := range outs {
			sum += v
		}
		return sum, err
	}, in, chaosRetry)
	w.sleep = stent.NewWorkflow(wfSleep, func(ctx stent.Context, n int) (int, error) {
		step, err := stent.Step(ctx, "chaos.triple", func(context.Context) (int, error) { return 3 * n, nil })
		if err != nil {
			return 0, err
		}
		if err := stent.Sleep(ctx, sleepFor(n)); err != nil {
			return 0, err
		}
		out, err := plainDouble.Call(ctx, n)
		return step + out, err
	}, in, chaosRetry)
	w.signal = stent.NewWorkflow(wfSignal, func(ctx stent.Context, n int) (int, error) {
		out, err := txDouble.Call(ctx, n)
		if err != nil {
			return 0, err
		}
		got, err := stent.WaitSignal[int](ctx, signalName, signalWaitLimit)
		return out + got, err
	}, in, chaosRetry)
	w.cancel = stent.NewWorkflow(wfCancel, func(ctx stent.Context, n int) (int, error) {
		out, err := plainDouble.Call(ctx, n)
		if err != nil {
			return 0, err
		}
		_, err = stent.WaitSignal[int](ctx, neverSignal, time.Hour)
		return out, err
	}, in, chaosRetry)
	w.fail = stent.NewWorkflow(wfFail, func(ctx stent.Context, n int) (int, error) {
		out, err := txDouble.Call(ctx, n)
		if err != nil {
			return 0, err
		}
		if _, err := alwaysFails.Call(ctx, n); err != nil {
			return 0, stent.Permanent(fmt.Errorf("%s: %w", giveUpMessage, err))
		}
		return out, nil
	}, in, chaosRetry)
	return w
}

// execer is a pool or a transaction.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// recordEffect inserts one side-effect row for the running attempt.
func recordEffect(ctx context.Context, db execer, run, kind, name string, n int) error {
	info, ok := stent.AttemptFrom(ctx)
	if !ok {
		return errors.New("chaos: activity run outside an attempt")
	}
	_, err := db.Exec(ctx, `insert into chaos_effects (run, kind, name, task_id, attempt, input, pid)
		values ($1, $2, $3, $4, $5, $6, $7)`, run, kind, name, info.TaskID, info.Attempt, n, os.Getpid())
	if err != nil {
		return fmt.Errorf("chaos: record effect of %s(%d): %w", name, n, err)
	}
	return nil
}

// fanOutInputs are the fan-out workflow's inputs for n.
func fanOutInputs(n int) []int {
	in := make([]int, fanOutWidth)
	for i := range in {
		in[i] = 100*n + i + 1
	}
	return in
}

// sleepFor is the sleep workflow's durable sleep for n: 250ms to 1s.
func sleepFor(n int) time.Duration { return time.Duration(n%4+1) * 250 * time.Millisecond }

// signalPayload is what the dispatcher sends to the signal workflow for n.
func signalPayload(n int) int { return 5 * n }

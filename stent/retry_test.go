package stent_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stent"
)

// intervalDuration converts an interval without months or days, as retry_delay returns.
func intervalDuration(t *testing.T, i pgtype.Interval) time.Duration {
	t.Helper()
	require.True(t, i.Valid)
	require.Zero(t, i.Months)
	require.Zero(t, i.Days)
	return time.Duration(i.Microseconds) * time.Microsecond
}

// retryDelays evaluates stent.retry_delay samples times in one statement.
func retryDelays(t *testing.T, b *testBundle, attempt int, initial time.Duration, factor float64, maxDelay time.Duration, jitter float64, samples int) []time.Duration {
	t.Helper()
	rows, err := b.pool.Query(b.ctx, `select stent.retry_delay($1, make_interval(secs => $2), $3, make_interval(secs => $4), $5)
		from generate_series(1, $6)`, attempt, initial.Seconds(), factor, maxDelay.Seconds(), jitter, samples)
	require.NoError(t, err)
	ivs, err := pgx.CollectRows(rows, pgx.RowTo[pgtype.Interval])
	require.NoError(t, err)
	out := make([]time.Duration, len(ivs))
	for i, iv := range ivs {
		out[i] = intervalDuration(t, iv)
	}
	return out
}

// TestRetryDelay checks stent.retry_delay: exact exponential backoff capped at the maximum
// without jitter, ±jitter bounds with it, and no overflow for huge attempt numbers.
func TestRetryDelay(t *testing.T) {
	t.Parallel()
	b := setup(t)

	t.Run("Exact", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			initial, max time.Duration
			factor       float64
		}{
			{time.Second, 5 * time.Minute, 2},
			{250 * time.Millisecond, time.Hour, 3},
			{1500 * time.Millisecond, 10 * time.Second, 1}, // factor 1: constant delay
		} {
			for n := 1; n <= 10; n++ {
				want := time.Duration(math.Min(float64(tc.initial)*math.Pow(tc.factor, float64(n-1)), float64(tc.max)))
				got := retryDelays(t, b, n, tc.initial, tc.factor, tc.max, 0, 1)[0]
				require.Equal(t, want, got, "attempt %d of %+v", n, tc)
			}
		}
	})

	t.Run("JitterBounds", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			attempt int
			base    time.Duration // the delay before jitter
		}{
			{3, 40 * time.Second}, // 10s·2²
			{20, time.Hour},       // capped: jitter applies after the cap
		} {
			got := retryDelays(t, b, tc.attempt, 10*time.Second, 2, time.Hour, 0.1, 1000)
			lo, hi := tc.base-tc.base/10, tc.base+tc.base/10
			distinct := map[time.Duration]bool{}
			for _, d := range got {
				require.GreaterOrEqual(t, d, lo)
				require.LessOrEqual(t, d, hi)
				distinct[d] = true
			}
			require.Greater(t, len(distinct), 1, "jitter varies the delay")
		}
	})

	t.Run("HugeAttempts", func(t *testing.T) {
		t.Parallel()
		for _, attempt := range []int{64, 65, 1000, 100000, math.MaxInt32} {
			require.Equal(t, 5*time.Minute, retryDelays(t, b, attempt, time.Second, 2, 5*time.Minute, 0, 1)[0], "attempt %d", attempt)
			require.Equal(t, 5*time.Minute, retryDelays(t, b, attempt, time.Second, 1e6, 5*time.Minute, 0, 1)[0], "attempt %d, factor 1e6", attempt)
			for _, d := range retryDelays(t, b, attempt, time.Second, 10, 5*time.Minute, 1, 50) {
				require.GreaterOrEqual(t, d, time.Duration(0))
				require.LessOrEqual(t, d, 10*time.Minute)
			}
		}
	})

	t.Run("BadAttempt", func(t *testing.T) {
		t.Parallel()
		_, err := b.pool.Exec(b.ctx, "select stent.retry_delay(0, '1s', 2, '1m', 0)")
		requireSQLState(t, err, "ST003")
	})
}

// TestFailTaskBackoff: a retryable failure puts the task back at now + the policy's delay on
// the database clock (exactly without jitter, within ±jitter with it); RetryAfter overrides
// the policy; the last attempt fails the task.
func TestFailTaskBackoff(t *testing.T) {
	t.Parallel()

	// failAttempts claims and fails the task until it is failed, returning each retry's
	// delay from the fake clock's now.
	failAttempts := func(t *testing.T, b *testBundle, id int64) []time.Duration {
		var delays []time.Duration
		for {
			tk := b.claimOne(t, "w1")
			require.Equal(t, id, tk.ID)
			res, err := b.store.FailTask(b.ctx, id, tk.LeaseToken, errJSON("error", "boom"), true, -1, "task")
			require.NoError(t, err)
			if res.State == "failed" {
				require.Nil(t, res.RunAt)
				return delays
			}
			require.Equal(t, "pending", res.State)
			requireTime(t, *res.RunAt, b.task(t, id).RunAt, "returned run_at is stored")
			delays = append(delays, res.RunAt.Sub(b.clock.Now()))
			b.clock.Set(*res.RunAt)
		}
	}

	t.Run("Exact", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, id := b.dispatch(t, b.echo("backoff.exact"), "in", stent.WithRetry(stent.RetryPolicy{
			MaxAttempts: 5, InitialDelay: 10 * time.Second, BackoffFactor: 3, MaxDelay: time.Minute, Jitter: stent.NoJitter}))
		require.Equal(t, []time.Duration{10 * time.Second, 30 * time.Second, time.Minute, time.Minute}, failAttempts(t, b, id))
	})

	t.Run("Jitter", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, id := b.dispatch(t, b.echo("backoff.jitter"), "in", stent.WithRetry(stent.RetryPolicy{
			MaxAttempts: 5, InitialDelay: 10 * time.Second, BackoffFactor: 3, MaxDelay: time.Minute, Jitter: 0.2}))
		delays := failAttempts(t, b, id)
		require.Len(t, delays, 4)
		for i, base := range []time.Duration{10 * time.Second, 30 * time.Second, time.Minute, time.Minute} {
			require.GreaterOrEqual(t, delays[i], base*8/10, "retry %d", i+1)
			require.LessOrEqual(t, delays[i], base*12/10, "retry %d", i+1)
		}
	})

	t.Run("RetryAfter", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, id := b.dispatch(t, b.echo("backoff.after"), "in")
		tk := b.claimOne(t, "w1")
		res, err := b.store.FailTask(b.ctx, id, tk.LeaseToken, errJSON("http_429", "slow down"), true, 7*time.Second, "task")
		require.NoError(t, err)
		require.Equal(t, "pending", res.State)
		requireTime(t, b.clock.Now().Add(7*time.Second), *res.RunAt)
	})
}

// TestRetryPolicyValidation: zero fields take the defaults; out-of-range fields are an
// *InvalidArgumentError at dispatch (nothing inserted) and a panic at definition.
func TestRetryPolicyValidation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	act := b.echo("policy.validate")

	_, id := b.dispatch(t, act, "defaults", stent.WithRetry(stent.RetryPolicy{}))
	tk := b.task(t, id)
	require.EqualValues(t, stent.DefaultMaxAttempts, tk.MaxAttempts)
	require.Equal(t, stent.DefaultInitialDelay, intervalDuration(t, tk.RetryInitialDelay))
	require.Equal(t, stent.DefaultBackoffFactor, tk.RetryBackoffFactor)
	require.Equal(t, stent.DefaultMaxDelay, intervalDuration(t, tk.RetryMaxDelay))
	require.Equal(t, stent.DefaultJitter, tk.RetryJitter)

	_, id = b.dispatch(t, act, "no jitter", stent.WithRetry(stent.RetryPolicy{Jitter: stent.NoJitter, RetryOn: []string{"conn_reset"}}))
	require.Zero(t, b.task(t, id).RetryJitter)
	require.Equal(t, []string{"conn_reset"}, b.task(t, id).RetryOn)

	for name, p := range map[string]stent.RetryPolicy{
		"RetryPolicy.MaxAttempts":   {MaxAttempts: -1},
		"RetryPolicy.InitialDelay":  {InitialDelay: -time.Second},
		"RetryPolicy.MaxDelay":      {MaxDelay: -time.Second},
		"RetryPolicy.BackoffFactor": {BackoffFactor: 0.5},
		"RetryPolicy.Jitter":        {Jitter: 1.5},
	} {
		requireInvalidPolicy(t, b, act, name, p)
	}
	// Not-a-number and infinite values are out of range too (JSON cannot even encode them).
	requireInvalidPolicy(t, b, act, "RetryPolicy.BackoffFactor", stent.RetryPolicy{BackoffFactor: math.NaN()})
	requireInvalidPolicy(t, b, act, "RetryPolicy.BackoffFactor", stent.RetryPolicy{BackoffFactor: math.Inf(1)})
	requireInvalidPolicy(t, b, act, "RetryPolicy.Jitter", stent.RetryPolicy{Jitter: math.NaN()})
	require.Equal(t, 2, b.count(t, "select count(*) from stent.executions"), "nothing inserted by invalid dispatches")
}

// requireInvalidPolicy checks that p is refused at dispatch and at definition.
func requireInvalidPolicy(t *testing.T, b *testBundle, act *stent.Activity[string, string], name string, p stent.RetryPolicy) {
	t.Helper()
	_, err := act.Dispatch(b.ctx, b.client, "bad", stent.WithRetry(p))
	var ia *stent.InvalidArgumentError
	require.ErrorAs(t, err, &ia, "%s: %+v", name, p)
	require.Equal(t, name, ia.Arg)
	require.Panics(t, func() {
		stent.NewActivity("policy.bad", func(context.Context, string) (string, error) { return "", nil },
			stent.InRegistry(stent.NewRegistry()), stent.Retry(p))
	}, name)
}

// requireSQLState checks that err is a PostgreSQL error with the given SQLSTATE.
func requireSQLState(t *testing.T, err error, code string) {
	t.Helper()
	var pgErr interface{ SQLState() string }
	require.Error(t, err)
	require.True(t, errors.As(err, &pgErr), "not a PostgreSQL error: %v", err)
	require.Equal(t, code, pgErr.SQLState(), err.Error())
}

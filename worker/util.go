package worker

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/rs/zerolog"

	"github.com/stentdev/stent/internal/store"
	"github.com/stentdev/stent/stent"
)

type (
	zerologLogger = zerolog.Logger
	storeLease    = store.Lease
)

// withRetries runs fn up to three times with a per-try timeout, retrying errors that may be
// transient (connection loss, timeouts), but not domain errors such as a lost lease. It does
// not inherit cancellation from ctx, so shutdown never drops a write in flight.
func withRetries(ctx context.Context, timeout time.Duration, fn func(context.Context) error) error {
	ctx = context.WithoutCancel(ctx)
	var err error
	for try := 1; try <= 3; try++ {
		cctx, cancel := context.WithTimeout(ctx, timeout)
		err = fn(cctx)
		cancel()
		if err == nil || !transient(err) {
			return err
		}
		time.Sleep(backoff(try, 2*time.Second))
	}
	return err
}

func transient(err error) bool {
	if errors.Is(err, stent.ErrLeaseLost) || errors.Is(err, stent.ErrNotFound) || errors.Is(err, stent.ErrWrongState) ||
		errors.Is(err, stent.ErrPayloadTooLarge) {
		return false
	}
	var ia *stent.InvalidArgumentError
	var sia *store.InvalidArgumentError
	if errors.As(err, &ia) || errors.As(err, &sia) {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Connection exceptions, shutdown, serialization/deadlock: worth another try.
		c := pgErr.Code
		return len(c) == 5 && (c[:2] == "08" || c[:2] == "57" || c == "40001" || c == "40P01")
	}
	return true
}

// backoff is an exponential delay from 50ms, capped, with ±20% jitter.
func backoff(try int, maxDelay time.Duration) time.Duration {
	d := 50 * time.Millisecond << min(try-1, 16)
	d = min(d, maxDelay)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// functionDefaults encodes the definitions' settings for stent.register_functions.
func functionDefaults(reg *stent.Registry, names []string) ([]byte, error) {
	type def struct {
		Name               string   `json:"name"`
		Kind               string   `json:"kind"`
		Queue              string   `json:"queue"`
		Priority           int      `json:"priority"`
		Tags               []string `json:"tags"`
		MaxAttempts        int      `json:"max_attempts"`
		RetryInitialMS     float64  `json:"retry_initial_delay_ms"`
		RetryBackoffFactor float64  `json:"retry_backoff_factor"`
		RetryMaxMS         float64  `json:"retry_max_delay_ms"`
		RetryJitter        float64  `json:"retry_jitter"`
		RetryOn            []string `json:"retry_on"`
		TimeoutMS          *float64 `json:"timeout_ms"`
		KeyPath            []string `json:"key_path,omitempty"`
		MaxConcurrent      *int     `json:"max_concurrent,omitempty"`
		KeyMaxConcurrent   *int     `json:"key_max_concurrent,omitempty"`
		Rate               *int     `json:"rate,omitempty"`
		RatePeriodMS       float64  `json:"rate_period_ms,omitempty"`
		KeyRate            *int     `json:"key_rate,omitempty"`
		KeyRatePeriodMS    float64  `json:"key_rate_period_ms,omitempty"`
	}
	positive := func(n int) *int {
		if n <= 0 {
			return nil
		}
		return &n
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	defs := make([]def, 0, len(names))
	for _, n := range names {
		d, ok := reg.Lookup(n)
		if !ok {
			return nil, &stent.UnregisteredError{Name: n, Registered: reg.Names()}
		}
		o := d.Options()
		x := def{
			Name: n, Kind: d.Kind(), Queue: o.Queue, Priority: o.Priority, Tags: o.Tags,
			MaxAttempts: o.Retry.MaxAttempts, RetryInitialMS: ms(o.Retry.InitialDelay),
			RetryBackoffFactor: o.Retry.BackoffFactor, RetryMaxMS: ms(o.Retry.MaxDelay),
			RetryJitter: o.Retry.Jitter, RetryOn: o.Retry.RetryOn, KeyPath: o.KeyPath,
			MaxConcurrent: positive(o.MaxConcurrent), KeyMaxConcurrent: positive(o.MaxConcurrentPerKey),
			Rate: positive(o.Rate.Count), RatePeriodMS: ms(o.Rate.Per),
			KeyRate: positive(o.RatePerKey.Count), KeyRatePeriodMS: ms(o.RatePerKey.Per),
		}
		if o.Timeout > 0 {
			t := ms(o.Timeout)
			x.TimeoutMS = &t
		}
		defs = append(defs, x)
	}
	return json.Marshal(defs)
}

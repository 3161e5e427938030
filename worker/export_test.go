package worker

import "time"

// WithClockOffset returns cfg with the worker's own clock offset by d: a test hook (it exists
// only in this package's test binary) for showing that a worker whose clock is wrong behaves
// like the others.
func WithClockOffset(cfg Config, d time.Duration) Config {
	cfg.now = func() time.Time { return time.Now().Add(d) }
	return cfg
}

package stent

import (
	"fmt"
	"math"
	"time"
)

// RetryPolicy says how often and when a failed attempt runs again. It is stored on each task
// and the delay is computed by the database: min(InitialDelay·BackoffFactor^(attempt−1),
// MaxDelay), scaled by a random factor in [1−Jitter, 1+Jitter]. Zero fields take the
// defaults below.
type RetryPolicy struct {
	// MaxAttempts is the total number of attempts, the first included. Default 3; 1 means
	// no retry.
	MaxAttempts int
	// InitialDelay is the wait after the first failure. Default 1s.
	InitialDelay time.Duration
	// BackoffFactor multiplies the delay after each further failure. Default 2; must be >= 1.
	BackoffFactor float64
	// MaxDelay caps the delay before jitter. Default 5m.
	MaxDelay time.Duration
	// Jitter is the ± fraction applied to the delay, in [0, 1]. Default 0.1; use NoJitter
	// for exact delays.
	Jitter float64
	// RetryOn, when not empty, lists the error kinds (see ErrorKindOf, WithKind) that are
	// retried; any other error fails the task at once.
	RetryOn []string
}

// NoJitter, as RetryPolicy.Jitter, disables jitter (a zero Jitter means the default).
const NoJitter = -1.0

// Default retry settings.
const (
	DefaultMaxAttempts   = 3
	DefaultInitialDelay  = time.Second
	DefaultBackoffFactor = 2.0
	DefaultMaxDelay      = 5 * time.Minute
	DefaultJitter        = 0.1
)

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts == 0 {
		p.MaxAttempts = DefaultMaxAttempts
	}
	if p.InitialDelay == 0 {
		p.InitialDelay = DefaultInitialDelay
	}
	if p.BackoffFactor == 0 {
		p.BackoffFactor = DefaultBackoffFactor
	}
	if p.MaxDelay == 0 {
		p.MaxDelay = DefaultMaxDelay
	}
	switch p.Jitter {
	case 0:
		p.Jitter = DefaultJitter
	case NoJitter:
		p.Jitter = 0
	}
	return p
}

func (p RetryPolicy) validate() error {
	switch {
	case p.MaxAttempts < 1:
		return &InvalidArgumentError{Arg: "RetryPolicy.MaxAttempts", Reason: fmt.Sprintf("must be at least 1, got %d", p.MaxAttempts)}
	case p.InitialDelay < 0:
		return &InvalidArgumentError{Arg: "RetryPolicy.InitialDelay", Reason: "must not be negative"}
	case p.MaxDelay < 0:
		return &InvalidArgumentError{Arg: "RetryPolicy.MaxDelay", Reason: "must not be negative"}
	case !(p.BackoffFactor >= 1) || math.IsInf(p.BackoffFactor, 1): // also rejects NaN
		return &InvalidArgumentError{Arg: "RetryPolicy.BackoffFactor", Reason: fmt.Sprintf("must be a finite number of at least 1, got %g", p.BackoffFactor)}
	case !(p.Jitter >= 0 && p.Jitter <= 1): // also rejects NaN
		return &InvalidArgumentError{Arg: "RetryPolicy.Jitter", Reason: fmt.Sprintf("must be within [0, 1], got %g", p.Jitter)}
	}
	return nil
}

package notifier

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
)

const (
	// DefaultPingInterval is the default Config.PingInterval.
	DefaultPingInterval = 5 * time.Second
	// DefaultMaxBackoff is the default Config.MaxBackoff.
	DefaultMaxBackoff = 30 * time.Second
)

// Config configures a Notifier. The zero value is valid: every field has a
// default.
type Config struct {
	// Logger receives connection events (connect, reconnect, errors). The zero
	// value is a disabled logger, like zerolog.Nop().
	Logger zerolog.Logger

	// PingInterval is how long the listen connection may stay idle (no
	// notification, no command) before the notifier pings it, so that a dead
	// connection (half-open TCP, crashed server) is detected even when no
	// notification arrives. Zero or negative means DefaultPingInterval (5s).
	PingInterval time.Duration

	// MaxBackoff caps the reconnect backoff, which grows exponentially (with
	// jitter) from 100ms. Zero or negative means DefaultMaxBackoff (30s).
	MaxBackoff time.Duration
}

// withDefaults returns cfg with its zero fields replaced by defaults.
func (cfg Config) withDefaults() Config {
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = DefaultPingInterval
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	return cfg
}

// Notifier owns one dedicated LISTEN connection and multiplexes the
// notifications it receives to any number of Subscriptions.
//
// Create it with New, then call Start; Subscribe may be called before or after
// Start, and subscriptions survive Stop and a later Start. All methods are safe
// for concurrent use.
type Notifier struct {
	pool   *pgxpool.Pool
	cfg    Config
	logger zerolog.Logger

	// lifeMu serializes Start and Stop.
	lifeMu sync.Mutex
	runCtx context.Context    // context of the running loop; nil when stopped
	cancel context.CancelFunc // cancels the running loop; nil when stopped
	done   chan struct{}      // closed when the running loop returns; nil when stopped

	// mu guards the subscription state, shared by subscribers and the loop.
	mu sync.Mutex
	// subs maps each channel to its subscriptions: the set of channels the
	// connection should be listening on.
	subs map[string]map[*Subscription]struct{}
	// all holds every live subscription (for Reconnect broadcasts and Ready).
	all map[*Subscription]struct{}
	// active is the set of channels LISTENed on the current connection.
	active map[string]struct{}
	// dirty is set when subs changed in a way that needs LISTEN or UNLISTEN.
	dirty bool
	// waitCancel interrupts the loop's wait for notifications; nil when the
	// loop is not waiting.
	waitCancel context.CancelFunc

	pid           atomic.Uint32
	dropped       atomic.Uint64
	connected     chan struct{}
	connectedOnce sync.Once
}

// New returns a Notifier that takes its listen connection from pool. It does
// not connect: call Start.
func New(pool *pgxpool.Pool, cfg Config) *Notifier {
	cfg = cfg.withDefaults()
	return &Notifier{
		pool:      pool,
		cfg:       cfg,
		logger:    cfg.Logger.With().Str("component", "notifier").Logger(),
		subs:      make(map[string]map[*Subscription]struct{}),
		all:       make(map[*Subscription]struct{}),
		active:    make(map[string]struct{}),
		connected: make(chan struct{}),
	}
}

// Start starts the background loop that connects, listens and delivers
// notifications. It returns immediately, without waiting for the connection;
// use Connected or Subscription.Ready to wait for it.
//
// The loop runs until Stop is called or ctx is done. Calling Start on a
// running Notifier does nothing; calling it after Stop, or after the context
// of the previous Start ended, starts a new loop (in the latter case once the
// old one has closed its connection). It returns an error only if ctx is
// already done.
func (n *Notifier) Start(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("notifier: start: %w", err)
	}

	n.lifeMu.Lock()
	defer n.lifeMu.Unlock()

	if n.done != nil {
		if n.runCtx.Err() == nil {
			return nil // already running
		}
		// The previous loop's context ended: let it finish, then replace it.
		<-n.done
		n.cancel()
	}

	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	n.runCtx, n.cancel, n.done = runCtx, cancel, done
	go func() {
		defer close(done)
		n.run(runCtx)
	}()
	return nil
}

// Stop stops the background loop, waits for it to return and closes the
// listen connection. It is idempotent and safe to call before Start.
// Subscriptions stay registered (and their channels open): they resume
// receiving after the next Start.
func (n *Notifier) Stop() {
	n.lifeMu.Lock()
	defer n.lifeMu.Unlock()

	if n.done == nil {
		return
	}
	n.cancel()
	<-n.done
	n.runCtx, n.cancel, n.done = nil, nil, nil
}

// BackendPID returns the PostgreSQL backend process id of the current listen
// connection, or 0 when the notifier is not connected.
func (n *Notifier) BackendPID() uint32 {
	return n.pid.Load()
}

// Connected returns a channel that is closed once the first connection is
// established and listening on every channel subscribed at that time. It
// stays closed across reconnects, Stop and Start.
func (n *Notifier) Connected() <-chan struct{} {
	return n.connected
}

// Dropped returns the total number of notifications that were discarded
// because a subscriber's buffer was full (see Subscription). It only grows;
// export it as a counter.
func (n *Notifier) Dropped() uint64 {
	return n.dropped.Load()
}

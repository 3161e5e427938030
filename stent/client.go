package stent

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"github.com/stentdev/stent/internal/notifier"
	"github.com/stentdev/stent/internal/store"
	"github.com/stentdev/stent/internal/telemetry"
)

// Config configures a Client. Zero fields take the documented defaults.
type Config struct {
	// Logger receives Stent's structured logs. Default: no logging. Events carry
	// execution_id, task_id, function, attempt and, when traced, trace_id. Payloads (inputs,
	// outputs) are never logged unless LogPayloads is set.
	Logger *zerolog.Logger
	// LogPayloads adds inputs and outputs to the debug-level dispatch and completion events.
	// Default false: payloads may hold personal data.
	LogPayloads bool
	// Metrics receives operational events (claims, attempts, retries, dead letters, ...) of
	// this client and of the workers built on it. Default: NopMetrics. See package stentprom.
	Metrics Metrics
	// TracerProvider creates the spans of dispatches and attempts. Default:
	// otel.GetTracerProvider(), which records nothing unless the application set one.
	TracerProvider trace.TracerProvider
	// Registry holds the definitions this client dispatches and its workers run.
	// Default: DefaultRegistry.
	Registry *Registry
	// Codec encodes inputs and outputs. Default: JSONCodec.
	Codec Codec
	// MaxPayloadBytes limits encoded inputs, outputs and errors. Default and maximum: 1 MiB.
	MaxPayloadBytes int
	// WaitPollInterval bounds how long Wait relies on notifications before it checks the
	// database itself. Default 1s.
	WaitPollInterval time.Duration
}

// DefaultMaxPayloadBytes is the default (and maximum) payload limit: 1 MiB.
const DefaultMaxPayloadBytes = 1 << 20

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		nop := zerolog.Nop()
		c.Logger = &nop
	}
	if c.Registry == nil {
		c.Registry = DefaultRegistry
	}
	if c.Metrics == nil {
		c.Metrics = NopMetrics{}
	}
	if c.TracerProvider == nil {
		c.TracerProvider = otel.GetTracerProvider()
	}
	if c.Codec == nil {
		c.Codec = JSONCodec{}
	}
	if c.MaxPayloadBytes == 0 {
		c.MaxPayloadBytes = DefaultMaxPayloadBytes
	}
	if c.WaitPollInterval == 0 {
		c.WaitPollInterval = time.Second
	}
	return c
}

func (c Config) validate() error {
	if c.MaxPayloadBytes < 1 || c.MaxPayloadBytes > DefaultMaxPayloadBytes {
		return &InvalidArgumentError{Arg: "Config.MaxPayloadBytes", Reason: fmt.Sprintf("must be within [1, %d], got %d", DefaultMaxPayloadBytes, c.MaxPayloadBytes)}
	}
	if c.WaitPollInterval < time.Millisecond {
		return &InvalidArgumentError{Arg: "Config.WaitPollInterval", Reason: "must be at least 1ms"}
	}
	return nil
}

// Client dispatches, inspects, waits for and steers executions on the user's pool. It is
// safe for concurrent use; create one per pool and Close it when done.
type Client struct {
	pool     *pgxpool.Pool
	cfg      Config
	store    *store.Store
	registry *Registry
	codec    Codec
	logger   *zerolog.Logger
	metrics  Metrics
	tracer   trace.Tracer

	mu      sync.Mutex
	closed  bool
	waiters *waitHub
}

// NewClient returns a client on pool. It does not check the schema; workers do (see
// CheckSchema).
func NewClient(pool *pgxpool.Pool, cfg Config) (*Client, error) {
	if pool == nil {
		return nil, &InvalidArgumentError{Arg: "pool", Reason: "must not be nil"}
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Client{
		pool:     pool,
		cfg:      cfg,
		store:    store.New(pool),
		registry: cfg.Registry,
		codec:    cfg.Codec,
		logger:   cfg.Logger,
		metrics:  cfg.Metrics,
		tracer:   cfg.TracerProvider.Tracer(telemetry.TracerName),
	}, nil
}

// Pool returns the client's pool.
func (c *Client) Pool() *pgxpool.Pool { return c.pool }

// Config returns the client's configuration with defaults applied.
func (c *Client) Config() Config { return c.cfg }

// Tracer returns the tracer of the client's TracerProvider (workers start their attempt
// spans with it).
func (c *Client) Tracer() trace.Tracer { return c.tracer }

// Registry returns the client's registry.
func (c *Client) Registry() *Registry { return c.registry }

// Close stops the client's notification listener. Waits in progress return ErrClosed. It
// does not close the pool.
func (c *Client) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.closed = true
	if c.waiters != nil {
		c.waiters.stop()
	}
}

// hub returns the shared notification hub for Wait, starting it on first use.
func (c *Client) hub() (*waitHub, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	if c.waiters == nil {
		n := notifier.New(c.pool, notifier.Config{Logger: *c.logger})
		h, err := startWaitHub(n)
		if err != nil {
			return nil, errors.Join(ErrClosed, err)
		}
		c.waiters = h
	}
	return c.waiters, nil
}

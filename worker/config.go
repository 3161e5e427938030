package worker

import (
	"fmt"
	"os"
	"time"

	"github.com/google/uuid"

	"github.com/stentdev/stent/stent"
)

// Config configures a Worker. Zero fields take the documented defaults; New validates it once.
type Config struct {
	// ID names this worker process in leases and in stent.workers. Default:
	// "<hostname>-<pid>-<random>".
	ID string
	// Queues the worker claims from. Default: ["default"].
	Queues []string
	// Tags restrict what the worker claims: a tagged worker takes untagged tasks and tasks
	// sharing at least one of its tags; an untagged worker (the default) takes all.
	Tags []string
	// Functions limits the worker to these registered names. Default: every definition in
	// the client's registry. The worker never claims a function it cannot run.
	Functions []string
	// Concurrency is the number of attempts run at once (slots). Default 100.
	Concurrency int
	// LeaseDuration is how long a claim is valid without a heartbeat; a task whose worker
	// stops heartbeating is rescued this long after its last renewal. Default 30s.
	LeaseDuration time.Duration
	// HeartbeatInterval is the period of the worker's single lease-renewal statement.
	// Default LeaseDuration/3; must be less than LeaseDuration/2.
	HeartbeatInterval time.Duration
	// PollInterval is the longest the worker goes without checking for work when no
	// notification arrives (the fallback for lost notifications). After finding work it
	// polls sooner, backing off from PollInterval/20 to PollInterval. Default 1s.
	PollInterval time.Duration
	// PollOnly disables LISTEN/NOTIFY (for poolers such as PgBouncer in transaction mode).
	PollOnly bool
	// ShutdownTimeout is how long a stopping worker lets running attempts finish before it
	// cancels them and releases their tasks (without burning the attempt). Default 30s.
	ShutdownTimeout time.Duration
	// MaintenanceInterval is how often the elected maintenance leader rescues expired
	// leases. Default 5s.
	MaintenanceInterval time.Duration
	// Retention is how long finished executions are kept before the leader purges them;
	// -1 disables purging. Executions with dead letters are kept. Default 7 days.
	Retention time.Duration
	// PurgeInterval is how often the leader purges. Default 1h.
	PurgeInterval time.Duration
	// CompletionBatchSize caps the completions recorded per statement. Default 1000.
	CompletionBatchSize int
	// DBTimeout bounds each of the worker's own database calls. Default 10s.
	DBTimeout time.Duration
	// ResidentWait is how long a workflow waiting on a child (Call, Future.Get) stays in
	// memory, checking the child, before it suspends; during it the workflow lends its slot
	// to other work. Long waits (sleeps, signals, fan-outs) always suspend at once. Default
	// 200ms; -1 suspends at once.
	ResidentWait time.Duration
	// DisableEagerStart turns eager start off. With it on (the default), an execution this
	// worker's client dispatches with Dispatch (not DispatchTx, not a batch, not delayed) is
	// leased to this worker by the dispatch statement itself when the worker has a free slot
	// and the task is next in its queue, and starts in memory without waiting for a
	// notification and a claim. The database decides as a claim would (pauses, limits,
	// back-offs, queue order); anything it does not lease stays pending for every worker.
	DisableEagerStart bool

	// now is the worker's own clock, for tests only (export_test.go offsets it to show that
	// a skewed worker behaves like the others). The worker reads it solely to measure
	// elapsed time (trust windows, purge intervals), through the monotonic reading that
	// time.Now carries and Add keeps; every decision about leases, schedules, retries and
	// expiry is made by the database clock. Default time.Now.
	now func() time.Time
}

// Defaults.
const (
	DefaultConcurrency         = 100
	DefaultLeaseDuration       = 30 * time.Second
	DefaultPollInterval        = time.Second
	DefaultShutdownTimeout     = 30 * time.Second
	DefaultMaintenanceInterval = 5 * time.Second
	DefaultRetention           = 7 * 24 * time.Hour
	DefaultPurgeInterval       = time.Hour
	DefaultCompletionBatchSize = 1000
	DefaultDBTimeout           = 10 * time.Second
	DefaultResidentWait        = 200 * time.Millisecond
)

func (c Config) withDefaults(reg *stent.Registry) Config {
	if c.ID == "" {
		host, _ := os.Hostname()
		c.ID = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), uuid.NewString()[:8])
	}
	if len(c.Queues) == 0 {
		c.Queues = []string{stent.DefaultQueue}
	}
	if len(c.Functions) == 0 {
		c.Functions = reg.Names()
	}
	if c.Tags == nil {
		c.Tags = []string{}
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.LeaseDuration == 0 {
		c.LeaseDuration = DefaultLeaseDuration
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = c.LeaseDuration / 3
	}
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	if c.MaintenanceInterval == 0 {
		c.MaintenanceInterval = DefaultMaintenanceInterval
	}
	if c.Retention == 0 {
		c.Retention = DefaultRetention
	}
	if c.PurgeInterval == 0 {
		c.PurgeInterval = DefaultPurgeInterval
	}
	if c.CompletionBatchSize == 0 {
		c.CompletionBatchSize = DefaultCompletionBatchSize
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.DBTimeout == 0 {
		c.DBTimeout = DefaultDBTimeout
	}
	switch c.ResidentWait {
	case 0:
		c.ResidentWait = DefaultResidentWait
	case -1:
		c.ResidentWait = 0
	}
	return c
}

func (c Config) validate(reg *stent.Registry) error {
	bad := func(field, reason string) error {
		return &stent.InvalidArgumentError{Arg: "worker.Config." + field, Reason: reason}
	}
	switch {
	case c.Concurrency < 1 || c.Concurrency > 10000:
		return bad("Concurrency", fmt.Sprintf("must be within [1, 10000], got %d", c.Concurrency))
	case c.LeaseDuration < time.Second:
		return bad("LeaseDuration", "must be at least 1s")
	case c.HeartbeatInterval <= 0 || c.HeartbeatInterval >= c.LeaseDuration/2:
		return bad("HeartbeatInterval", "must be positive and less than LeaseDuration/2")
	case c.PollInterval < time.Millisecond:
		return bad("PollInterval", "must be at least 1ms")
	case c.ShutdownTimeout < 0:
		return bad("ShutdownTimeout", "must not be negative")
	case c.MaintenanceInterval < time.Millisecond:
		return bad("MaintenanceInterval", "must be at least 1ms")
	case c.Retention < 0 && c.Retention != -1:
		return bad("Retention", "must be positive, or -1 to disable")
	case c.ResidentWait < 0 || c.ResidentWait > c.LeaseDuration/2:
		return bad("ResidentWait", "must be -1, or between 0 and LeaseDuration/2")
	case c.CompletionBatchSize < 1:
		return bad("CompletionBatchSize", "must be at least 1")
	case len(c.Functions) == 0:
		return bad("Functions", "nothing is registered: define activities before starting a worker")
	}
	for _, q := range c.Queues {
		if err := stent.ValidateQueue(q); err != nil {
			return err
		}
	}
	for _, f := range c.Functions {
		if _, ok := reg.Lookup(f); !ok {
			return &stent.UnregisteredError{Name: f, Registered: reg.Names()}
		}
	}
	return nil
}

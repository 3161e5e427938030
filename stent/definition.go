package stent

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Kinds of definitions.
const (
	KindActivity = "activity"
	KindWorkflow = "workflow"
)

// FunctionOptions are a definition's settings; each dispatch may override queue, priority,
// tags and retry policy.
type FunctionOptions struct {
	Queue    string      // default "default"
	Priority int         // higher runs first; default 0; within [-1000, 1000]
	Tags     []string    // routing tags (see worker.Config.Tags)
	Retry    RetryPolicy // see RetryPolicy for defaults
	Timeout  time.Duration

	// Flow control, enforced by the database when tasks are claimed (0: no limit).
	MaxConcurrent       int  // running attempts cluster-wide
	MaxConcurrentPerKey int  // running attempts per concurrency key
	Rate                Rate // starts per period, function-wide
	RatePerKey          Rate // starts per period, per concurrency key
	// KeyPath locates the concurrency key in the JSON input (for example ["tenant_id"]);
	// WithConcurrencyKey sets it per dispatch instead.
	KeyPath []string
	// RetryAfterScope says who waits when an attempt returns RetryAfter: the task alone
	// (ScopeTask, the default), every task of the function, or of the task's key.
	RetryAfterScope Scope

	// Cached, with CacheTTL (0: no expiry), memoizes the results of workflow calls of the
	// activity across executions by name, Version and input (see Cache).
	Cached   bool
	CacheTTL time.Duration
	// Version is part of the cache key: change it when the function's results change.
	Version string
}

// Rate allows at most Count starts in any window of length Per (a sliding window on the
// database clock).
type Rate struct {
	Count int
	Per   time.Duration
}

// Scope of a RetryAfter wait.
type Scope string

// Scopes of a RetryAfter wait.
const (
	ScopeTask     Scope = "task"
	ScopeFunction Scope = "function"
	ScopeKey      Scope = "key"
)

// DefaultQueue is the queue of definitions and dispatches that name none.
const DefaultQueue = "default"

// Option configures a definition (NewActivity).
type Option func(*defConfig)

type defConfig struct {
	opts     FunctionOptions
	registry *Registry
}

// Queue sets the definition's queue.
func Queue(name string) Option { return func(c *defConfig) { c.opts.Queue = name } }

// Priority sets the definition's priority (higher first).
func Priority(p int) Option { return func(c *defConfig) { c.opts.Priority = p } }

// Tags sets the definition's routing tags.
func Tags(tags ...string) Option { return func(c *defConfig) { c.opts.Tags = tags } }

// Retry sets the definition's retry policy.
func Retry(p RetryPolicy) Option { return func(c *defConfig) { c.opts.Retry = p } }

// Timeout bounds each attempt: its context is cancelled after d and the attempt fails with
// kind "timeout" (an ordinary, retryable attempt failure).
func Timeout(d time.Duration) Option { return func(c *defConfig) { c.opts.Timeout = d } }

// MaxConcurrent allows at most n running attempts of the function across every worker. The
// limit is strict: claims of a limited function are serialized in the database.
func MaxConcurrent(n int) Option { return func(c *defConfig) { c.opts.MaxConcurrent = n } }

// MaxConcurrentPerKey allows at most n running attempts per concurrency key (see KeyField),
// so that one tenant cannot take every slot.
func MaxConcurrentPerKey(n int) Option { return func(c *defConfig) { c.opts.MaxConcurrentPerKey = n } }

// RateLimit allows at most n starts of the function in any window of length per.
func RateLimit(n int, per time.Duration) Option {
	return func(c *defConfig) { c.opts.Rate = Rate{Count: n, Per: per} }
}

// RateLimitPerKey allows at most n starts per concurrency key in any window of length per.
func RateLimitPerKey(n int, per time.Duration) Option {
	return func(c *defConfig) { c.opts.RatePerKey = Rate{Count: n, Per: per} }
}

// KeyField derives the concurrency key from the input: the JSON value at path (field names,
// or array indexes as decimal strings), for example KeyField("customer", "id"). It applies to
// SQL dispatches too.
func KeyField(path ...string) Option { return func(c *defConfig) { c.opts.KeyPath = path } }

// RetryAfterScope makes a RetryAfter returned by the function delay every task of the
// function (ScopeFunction) or of the task's concurrency key (ScopeKey), not only the task.
func RetryAfterScope(s Scope) Option { return func(c *defConfig) { c.opts.RetryAfterScope = s } }

// Cache memoizes the activity's results across executions: a workflow call (Call, Map, Go)
// with the same name, Version and input returns the cached result without running the
// activity — zero values are hits — for ttl (0: until purged). Concurrent identical calls run
// the activity once and share its result (single flight). Failures are not cached.
func Cache(ttl time.Duration) Option {
	return func(c *defConfig) { c.opts.Cached, c.opts.CacheTTL = true, ttl }
}

// Version sets the definition's version, part of its cache key.
func Version(v string) Option { return func(c *defConfig) { c.opts.Version = v } }

// InRegistry registers the definition in r instead of DefaultRegistry.
func InRegistry(r *Registry) Option { return func(c *defConfig) { c.registry = r } }

// Invocation is what a worker passes to Definition.Invoke for one attempt.
type Invocation struct {
	Input           []byte        // the stored JSON input
	Codec           Codec         // decodes the input and encodes the output
	Tx              pgx.Tx        // the attempt's transaction, for transactional definitions
	MaxPayloadBytes int           // limit for the encoded output
	Pool            *pgxpool.Pool // where workflows load and record their checkpoints
	TaskID          int64         // the attempt's task
	Token           int64         // the attempt's fencing token
	// ResidentWait is how long a workflow waiting on a child stays in memory (checking the
	// child) before it suspends; 0 suspends at once.
	ResidentWait time.Duration
	// OnWait, if set, is told when the workflow starts (true) and stops (false) a resident
	// wait, so the worker can lend its slot meanwhile.
	OnWait func(waiting bool)
}

// Definition is an activity or workflow known to a Registry. Workers run definitions through
// Invoke; users call the typed methods of Activity instead.
type Definition interface {
	Name() string
	Kind() string
	Options() FunctionOptions
	// Transactional reports whether Invoke needs Invocation.Tx: the function's writes and the
	// attempt's completion then commit together.
	Transactional() bool
	// Invoke decodes the input, runs the function once and returns its encoded output.
	Invoke(ctx context.Context, inv Invocation) ([]byte, error)
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.:/\-]*$`)

// ValidateName checks a function name or tag: 1–200 characters of letters, digits and
// _ . : / - (not starting with punctuation other than _).
func ValidateName(what, name string) error {
	return validateIdent(what, name, 200)
}

// ValidateQueue checks a queue name: like ValidateName, at most 128 characters.
func ValidateQueue(name string) error {
	return validateIdent("queue", name, 128)
}

func validateIdent(what, name string, maxLen int) error {
	if len(name) == 0 || len(name) > maxLen || !nameRE.MatchString(name) {
		return &InvalidArgumentError{Arg: what, Reason: fmt.Sprintf("%q must be 1-%d characters of letters, digits and _ . : / -", name, maxLen)}
	}
	return nil
}

func validateTags(tags []string) error {
	for _, t := range tags {
		if err := ValidateName("tag", t); err != nil {
			return err
		}
	}
	return nil
}

func (o FunctionOptions) withDefaults() FunctionOptions {
	if o.Queue == "" {
		o.Queue = DefaultQueue
	}
	if o.RetryAfterScope == "" {
		o.RetryAfterScope = ScopeTask
	}
	o.Retry = o.Retry.withDefaults()
	return o
}

func (o FunctionOptions) validate() error {
	if err := ValidateQueue(o.Queue); err != nil {
		return err
	}
	if o.Priority < -1000 || o.Priority > 1000 {
		return &InvalidArgumentError{Arg: "priority", Reason: fmt.Sprintf("must be within [-1000, 1000], got %d", o.Priority)}
	}
	if o.Timeout < 0 {
		return &InvalidArgumentError{Arg: "timeout", Reason: "must not be negative"}
	}
	if err := validateTags(o.Tags); err != nil {
		return err
	}
	if o.CacheTTL < 0 {
		return &InvalidArgumentError{Arg: "cache ttl", Reason: "must not be negative"}
	}
	if o.MaxConcurrent < 0 || o.MaxConcurrentPerKey < 0 {
		return &InvalidArgumentError{Arg: "max concurrent", Reason: "must not be negative"}
	}
	for _, r := range []Rate{o.Rate, o.RatePerKey} {
		if r.Count < 0 || r.Per < 0 || (r.Count > 0) != (r.Per > 0) {
			return &InvalidArgumentError{Arg: "rate limit", Reason: fmt.Sprintf("needs a positive count and period, got %d per %s", r.Count, r.Per)}
		}
	}
	switch o.RetryAfterScope {
	case ScopeTask, ScopeFunction, ScopeKey:
	default:
		return &InvalidArgumentError{Arg: "retry-after scope", Reason: fmt.Sprintf("unknown scope %q", o.RetryAfterScope)}
	}
	return o.Retry.validate()
}

func buildDef(name string, opts []Option) defConfig {
	c := defConfig{registry: DefaultRegistry}
	for _, o := range opts {
		o(&c)
	}
	c.opts = c.opts.withDefaults()
	if err := ValidateName("function name", name); err != nil {
		panic(err)
	}
	if err := c.opts.validate(); err != nil {
		panic(fmt.Sprintf("stent: definition %q: %v", name, err))
	}
	return c
}

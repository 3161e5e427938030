package stent

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/stentdev/stent/internal/store"
	"github.com/stentdev/stent/internal/telemetry"
)

// DispatchOption adjusts one dispatch.
type DispatchOption func(*dispatchOptions)

type dispatchOptions struct {
	idempotencyKey string
	delay          time.Duration
	runAt          time.Time
	priority       *int
	queue          string
	tags           []string
	hasTags        bool
	retry          *RetryPolicy
	concurrencyKey string
	deadline       time.Time
	maxDuration    time.Duration
	err            error
}

// WithDeadline ends the execution as timed_out if it has not finished by t (database clock);
// its unfinished tasks are cancelled and waiting for it returns ErrTimedOut.
func WithDeadline(t time.Time) DispatchOption {
	return func(o *dispatchOptions) {
		if t.IsZero() {
			o.err = &InvalidArgumentError{Arg: "deadline", Reason: "must not be the zero time"}
		}
		o.deadline = t
	}
}

// WithMaxDuration is WithDeadline measured from the execution's scheduled start.
func WithMaxDuration(d time.Duration) DispatchOption {
	return func(o *dispatchOptions) {
		if d <= 0 {
			o.err = &InvalidArgumentError{Arg: "max duration", Reason: fmt.Sprintf("must be positive, got %s", d)}
		}
		o.maxDuration = d
	}
}

// WithConcurrencyKey sets the key that per-key limits and back-offs apply to (overriding the
// definition's KeyField).
func WithConcurrencyKey(key string) DispatchOption {
	return func(o *dispatchOptions) {
		if err := validateKey("concurrency key", key, 256); err != nil {
			o.err = err
		}
		o.concurrencyKey = key
	}
}

// WithIdempotencyKey makes the dispatch create at most one execution per key: a later (or
// concurrent) dispatch with the same key returns the existing execution's id. The key is
// freed only when the execution is purged.
func WithIdempotencyKey(key string) DispatchOption {
	return func(o *dispatchOptions) {
		if err := validateKey("idempotency key", key, 512); err != nil {
			o.err = err
		}
		o.idempotencyKey = key
	}
}

// WithDelay starts the execution no sooner than d after dispatch (database clock).
func WithDelay(d time.Duration) DispatchOption {
	return func(o *dispatchOptions) {
		if d < 0 {
			o.err = &InvalidArgumentError{Arg: "delay", Reason: fmt.Sprintf("must not be negative, got %s", d)}
		}
		o.delay = d
	}
}

// WithRunAt starts the execution no sooner than t.
func WithRunAt(t time.Time) DispatchOption {
	return func(o *dispatchOptions) {
		if t.IsZero() {
			o.err = &InvalidArgumentError{Arg: "run at", Reason: "must not be the zero time"}
		}
		o.runAt = t
	}
}

// WithPriority overrides the definition's priority (higher first, within [-1000, 1000]).
func WithPriority(p int) DispatchOption {
	return func(o *dispatchOptions) {
		if p < -1000 || p > 1000 {
			o.err = &InvalidArgumentError{Arg: "priority", Reason: fmt.Sprintf("must be within [-1000, 1000], got %d", p)}
		}
		o.priority = &p
	}
}

// WithQueue overrides the definition's queue.
func WithQueue(q string) DispatchOption {
	return func(o *dispatchOptions) {
		if err := ValidateQueue(q); err != nil {
			o.err = err
		}
		o.queue = q
	}
}

// WithTags overrides the definition's routing tags.
func WithTags(tags ...string) DispatchOption {
	return func(o *dispatchOptions) {
		if err := validateTags(tags); err != nil {
			o.err = err
		}
		o.tags, o.hasTags = tags, true
	}
}

// WithRetry overrides the definition's retry policy for this execution.
func WithRetry(p RetryPolicy) DispatchOption {
	return func(o *dispatchOptions) {
		p = p.withDefaults()
		if err := p.validate(); err != nil {
			o.err = err
		}
		o.retry = &p
	}
}

// dispatchRequest is one element of stent.dispatch_many's JSON argument.
type dispatchRequest struct {
	Name               string          `json:"name"`
	Kind               string          `json:"kind"`
	Input              json.RawMessage `json:"input"`
	Queue              string          `json:"queue"`
	Priority           int             `json:"priority"`
	Tags               []string        `json:"tags"`
	RunAt              *time.Time      `json:"run_at,omitempty"`
	DelayMS            float64         `json:"delay_ms,omitempty"`
	IdempotencyKey     string          `json:"idempotency_key,omitempty"`
	Deadline           *time.Time      `json:"deadline,omitempty"`
	MaxAttempts        int             `json:"max_attempts"`
	RetryInitialMS     float64         `json:"retry_initial_delay_ms"`
	RetryBackoffFactor float64         `json:"retry_backoff_factor"`
	RetryMaxMS         float64         `json:"retry_max_delay_ms"`
	RetryJitter        float64         `json:"retry_jitter"`
	RetryOn            []string        `json:"retry_on"`
	TimeoutMS          float64         `json:"timeout_ms,omitempty"`
	ConcurrencyKey     string          `json:"concurrency_key,omitempty"`
	MaxDurationMS      float64         `json:"max_duration_ms,omitempty"`
	CacheKey           string          `json:"cache_key,omitempty"`
	CacheTTLMS         float64         `json:"cache_ttl_ms,omitempty"`
	KeyPath            []string        `json:"key_path,omitempty"`
	TraceContext       json.RawMessage `json:"trace_context,omitempty"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// newRequest builds the request for one input of def with the given options.
func (c *Client) newRequest(def Definition, input any, opts []DispatchOption) (dispatchRequest, error) {
	var o dispatchOptions
	for _, opt := range opts {
		opt(&o)
	}
	if o.err != nil {
		return dispatchRequest{}, o.err
	}
	if !o.deadline.IsZero() && o.maxDuration > 0 {
		return dispatchRequest{}, &InvalidArgumentError{Arg: "deadline", Reason: "use WithDeadline or WithMaxDuration, not both"}
	}
	if o.delay > 0 && !o.runAt.IsZero() {
		return dispatchRequest{}, &InvalidArgumentError{Arg: "schedule", Reason: "use WithDelay or WithRunAt, not both"}
	}
	in, err := encodePayload(c.codec, c.cfg.MaxPayloadBytes, "input", input)
	if err != nil {
		return dispatchRequest{}, err
	}
	fo := def.Options()
	r := dispatchRequest{
		Name: def.Name(), Kind: def.Kind(), Input: in, Queue: fo.Queue, Priority: fo.Priority,
		Tags: fo.Tags, DelayMS: ms(o.delay), IdempotencyKey: o.idempotencyKey,
		TimeoutMS: ms(fo.Timeout), ConcurrencyKey: o.concurrencyKey, KeyPath: fo.KeyPath,
		MaxDurationMS: ms(o.maxDuration),
	}
	if !o.deadline.IsZero() {
		d := o.deadline
		r.Deadline = &d
	}
	if r.Tags == nil {
		r.Tags = []string{}
	}
	if o.queue != "" {
		r.Queue = o.queue
	}
	if o.priority != nil {
		r.Priority = *o.priority
	}
	if o.hasTags {
		r.Tags = append([]string{}, o.tags...)
	}
	if !o.runAt.IsZero() {
		t := o.runAt
		r.RunAt = &t
	}
	p := fo.Retry
	if o.retry != nil {
		p = *o.retry
	}
	r.MaxAttempts, r.RetryInitialMS, r.RetryBackoffFactor = p.MaxAttempts, ms(p.InitialDelay), p.BackoffFactor
	r.RetryMaxMS, r.RetryJitter, r.RetryOn = ms(p.MaxDelay), p.Jitter, p.RetryOn
	if r.RetryOn == nil {
		r.RetryOn = []string{}
	}
	return r, nil
}

// producerSpan are the dispatch spans' start options, built once.
var producerSpan = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindProducer)}

// dispatch inserts the requests on st (the pool or a caller's transaction) in one statement,
// inside a "stent.dispatch" span that continues ctx's trace; the span's context is stored
// with each root task, so that the executions' attempts join the caller's trace.
func (c *Client) dispatch(ctx context.Context, st *store.Store, reqs []dispatchRequest) ([]store.Dispatched, error) {
	if len(reqs) == 0 {
		return nil, nil
	}
	ctx, span := c.tracer.Start(ctx, "stent.dispatch "+reqs[0].Name, producerSpan...)
	defer span.End()
	if tc := telemetry.Inject(ctx); tc != nil {
		for i := range reqs {
			reqs[i].TraceContext = tc
		}
	}
	res, err := c.dispatchRequests(ctx, st, reqs)
	if span.IsRecording() {
		span.SetAttributes(telemetry.AttrFunction.String(reqs[0].Name), telemetry.AttrKind.String(reqs[0].Kind),
			telemetry.AttrQueue.String(reqs[0].Queue), telemetry.AttrCount.Int(len(reqs)))
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		} else if len(res) == 1 {
			span.SetAttributes(telemetry.AttrExecutionID.String(res[0].ExecutionID.String()),
				telemetry.AttrTaskID.Int64(res[0].TaskID), telemetry.AttrCreated.Bool(res[0].Created))
		}
	}
	return res, err
}

func (c *Client) dispatchRequests(ctx context.Context, st *store.Store, reqs []dispatchRequest) ([]store.Dispatched, error) {
	var res []store.Dispatched
	var err error
	if len(reqs) == 1 {
		var d store.Dispatched
		d, err = c.dispatchSingle(ctx, st, reqs[0])
		res = []store.Dispatched{d}
	} else {
		body, jerr := json.Marshal(reqs)
		if jerr != nil {
			return nil, fmt.Errorf("stent: encoding dispatch: %w", jerr)
		}
		res, err = st.DispatchMany(ctx, body)
	}
	if err != nil {
		return nil, mapStoreError(err)
	}
	traceID := ""
	if c.logger.GetLevel() <= zerolog.DebugLevel {
		traceID = telemetry.TraceID(ctx)
	}
	for i, r := range res {
		if r.Created {
			c.metrics.ExecutionDispatched(reqs[i].Name, reqs[i].Queue)
		}
		ev := c.logger.Debug()
		if !ev.Enabled() {
			continue
		}
		ev = ev.Str("execution_id", r.ExecutionID.String()).Int64("task_id", r.TaskID).
			Str("function", reqs[i].Name).Str("queue", reqs[i].Queue).Bool("created", r.Created)
		if traceID != "" {
			ev = ev.Str("trace_id", traceID)
		}
		if c.cfg.LogPayloads {
			ev = ev.RawJSON("input", reqs[i].Input)
		}
		ev.Msg("stent: dispatched")
	}
	return res, nil
}

// Dispatch starts an execution of the registered function name with input (encoded with the
// client's codec) and returns its id. Typed definitions offer the same as Activity.Dispatch.
func (c *Client) Dispatch(ctx context.Context, name string, input any, opts ...DispatchOption) (uuid.UUID, error) {
	return c.dispatchOne(ctx, c.store, name, input, opts)
}

// DispatchTx is Dispatch inside the caller's transaction: the execution exists (and workers
// are notified) only if tx commits.
func (c *Client) DispatchTx(ctx context.Context, tx pgx.Tx, name string, input any, opts ...DispatchOption) (uuid.UUID, error) {
	return c.dispatchOne(ctx, c.store.WithTx(tx), name, input, opts)
}

func (c *Client) dispatchOne(ctx context.Context, st *store.Store, name string, input any, opts []DispatchOption) (uuid.UUID, error) {
	def, err := c.registry.require(name)
	if err != nil {
		return uuid.Nil, err
	}
	req, err := c.newRequest(def, input, opts)
	if err != nil {
		return uuid.Nil, err
	}
	res, err := c.dispatch(ctx, st, []dispatchRequest{req})
	if err != nil {
		return uuid.Nil, err
	}
	return res[0].ExecutionID, nil
}

// validateKey checks an idempotency or concurrency key: 1-max bytes of UTF-8 without control
// characters. (Invalid UTF-8 would reach the database altered — encoding/json replaces it —
// so two different keys could collide; NUL cannot be stored at all.)
func validateKey(what, key string, max int) error {
	if key == "" || len(key) > max {
		return &InvalidArgumentError{Arg: what, Reason: fmt.Sprintf("must be 1-%d bytes", max)}
	}
	if !utf8.ValidString(key) {
		return &InvalidArgumentError{Arg: what, Reason: fmt.Sprintf("%q is not valid UTF-8", key)}
	}
	if i := strings.IndexFunc(key, unicode.IsControl); i >= 0 {
		return &InvalidArgumentError{Arg: what, Reason: fmt.Sprintf("%q contains a control character at byte %d", key, i)}
	}
	return nil
}

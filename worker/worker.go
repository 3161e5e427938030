// Package worker runs Stent functions: it claims tasks in batches with one statement, runs
// them in a bounded pool of slots, renews all its leases with one heartbeat statement,
// records completions in batches, wakes on LISTEN/NOTIFY with a polling fallback, runs the
// maintenance (rescue of expired leases, retention) when elected leader, and shuts down
// gracefully.
package worker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/trace"

	"github.com/stentdev/stent/internal/eager"
	"github.com/stentdev/stent/internal/notifier"
	"github.com/stentdev/stent/internal/store"
	"github.com/stentdev/stent/stent"
)

// State is a worker's lifecycle state.
type State string

// Lifecycle states, in order.
const (
	StateStarting State = "starting"
	StateReady    State = "ready"
	StateDraining State = "draining"
	StateStopped  State = "stopped"
)

// Causes with which attempt contexts are cancelled (context.Cause).
var (
	// ErrShutdown cancels attempts still running when the shutdown timeout passes (or on a
	// hard stop); their tasks are released without burning an attempt.
	ErrShutdown = errors.New("stent: worker shutting down")
	// errAttemptTimeout cancels an attempt that exceeded its Timeout.
	errAttemptTimeout = errors.New("stent: attempt timed out")
)

// Worker claims and runs tasks. Create it with New and call Run.
type Worker struct {
	client *stent.Client
	cfg    Config
	st     *store.Store
	reg    *stent.Registry
	log    zerolog.Logger

	metrics   stent.Metrics
	tracer    trace.Tracer
	spanNames map[string]string

	ready    chan struct{}
	done     chan struct{}
	hard     chan struct{}
	hardOnce sync.Once
	wake     chan struct{}

	mu        sync.Mutex
	state     State
	running   bool
	held      map[int64]*attempt // claimed and not yet recorded
	active    int                // attempts whose function is running (occupying a slot)
	returning int                // workflows back from a resident wait, waiting for a slot
	reserved  int                // slots set aside for eager dispatches in flight (eager.go)
	slotFreed *sync.Cond         // signalled (with mu) whenever active decreases
	byExec    map[string]map[int64]*attempt

	// starved is set by the claim loop when its last look found no free slot or filled
	// every one (more work is probably waiting), so a freed slot wakes it; otherwise the
	// next task announces itself (notification, next-due timer, poll).
	starved atomic.Bool

	attempts  sync.WaitGroup
	completer *completer
}

// New returns a worker for the client's registry. It validates cfg; Run checks the schema.
func New(client *stent.Client, cfg Config) (*Worker, error) {
	if client == nil {
		return nil, &stent.InvalidArgumentError{Arg: "client", Reason: "must not be nil"}
	}
	reg := client.Registry()
	cfg = cfg.withDefaults(reg)
	if err := cfg.validate(reg); err != nil {
		return nil, err
	}
	log := client.Config().Logger.With().Str("worker_id", cfg.ID).Logger()
	w := &Worker{
		client: client,
		cfg:    cfg,
		st:     store.New(client.Pool()),
		reg:    reg,
		log:    log,

		metrics:   client.Config().Metrics,
		tracer:    client.Tracer(),
		spanNames: spanNames(cfg.Functions),
		ready:     make(chan struct{}),
		done:      make(chan struct{}),
		hard:      make(chan struct{}),
		wake:      make(chan struct{}, 1),
		state:     StateStarting,
		held:      make(map[int64]*attempt),
		byExec:    make(map[string]map[int64]*attempt),
	}
	w.slotFreed = sync.NewCond(&w.mu)
	w.completer = newCompleter(w)
	return w, nil
}

// ID returns the worker's id.
func (w *Worker) ID() string { return w.cfg.ID }

// Config returns the worker's configuration with defaults applied.
func (w *Worker) Config() Config { return w.cfg }

// Ready is closed once the worker is claiming work (wire it to a readiness probe).
func (w *Worker) Ready() <-chan struct{} { return w.ready }

// Done is closed once Run has returned.
func (w *Worker) Done() <-chan struct{} { return w.done }

// Status returns the lifecycle state.
func (w *Worker) Status() State {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.state
}

// HardStop makes a stopping (or running) worker stop at once: running attempts are
// cancelled and their tasks released without burning an attempt. Use it on a second
// interrupt signal.
func (w *Worker) HardStop() {
	w.hardOnce.Do(func() { close(w.hard) })
}

func (w *Worker) setState(s State) {
	w.mu.Lock()
	w.state = s
	w.mu.Unlock()
}

// Run claims and runs tasks until ctx ends, then shuts down gracefully: it stops claiming,
// lets running attempts finish for up to ShutdownTimeout, then cancels the rest and releases
// their tasks, flushes completions and deregisters. It returns an error when the worker
// cannot start (for example a *stent.SchemaVersionError) and nil after a clean stop.
func (w *Worker) Run(ctx context.Context) error {
	w.mu.Lock()
	if w.running {
		w.mu.Unlock()
		return errors.New("stent: worker already ran; create a new one")
	}
	w.running = true
	w.mu.Unlock()
	defer close(w.done)
	defer w.setState(StateStopped)

	if err := w.start(ctx); err != nil {
		return err
	}
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	var sub *notifier.Subscription
	var n *notifier.Notifier
	if !w.cfg.PollOnly {
		n = notifier.New(w.client.Pool(), notifier.Config{Logger: w.log})
		if err := n.Start(bg); err != nil {
			stopBG()
			return fmt.Errorf("stent: starting listener: %w", err)
		}
		sub = n.Subscribe(channelTasks, channelCancel, channelCalls)
		wg.Add(1)
		go func() { defer wg.Done(); w.listen(bg, sub) }()
	}
	wg.Add(3)
	go func() { defer wg.Done(); w.heartbeat(bg) }()
	go func() { defer wg.Done(); w.maintain(bg) }()
	go func() { defer wg.Done(); w.completer.run() }()

	w.setState(StateReady)
	close(w.ready)
	w.log.Info().Strs("queues", w.cfg.Queues).Int("concurrency", w.cfg.Concurrency).Msg("stent: worker ready")

	unregister := func() {}
	if !w.cfg.DisableEagerStart {
		unregister = eager.Register(w.client, eagerPort{w})
	}
	w.claimLoop(ctx)
	unregister()

	w.drain()
	w.completer.stop() // flushes what is queued
	stopBG()
	if sub != nil {
		sub.Unsubscribe()
		n.Stop()
	}
	wg.Wait()
	dbctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.DBTimeout)
	defer cancel()
	if err := w.st.SetWorkerState(dbctx, w.cfg.ID, "stopped"); err != nil {
		w.log.Warn().Err(err).Msg("stent: deregistering worker")
	}
	w.log.Info().Msg("stent: worker stopped")
	return nil
}

// start checks the schema and registers the worker and its functions.
func (w *Worker) start(ctx context.Context) error {
	if err := stent.CheckSchema(ctx, w.client.Pool()); err != nil {
		return err
	}
	defs, err := functionDefaults(w.reg, w.cfg.Functions)
	if err != nil {
		return err
	}
	if err := w.st.RegisterFunctions(ctx, defs); err != nil {
		return fmt.Errorf("stent: registering functions: %w", err)
	}
	host, _ := os.Hostname()
	return w.st.RegisterWorker(ctx, store.WorkerInfo{
		ID: w.cfg.ID, Hostname: host, PID: int32(os.Getpid()), Queues: w.cfg.Queues,
		Functions: w.cfg.Functions, Tags: w.cfg.Tags, Concurrency: int32(w.cfg.Concurrency),
	})
}

// drain waits for running attempts up to ShutdownTimeout (or a hard stop), then cancels and
// releases what is left.
func (w *Worker) drain() {
	w.setState(StateDraining)
	ctx, cancel := context.WithTimeout(context.Background(), w.cfg.DBTimeout)
	if err := w.st.SetWorkerState(ctx, w.cfg.ID, "draining"); err != nil {
		w.log.Warn().Err(err).Msg("stent: marking worker draining")
	}
	cancel()
	w.log.Info().Int("running", w.activeCount()).Dur("timeout", w.cfg.ShutdownTimeout).Msg("stent: draining")

	idle := make(chan struct{})
	go func() { w.attempts.Wait(); close(idle) }()
	timer := time.NewTimer(w.cfg.ShutdownTimeout)
	defer timer.Stop()
	select {
	case <-idle:
		return
	case <-timer.C:
	case <-w.hard:
	}
	w.releaseAll()
	// Give cancelled attempts a moment to return; an attempt ignoring its context cannot be
	// stopped, but its task is already released and its late result will be fenced off.
	select {
	case <-idle:
	case <-time.After(time.Second):
		w.log.Warn().Int("running", w.activeCount()).Msg("stent: attempts still running after release; their results will be discarded")
	}
}

func (w *Worker) activeCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.active
}

// freeSlots is how many tasks the claim loop may start: slots not running a function and not
// promised to a workflow coming back from a resident wait.
func (w *Worker) freeSlots() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.freeLocked()
}

// freeLocked is freeSlots with w.mu held: slots neither running, nor promised to a returning
// workflow, nor reserved for an eager dispatch in flight.
func (w *Worker) freeLocked() int {
	return w.cfg.Concurrency - w.active - w.returning - w.reserved
}

// wakeIfStarved wakes the claim loop after a slot freed, if its last look left work behind
// for want of one; otherwise the next task announces itself.
func (w *Worker) wakeIfStarved() {
	if w.starved.Load() {
		w.signalWake()
	}
}

func (w *Worker) signalWake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

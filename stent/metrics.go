package stent

import "time"

// Metrics receives Stent's operational events, so that any metrics system can count them
// (package stentprom is the Prometheus implementation). Set it in Config.Metrics; the default
// records nothing. Methods are called from the worker's and the client's goroutines, so an
// implementation must be safe for concurrent use, and fast: several are called per task.
// Labels passed are function and queue names and fixed enumerations only, never ids.
// Embed NopMetrics in an implementation to stay compatible when methods are added.
type Metrics interface {
	// ExecutionDispatched is called once per execution created by a dispatch (an idempotent
	// dispatch that found an existing execution is not counted).
	ExecutionDispatched(function, queue string)
	// ExecutionFinished is called when this process ended an execution: completed or failed
	// (its root task's last attempt, in a worker, or its rescue by the maintenance leader),
	// cancelled (Client.Cancel) or timed_out (the leader's deadline sweep).
	ExecutionFinished(function string, state ExecutionState)
	// TaskClaimed is called per task a worker claims; lag is how long the task had been due
	// (run_at) when claimed, on the database clock.
	TaskClaimed(function, queue string, lag time.Duration)
	// AttemptFinished is called once per claimed attempt, when its outcome is recorded;
	// d is how long its function ran.
	AttemptFinished(function, queue string, outcome AttemptOutcome, d time.Duration)
	// TaskRescued is called per task whose lease expired and that the maintenance leader
	// re-queued (deadLettered false) or moved to the dead-letter queue (attempts exhausted).
	TaskRescued(function, queue string, deadLettered bool)
	// ClaimPolled is called per claim statement a worker runs, with the number of tasks claimed.
	ClaimPolled(claimed int)
	// EagerStarted is called per task a dispatch leased to a worker of its own process
	// (eager start), which therefore no claim statement counted; TaskClaimed is called too.
	EagerStarted(function, queue string)
	// NotificationReceived is called per LISTEN/NOTIFY notification a worker receives
	// (channel "stent_tasks" or "stent_cancel", or "reconnect" after the listener reconnected).
	NotificationReceived(channel string)
	// LeasesRenewed is called per heartbeat with the number of leases renewed; failed is
	// true when the heartbeat statement itself failed.
	LeasesRenewed(renewed int, failed bool)
	// CompletionsFlushed is called per completion batch statement with its size and latency.
	CompletionsFlushed(batch int, d time.Duration)
}

// AttemptOutcome is how an attempt ended.
type AttemptOutcome string

// Attempt outcomes.
const (
	// OutcomeCompleted: the function returned and its result was recorded.
	OutcomeCompleted AttemptOutcome = "completed"
	// OutcomeRetried: the attempt failed and the task will run again.
	OutcomeRetried AttemptOutcome = "retried"
	// OutcomeDeadLettered: the attempt failed for good; the task is in the dead-letter queue.
	OutcomeDeadLettered AttemptOutcome = "dead_lettered"
	// OutcomeSuspended: a workflow parked until what it awaits happens (not a failure).
	OutcomeSuspended AttemptOutcome = "suspended"
	// OutcomeCancelled: the execution was cancelled or timed out while the attempt ran.
	OutcomeCancelled AttemptOutcome = "cancelled"
	// OutcomeLeaseLost: the worker lost the task's lease; the result was discarded.
	OutcomeLeaseLost AttemptOutcome = "lease_lost"
	// OutcomeReleased: the worker stopped and gave the task back without burning the attempt.
	OutcomeReleased AttemptOutcome = "released"
	// OutcomeUnrecorded: the outcome could not be written (database unreachable); the task
	// is rescued when its lease expires.
	OutcomeUnrecorded AttemptOutcome = "unrecorded"
)

// NopMetrics records nothing. It is the default, and embedding it keeps a partial Metrics
// implementation compiling when methods are added.
type NopMetrics struct{}

func (NopMetrics) ExecutionDispatched(string, string)                            {}
func (NopMetrics) ExecutionFinished(string, ExecutionState)                      {}
func (NopMetrics) TaskClaimed(string, string, time.Duration)                     {}
func (NopMetrics) AttemptFinished(string, string, AttemptOutcome, time.Duration) {}
func (NopMetrics) TaskRescued(string, string, bool)                              {}
func (NopMetrics) ClaimPolled(int)                                               {}
func (NopMetrics) EagerStarted(string, string)                                   {}
func (NopMetrics) NotificationReceived(string)                                   {}
func (NopMetrics) LeasesRenewed(int, bool)                                       {}
func (NopMetrics) CompletionsFlushed(int, time.Duration)                         {}

var _ Metrics = NopMetrics{}

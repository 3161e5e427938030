package stent

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// Reason codes of Explain (and stent.explain in SQL). They are stable: scripts may match them.
const (
	ReasonFinished            = "finished"              // the execution finished (the only row then)
	ReasonQueued              = "queued"                // due now, nothing holds it back: the next claim takes it
	ReasonScheduled           = "scheduled"             // delayed start (Until)
	ReasonBackingOff          = "backing_off"           // retrying after a failed attempt (Until)
	ReasonPausedQueue         = "paused_queue"          // its queue is paused
	ReasonPausedFunction      = "paused_function"       // its function is paused
	ReasonBackoff             = "backoff"               // a shared RetryAfter wait of its function or key (Until)
	ReasonConcurrencyLimit    = "concurrency_limit"     // every slot of its function is in use (Holders)
	ReasonKeyConcurrencyLimit = "key_concurrency_limit" // every slot of its key is in use (Holders)
	ReasonRateLimited         = "rate_limited"          // its function's rate window is full (Until)
	ReasonKeyRateLimited      = "key_rate_limited"      // its key's rate window is full (Until)
	ReasonNoWorker            = "no_worker"             // no live worker serves its queue and function
	ReasonLeased              = "leased"                // running: leased by WorkerID until Until
	ReasonLeaseExpired        = "lease_expired"         // its worker stopped renewing the lease; it will be rescued
	ReasonSleeping            = "sleeping"              // a durable Sleep (Until)
	ReasonWaitingSignal       = "waiting_signal"        // WaitSignal, until its timeout (Until)
	ReasonWaitingChild        = "waiting_child"         // suspended until its awaited calls finish (Holders)
	ReasonWaitingCache        = "waiting_cache"         // waiting for the task computing the same cached result
)

// Reason is one reason an execution, or one of its tasks, is not running: a row of
// stent.explain. A finished execution has one reason, ReasonFinished.
type Reason struct {
	TaskID    int64
	TaskName  string
	TaskKind  string // workflow or activity
	TaskState string // pending, running, waiting (or the root's final state when finished)
	Reason    string // one of the Reason* codes
	Detail    string // human-readable explanation
	Until     *time.Time
	WorkerID  string   // the worker holding the task (leased, lease_expired)
	Holders   []string // who holds what it waits for: slot holders, awaited calls, the lease owner
}

// Explain returns why the execution is not running or not finished yet, one Reason per
// cause and task (see the Reason* codes); a finished execution returns one ReasonFinished. It
// returns ErrNotFound for an unknown execution. It only reads.
func (c *Client) Explain(ctx context.Context, id uuid.UUID) ([]Reason, error) {
	rows, err := c.store.Explain(ctx, id)
	if err != nil {
		return nil, err
	}
	out := make([]Reason, len(rows))
	for i, r := range rows {
		out[i] = Reason(r)
	}
	return out, nil
}

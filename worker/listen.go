package worker

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/stentdev/stent/internal/hub"
	"github.com/stentdev/stent/internal/notifier"
	"github.com/stentdev/stent/stent"
)

// Notification channels (see sql/functions).
const (
	channelTasks  = "stent_tasks"  // payload: a queue with new or re-queued work
	channelCancel = "stent_cancel" // payload: a cancelled execution's id
	channelCalls  = "stent_calls"  // payload: completed calls of running workflows, comma separated
)

// listen turns notifications into wake-ups of the claim loop and cancellations of running
// attempts. Notifications are hints: the claim loop polls as well.
func (w *Worker) listen(ctx context.Context, sub *notifier.Subscription) {
	for {
		select {
		case <-ctx.Done():
			return
		case n, ok := <-sub.C:
			if !ok {
				return
			}
			if n.Reconnect {
				w.metrics.NotificationReceived("reconnect")
			} else {
				w.metrics.NotificationReceived(n.Channel)
			}
			switch {
			case n.Reconnect:
				w.signalWake()
			case n.Channel == channelTasks:
				if slices.Contains(w.cfg.Queues, n.Payload) {
					w.signalWake()
				}
			case n.Channel == channelCancel:
				w.cancelExecution(n.Payload)
			case n.Channel == channelCalls:
				for _, id := range strings.Split(n.Payload, ",") {
					if v, err := strconv.ParseInt(id, 10, 64); err == nil {
						hub.Announced(v) // a workflow of this process waiting for it resumes now
					}
				}
			}
		}
	}
}

// cancelExecution cancels the running attempts of a cancelled execution; their results are
// discarded (the database already rejects them).
func (w *Worker) cancelExecution(executionID string) {
	w.mu.Lock()
	var victims []*attempt
	for _, a := range w.byExec[executionID] {
		victims = append(victims, a)
	}
	w.mu.Unlock()
	for _, a := range victims {
		a.log.Info().Msg("stent: execution cancelled; cancelling its attempt")
		a.cancel(stent.ErrCancelled)
	}
}

// releaseAll cancels every running attempt and gives its task back without burning the
// attempt (shutdown).
func (w *Worker) releaseAll() {
	w.mu.Lock()
	var leases []*attempt
	for _, a := range w.held {
		if !a.finished && !a.released {
			a.released = true
			leases = append(leases, a)
		}
	}
	w.mu.Unlock()
	if len(leases) == 0 {
		return
	}
	ls := make([]storeLease, len(leases))
	for i, a := range leases {
		ls[i] = a.lease()
	}
	ctx, cancel := context.WithTimeout(context.Background(), w.cfg.DBTimeout)
	defer cancel()
	released, err := w.st.ReleaseTasks(ctx, ls)
	if err != nil {
		w.log.Error().Err(err).Msg("stent: releasing tasks at shutdown; they will be rescued when their leases expire")
	} else {
		w.log.Info().Int("released", len(released)).Msg("stent: released unfinished tasks")
	}
	for _, a := range leases {
		a.cancel(ErrShutdown)
		w.forget(a.task.ID, a.task.LeaseToken)
	}
}

package worker

import (
	"context"
	"time"

	"github.com/stentdev/stent/stent"
)

// maintain runs the leader-only services: every MaintenanceInterval the worker tries to take
// or keep the leadership (a lease in stent.leader, on the database clock); the leader rescues
// expired leases, prunes ended flow-control state (back-offs, empty rate windows) and, every
// PurgeInterval, purges executions past the retention period. Every
// action is a guarded SQL function, so two leaders at once (after a partition) are harmless.
func (w *Worker) maintain(ctx context.Context) {
	ticker := time.NewTicker(w.cfg.MaintenanceInterval)
	defer ticker.Stop()
	ttl := max(3*w.cfg.MaintenanceInterval, 5*time.Second)
	var lastPurge time.Time
	leading := false
	defer func() {
		if leading {
			rctx, cancel := context.WithTimeout(context.Background(), w.cfg.DBTimeout)
			defer cancel()
			if _, err := w.st.Resign(rctx, w.cfg.ID); err != nil {
				w.log.Warn().Err(err).Msg("stent: resigning leadership")
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		cctx, cancel := context.WithTimeout(ctx, w.cfg.DBTimeout)
		ok, err := w.st.TryLead(cctx, w.cfg.ID, ttl)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				w.log.Warn().Err(err).Msg("stent: leader election")
			}
			continue
		}
		if ok != leading {
			w.log.Info().Bool("leader", ok).Msg("stent: maintenance leadership changed")
			leading = ok
		}
		if !leading {
			continue
		}
		w.rescue(ctx)
		w.expire(ctx)
		w.pruneFlowState(ctx)
		if w.cfg.Retention > 0 && w.cfg.now().Sub(lastPurge) >= w.cfg.PurgeInterval {
			lastPurge = w.cfg.now()
			w.purge(ctx)
		}
	}
}

// rescue re-queues or dead-letters tasks whose lease expired, in batches.
func (w *Worker) rescue(ctx context.Context) {
	const batch = 1000
	for {
		cctx, cancel := context.WithTimeout(ctx, w.cfg.DBTimeout)
		rescued, err := w.st.RescueExpired(cctx, batch)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				w.log.Error().Err(err).Msg("stent: rescuing expired leases")
			}
			return
		}
		for _, r := range rescued {
			dead := r.State == "failed"
			w.metrics.TaskRescued(r.Name, r.Queue, dead)
			ev := w.log.Warn()
			msg := "stent: rescued a task whose lease expired; it will run again"
			if dead {
				ev, msg = w.log.Error(), "stent: a task whose lease expired used its last attempt; moved to the dead-letter queue"
				if r.Root {
					w.metrics.ExecutionFinished(r.Name, stent.StateFailed)
				}
			}
			ev.Str("execution_id", r.ExecutionID.String()).Int64("task_id", r.TaskID).Str("function", r.Name).
				Str("queue", r.Queue).Str("state", r.State).Msg(msg)
		}
		if len(rescued) < batch {
			return
		}
	}
}

// purge deletes executions past the retention period, in batches.
func (w *Worker) purge(ctx context.Context) {
	const batch = 10000
	var total int64
	for {
		cctx, cancel := context.WithTimeout(ctx, w.cfg.DBTimeout)
		n, err := w.st.Purge(cctx, w.cfg.Retention, batch, false)
		cancel()
		total += n
		if err != nil {
			if ctx.Err() == nil {
				w.log.Error().Err(err).Msg("stent: purging old executions")
			}
			break
		}
		if n < batch {
			break
		}
	}
	if total > 0 {
		w.log.Info().Int64("executions", total).Dur("retention", w.cfg.Retention).Msg("stent: purged finished executions")
	}
}

// pruneFlowState deletes ended back-offs and rate windows that no longer hold a start.
func (w *Worker) pruneFlowState(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, w.cfg.DBTimeout)
	defer cancel()
	if _, err := w.st.PruneFlowState(cctx); err != nil && ctx.Err() == nil {
		w.log.Warn().Err(err).Msg("stent: pruning flow-control state")
	}
}

// expire times out executions past their deadline (their running attempts are cancelled
// through the 'stent_cancel' notification).
func (w *Worker) expire(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, w.cfg.DBTimeout)
	defer cancel()
	ids, err := w.st.ExpireExecutions(cctx, 1000)
	if err != nil {
		if ctx.Err() == nil {
			w.log.Error().Err(err).Msg("stent: expiring executions past their deadline")
		}
		return
	}
	for _, e := range ids {
		w.metrics.ExecutionFinished(e.Workflow, stent.StateTimedOut)
		w.log.Warn().Str("execution_id", e.ID.String()).Str("function", e.Workflow).Msg("stent: execution passed its deadline; timed out")
	}
}

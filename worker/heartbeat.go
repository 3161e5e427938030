package worker

import (
	"context"
	"time"

	"github.com/stentdev/stent/internal/store"
	"github.com/stentdev/stent/stent"
)

// heartbeat renews every held lease, and the worker's own row, with one statement per
// interval. A held task missing from the renewed ids lost its lease (rescued, cancelled,
// claimed again): its attempt's context is cancelled with stent.ErrLeaseLost. If renewals
// keep failing until the leases could have expired, every attempt is cancelled the same way
// (the worker can no longer trust that it owns them).
func (w *Worker) heartbeat(ctx context.Context) {
	ticker := time.NewTicker(w.cfg.HeartbeatInterval)
	defer ticker.Stop()
	lastOK := w.cfg.now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		leases := w.heldLeases()
		cctx, cancel := context.WithTimeout(ctx, w.cfg.HeartbeatInterval)
		renewed, err := w.st.RenewLeases(cctx, w.cfg.ID, leases, w.cfg.LeaseDuration)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			w.metrics.LeasesRenewed(0, true)
			w.log.Warn().Err(err).Int("held", len(leases)).Msg("stent: heartbeat failed")
			if w.cfg.now().Sub(lastOK) > w.cfg.LeaseDuration-w.cfg.HeartbeatInterval {
				w.loseAll(leases)
			}
			continue
		}
		lastOK = w.cfg.now()
		w.metrics.LeasesRenewed(len(renewed), false)
		ok := make(map[int64]struct{}, len(renewed))
		for _, id := range renewed {
			ok[id] = struct{}{}
		}
		for _, l := range leases {
			if _, found := ok[l.TaskID]; !found {
				w.loseLease(l)
			}
		}
	}
}

func (w *Worker) heldLeases() []store.Lease {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]store.Lease, 0, len(w.held))
	for _, a := range w.held {
		out = append(out, a.lease())
	}
	return out
}

// loseLease cancels the attempt holding l, if it is still held under that token.
func (w *Worker) loseLease(l store.Lease) {
	w.mu.Lock()
	a, ok := w.held[l.TaskID]
	w.mu.Unlock()
	if !ok || a.task.LeaseToken != l.Token || a.ctx.Err() != nil {
		return
	}
	a.log.Warn().Msg("stent: lease lost; cancelling the attempt")
	a.cancel(stent.ErrLeaseLost)
}

func (w *Worker) loseAll(leases []store.Lease) {
	for _, l := range leases {
		w.loseLease(l)
	}
}

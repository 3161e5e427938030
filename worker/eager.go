package worker

import (
	"slices"

	"github.com/stentdev/stent/internal/store"
)

// eagerPort is how the worker's client hands it tasks leased by the dispatch statement
// (eager start, internal/eager). A reservation counts as an attempt in w.attempts from the
// moment it is made, so a draining worker waits for a dispatch in flight to hand its task
// over or give the slot back.
type eagerPort struct{ w *Worker }

// Reserve sets a free slot aside when the worker serves name on queue and is running; slots
// promised to workflows back from a resident wait are not free.
func (p eagerPort) Reserve(name, queue string) (store.EagerTarget, bool) {
	w := p.w
	if !slices.Contains(w.cfg.Queues, queue) || !slices.Contains(w.cfg.Functions, name) {
		return store.EagerTarget{}, false
	}
	w.mu.Lock()
	ok := w.state == StateReady && w.freeLocked() > 0
	if ok {
		w.reserved++
		w.attempts.Add(1)
	}
	w.mu.Unlock()
	if !ok {
		return store.EagerTarget{}, false
	}
	return store.EagerTarget{
		WorkerID: w.cfg.ID, Queues: w.cfg.Queues, Names: w.cfg.Functions, Tags: w.cfg.Tags,
		Lease: w.cfg.LeaseDuration,
	}, true
}

// Release gives back the reserved slot, like a finished attempt gives back its slot.
func (p eagerPort) Release() {
	w := p.w
	w.mu.Lock()
	w.reserved--
	w.slotFreed.Broadcast()
	w.mu.Unlock()
	w.attempts.Done()
	w.wakeIfStarved()
}

// Start runs a leased task in a reserved slot.
func (p eagerPort) Start(t *store.Task) {
	p.w.metrics.EagerStarted(t.Name, t.Queue)
	p.w.launch(t, true)
}

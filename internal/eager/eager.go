// Package eager connects a client's dispatches to the workers running in the same process
// with the same client (eager start): when such a worker has a free slot, the dispatch
// statement leases the new task to it and the client hands the task over in memory, so it
// starts without waiting for a notification and a claim. The database still decides —
// stent.dispatch_one leases a task only when the worker's own claim would take it next —
// and a task not leased is simply left pending for any worker.
package eager

import (
	"sync"

	"github.com/stentdev/stent/internal/store"
)

// Worker is the side of a worker that takes eager tasks.
type Worker interface {
	// Reserve sets one free slot aside for a task of function name on queue and returns
	// what the dispatch needs to lease to this worker; false when the worker does not serve
	// them, is not running or has no free slot.
	Reserve(name, queue string) (store.EagerTarget, bool)
	// Release gives back the reserved slot when the dispatch leased it no task.
	Release()
	// Start runs a task leased to this worker in a reserved slot.
	Start(t *store.Task)
}

var (
	mu      sync.RWMutex
	workers = map[any][]Worker{}
)

// Register makes w take eager tasks dispatched through owner (the client) until the
// returned function is called.
func Register(owner any, w Worker) (unregister func()) {
	mu.Lock()
	workers[owner] = append(workers[owner], w)
	mu.Unlock()
	return func() {
		mu.Lock()
		defer mu.Unlock()
		list := workers[owner]
		for i, x := range list {
			if x == w {
				list = append(list[:i:i], list[i+1:]...)
				break
			}
		}
		if len(list) == 0 {
			delete(workers, owner)
		} else {
			workers[owner] = list
		}
	}
}

// Reserve finds a worker registered for owner that serves name on queue and has a free slot,
// and reserves the slot (give it back with Release or use it with Start).
func Reserve(owner any, name, queue string) (Worker, store.EagerTarget, bool) {
	mu.RLock()
	defer mu.RUnlock()
	for _, w := range workers[owner] {
		if t, ok := w.Reserve(name, queue); ok {
			return w, t, true
		}
	}
	return nil, store.EagerTarget{}, false
}

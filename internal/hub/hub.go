// Package hub tells a workflow waiting in memory for a child task that the child finished:
// the worker reports each task whose outcome it has just committed (with the output when it
// completed here) and each completion announced by another worker, and a waiting workflow
// wakes at once instead of at its next poll of the database. It is only a hint — without a
// reported outcome waiters read the child's state from the database, and they still poll.
package hub

import "sync"

// Outcome is a finished task's committed result, when the reporter has it.
type Outcome struct {
	State  string // "completed"
	Output []byte
}

// Waiter is one wait for a task; C is closed when the task is reported finished.
type Waiter struct {
	C       chan struct{}
	outcome *Outcome
}

// Outcome returns the reported outcome once C is closed, or nil when the report carried none
// (read the task from the database).
func (w *Waiter) Outcome() *Outcome { return w.outcome }

var (
	mu      sync.Mutex
	waiters = map[int64][]*Waiter{}
)

// Wait registers a wait for taskID and a function that ends it (call it when done, whether
// or not C was closed).
func Wait(taskID int64) (*Waiter, func()) {
	w := &Waiter{C: make(chan struct{})}
	mu.Lock()
	waiters[taskID] = append(waiters[taskID], w)
	mu.Unlock()
	return w, func() {
		mu.Lock()
		defer mu.Unlock()
		list := waiters[taskID]
		for i, x := range list {
			if x == w {
				list = append(list[:i], list[i+1:]...)
				break
			}
		}
		if len(list) == 0 {
			delete(waiters, taskID)
		} else {
			waiters[taskID] = list
		}
	}
}

// Finished wakes the waiters of taskID, whose final outcome has been committed; outcome may be
// nil when the reporter does not have it.
func Finished(taskID int64, outcome *Outcome) {
	mu.Lock()
	list := waiters[taskID]
	delete(waiters, taskID)
	mu.Unlock()
	for _, w := range list {
		w.outcome = outcome
		close(w.C)
	}
}

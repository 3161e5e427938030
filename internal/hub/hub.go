// Package hub tells a workflow waiting in memory for a child task that the child finished:
// the worker reports each task whose outcome it has just committed (with the output when it
// completed here) and each completion announced by another worker, and a waiting workflow
// wakes at once instead of at its next poll of the database. It is only a hint — without a
// reported outcome waiters read the child's state from the database, and they still poll.
//
// Outcomes are keyed by execution and task id (task ids repeat across databases, and one
// process may use several), and the last completions reported here are remembered for a
// while, so that a wait registered just after its child completed (a Future collected late)
// still resumes at once.
package hub

import (
	"sync"

	"github.com/google/uuid"
)

// Outcome is a finished task's committed result, when the reporter has it.
type Outcome struct {
	State  string // "completed"
	Output []byte
}

// Waiter is one wait for a task; C is closed when the task is reported finished.
type Waiter struct {
	C       chan struct{}
	exec    uuid.UUID
	outcome *Outcome
}

// Outcome returns the reported outcome once C is closed, or nil when the report carried none
// (read the task from the database).
func (w *Waiter) Outcome() *Outcome { return w.outcome }

type key struct {
	exec uuid.UUID
	task int64
}

// Bounds of the memory of recent completions: entries, and the largest output kept (a larger
// one is remembered without its output, and the waiter reads it).
const (
	recentEntries   = 1024
	recentMaxOutput = 16 << 10
)

var (
	mu      sync.Mutex
	waiters = map[int64][]*Waiter{}
	recent  = map[key]*Outcome{}
	ring    [recentEntries]key
	next    int
)

// Wait registers a wait for task taskID of execution exec and a function that ends it (call
// it when done, whether or not C was closed). C is already closed when the task's completion
// was reported here moments ago.
func Wait(exec uuid.UUID, taskID int64) (*Waiter, func()) {
	w := &Waiter{C: make(chan struct{}), exec: exec}
	mu.Lock()
	if o, ok := recent[key{exec, taskID}]; ok {
		mu.Unlock()
		w.outcome = o
		close(w.C)
		return w, func() {}
	}
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

// Finished wakes the waiters of task taskID of execution exec, whose final outcome has been
// committed; outcome may be nil when the reporter does not have it. The report is also
// remembered for waits registered just after.
func Finished(exec uuid.UUID, taskID int64, outcome *Outcome) {
	mu.Lock()
	remember(key{exec, taskID}, outcome)
	var woken []*Waiter
	list := waiters[taskID]
	kept := list[:0]
	for _, w := range list {
		if w.exec == exec {
			woken = append(woken, w)
		} else {
			kept = append(kept, w)
		}
	}
	if len(kept) == 0 {
		delete(waiters, taskID)
	} else {
		waiters[taskID] = kept
	}
	mu.Unlock()
	for _, w := range woken {
		w.outcome = outcome
		close(w.C)
	}
}

// Announced wakes every waiter of taskID without an outcome: another process reported the
// task finished, by id only, and the waiters read it from their own database.
func Announced(taskID int64) {
	mu.Lock()
	list := waiters[taskID]
	delete(waiters, taskID)
	mu.Unlock()
	for _, w := range list {
		close(w.C)
	}
}

// remember keeps outcome for k (nil: finished, read it), evicting the oldest entry; mu is held.
func remember(k key, outcome *Outcome) {
	if outcome != nil && len(outcome.Output) > recentMaxOutput {
		outcome = nil
	}
	if _, ok := recent[k]; !ok {
		if old := ring[next]; old != (key{}) {
			delete(recent, old)
		}
		ring[next] = k
		next = (next + 1) % recentEntries
	}
	recent[k] = outcome
}

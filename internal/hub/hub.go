// Package hub tells a workflow waiting in memory for a child task that the child finished in
// the same process: the worker reports each task whose outcome it has just committed, and a
// waiting workflow wakes at once instead of at its next poll of the database. It is only a
// hint — waiters still read the child's state from the database, and poll for children run
// by other processes.
package hub

import "sync"

var (
	mu      sync.Mutex
	waiters = map[int64][]chan struct{}{}
)

// Wait returns a channel closed when Finished reports taskID, and a function that stops
// waiting (call it when done, whether or not the channel was closed).
func Wait(taskID int64) (<-chan struct{}, func()) {
	ch := make(chan struct{})
	mu.Lock()
	waiters[taskID] = append(waiters[taskID], ch)
	mu.Unlock()
	return ch, func() {
		mu.Lock()
		defer mu.Unlock()
		list := waiters[taskID]
		for i, c := range list {
			if c == ch {
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

// Finished wakes the waiters of taskID, whose final outcome has been committed.
func Finished(taskID int64) {
	mu.Lock()
	list := waiters[taskID]
	delete(waiters, taskID)
	mu.Unlock()
	for _, c := range list {
		close(c)
	}
}

package stent

import (
	"context"
	"sync"

	"github.com/stentdev/stent/internal/notifier"
)

// Notification channels the engine sends on (see sql/functions): a queue has new or freed
// work, an execution finished, an execution was cancelled.
var changeChannels = []string{"stent_tasks", channelExecutions, "stent_cancel"}

// Changes starts listening for the engine's notifications and returns a channel that receives
// a value (coalesced: at most one buffered) whenever something may have changed: a task was
// dispatched, woken or freed, an execution finished or was cancelled, or the listen connection
// reconnected (notifications may have been missed). It is a hint for dashboards, which should
// also poll. The listener holds one connection of the pool until stop is called or ctx ends.
func (c *Client) Changes(ctx context.Context) (changes <-chan struct{}, stop func(), err error) {
	n := notifier.New(c.pool, notifier.Config{Logger: *c.logger})
	if err := n.Start(ctx); err != nil {
		return nil, nil, err
	}
	sub := n.Subscribe(changeChannels...)
	out := make(chan struct{}, 1)
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case _, ok := <-sub.C:
				if !ok {
					return
				}
				select {
				case out <- struct{}{}:
				default:
				}
			}
		}
	}()
	var once sync.Once
	return out, func() {
		once.Do(func() {
			close(done)
			<-finished
			sub.Unsubscribe()
			n.Stop()
		})
	}, nil
}

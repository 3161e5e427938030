package stent

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/stentdev/stent/internal/notifier"
)

// channelExecutions carries the ids of finished executions (see stent.notify_finished).
const channelExecutions = "stent_executions"

// Wait blocks until the execution is terminal and returns it. A failed, cancelled or timed-out
// execution is returned together with an *ExecutionError (errors.Is ErrCancelled /
// ErrTimedOut). Wait listens for the database's notification and also re-reads the execution
// every Config.WaitPollInterval, so a lost notification only costs latency. It honours ctx.
func (c *Client) Wait(ctx context.Context, id uuid.UUID) (*Execution, error) {
	h, err := c.hub()
	if err != nil {
		return nil, err
	}
	wake, unregister := h.register(id)
	defer unregister()

	timer := time.NewTimer(c.cfg.WaitPollInterval)
	defer timer.Stop()
	// Read the execution only once LISTEN is in place (or the poll interval passed), so a
	// completion between the read and the LISTEN cannot go unnoticed until the next poll.
	select {
	case <-h.sub.Ready():
	case <-timer.C:
		timer.Reset(c.cfg.WaitPollInterval)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	for {
		row, err := c.store.GetExecution(ctx, id)
		if err != nil {
			return nil, err
		}
		if e := executionFromRow(row); e.State.Terminal() {
			if e.State == StateCompleted {
				return e, nil
			}
			return e, &ExecutionError{ExecutionID: id.String(), State: e.State, Err: e.Error}
		}
		select {
		case <-wake:
		case <-timer.C:
			timer.Reset(c.cfg.WaitPollInterval)
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-h.done:
			return nil, ErrClosed
		}
	}
}

// waitHub fans the 'stent_executions' notifications of one listener out to the goroutines
// waiting for those executions.
type waitHub struct {
	n    *notifier.Notifier
	sub  *notifier.Subscription
	done chan struct{}
	wg   sync.WaitGroup

	mu      sync.Mutex
	waiters map[uuid.UUID]map[chan struct{}]struct{}
}

func startWaitHub(n *notifier.Notifier) (*waitHub, error) {
	if err := n.Start(context.Background()); err != nil {
		return nil, err
	}
	h := &waitHub{
		n:       n,
		sub:     n.Subscribe(channelExecutions),
		done:    make(chan struct{}),
		waiters: make(map[uuid.UUID]map[chan struct{}]struct{}),
	}
	h.wg.Add(1)
	go h.loop()
	return h, nil
}

func (h *waitHub) loop() {
	defer h.wg.Done()
	for {
		select {
		case <-h.done:
			return
		case n := <-h.sub.C:
			if n.Reconnect {
				h.wakeAll()
				continue
			}
			for _, id := range parseExecutionIDs(n.Payload) {
				h.wake(id)
			}
		}
	}
}

func (h *waitHub) register(id uuid.UUID) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	h.mu.Lock()
	if h.waiters[id] == nil {
		h.waiters[id] = make(map[chan struct{}]struct{})
	}
	h.waiters[id][ch] = struct{}{}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		delete(h.waiters[id], ch)
		if len(h.waiters[id]) == 0 {
			delete(h.waiters, id)
		}
		h.mu.Unlock()
	}
}

func (h *waitHub) wake(id uuid.UUID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.waiters[id] {
		select {
		case ch <- struct{}{}:
		default: // already signalled
		}
	}
}

func (h *waitHub) wakeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, set := range h.waiters {
		for ch := range set {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
}

func (h *waitHub) stop() {
	close(h.done)
	h.wg.Wait()
	h.sub.Unsubscribe()
	h.n.Stop()
}

// parseExecutionIDs reads a 'stent_executions' payload: execution ids, comma separated.
// Anything else in it (another sender's NOTIFY on the channel) is ignored: a notification is
// only a hint, and Wait checks the database itself.
func parseExecutionIDs(payload string) []uuid.UUID {
	var ids []uuid.UUID
	for _, s := range strings.Split(payload, ",") {
		if len(s) != 36 {
			continue // uuid.Parse also takes braces, urn: prefixes and 32-digit forms
		}
		if id, err := uuid.Parse(s); err == nil {
			ids = append(ids, id)
		}
	}
	return ids
}

package stent

import (
	"context"
	"time"
)

// QueueStats is one queue's pending work, from Client.QueueStats.
type QueueStats struct {
	Queue string
	// Due is the number of pending tasks due now (waiting for a worker).
	Due int64
	// Delayed is the number of pending tasks scheduled later (delays, retry back-offs).
	Delayed int64
	// OldestDue is how long the oldest due task has been due (database clock); 0 when none.
	OldestDue time.Duration
}

// QueueStats returns the pending work of every queue that has some, computed by one
// aggregate query over the pending tasks. Its cost grows with the backlog: poll it, don't
// spin on it (stentprom caches it between scrapes).
func (c *Client) QueueStats(ctx context.Context) ([]QueueStats, error) {
	rows, err := c.store.QueueStats(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]QueueStats, len(rows))
	for i, r := range rows {
		out[i] = QueueStats{Queue: r.Queue, Due: r.Due, Delayed: r.Delayed,
			OldestDue: time.Duration(r.OldestDueSeconds * float64(time.Second))}
	}
	return out, nil
}

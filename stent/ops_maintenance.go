package stent

import (
	"context"
	"time"
)

// PurgeEstimate is what Purge would delete now: a dry run.
type PurgeEstimate struct {
	Executions int64 // executions that would be deleted
	Tasks      int64 // their tasks, deleted with them
	Kept       int64 // old finished executions kept because they still have dead letters
}

// EstimatePurge counts what Purge(olderThan, p) would delete now, changing nothing.
func (c *Client) EstimatePurge(ctx context.Context, olderThan time.Duration, p PurgeParams) (*PurgeEstimate, error) {
	if olderThan < 0 {
		return nil, &InvalidArgumentError{Arg: "older than", Reason: "must not be negative"}
	}
	r, err := c.store.PurgeEstimate(ctx, olderThan, p.DeadLetters)
	if err != nil {
		return nil, err
	}
	return &PurgeEstimate{Executions: r.Executions, Tasks: r.Tasks, Kept: r.Kept}, nil
}

// PurgeBatch deletes at most batch executions that finished more than olderThan ago, in one
// statement, and returns how many it deleted; callers loop until it returns less than batch
// (Purge does that in one call). It lets a caller report progress between batches.
func (c *Client) PurgeBatch(ctx context.Context, olderThan time.Duration, batch int, p PurgeParams) (int64, error) {
	if olderThan < 0 {
		return 0, &InvalidArgumentError{Arg: "older than", Reason: "must not be negative"}
	}
	if batch < 1 || batch > 100000 {
		return 0, &InvalidArgumentError{Arg: "batch", Reason: "must be within [1, 100000]"}
	}
	return c.store.Purge(ctx, olderThan, int32(batch), p.DeadLetters)
}

// DeadLetterFilter selects dead letters for CountDeadLetters and DiscardDeadLetters.
type DeadLetterFilter struct {
	Name      string        // function name; empty: all
	OlderThan time.Duration // created more than this long ago; 0: all
}

// CountDeadLetters counts the dead letters the filter selects.
func (c *Client) CountDeadLetters(ctx context.Context, f DeadLetterFilter) (int64, error) {
	if f.OlderThan < 0 {
		return 0, &InvalidArgumentError{Arg: "older than", Reason: "must not be negative"}
	}
	return c.store.CountDeadLetters(ctx, f.Name, f.OlderThan)
}

// DiscardDeadLetters discards at most batch of the dead letters the filter selects, oldest
// first, in one statement (the failed tasks and executions stay failed), and returns how many
// it discarded; callers loop until it returns less than batch.
func (c *Client) DiscardDeadLetters(ctx context.Context, f DeadLetterFilter, batch int) (int64, error) {
	if f.OlderThan < 0 {
		return 0, &InvalidArgumentError{Arg: "older than", Reason: "must not be negative"}
	}
	if batch < 1 || batch > 100000 {
		return 0, &InvalidArgumentError{Arg: "batch", Reason: "must be within [1, 100000]"}
	}
	n, err := c.store.DiscardDeadLetters(ctx, f.Name, f.OlderThan, int32(batch))
	if err == nil && n > 0 {
		c.logger.Info().Int64("count", n).Msg("stent: dead letters discarded")
	}
	return n, err
}

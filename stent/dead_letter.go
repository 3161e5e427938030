package stent

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/stentdev/stent/internal/store"
)

// DeadLetter is a task that failed for good (attempts exhausted or a permanent error), kept
// until it is replayed, discarded or purged.
type DeadLetter struct {
	ID          int64
	TaskID      int64
	ExecutionID uuid.UUID
	Name        string
	Kind        string
	Queue       string
	Attempts    int
	Error       *TaskError
	CreatedAt   time.Time
}

func deadLetterFromRow(r *store.DeadLetter) *DeadLetter {
	return &DeadLetter{
		ID: r.ID, TaskID: r.TaskID, ExecutionID: r.ExecutionID, Name: r.Name, Kind: r.Kind,
		Queue: r.Queue, Attempts: int(r.Attempts), Error: decodeTaskError(r.Error), CreatedAt: r.CreatedAt,
	}
}

// DeadLetterListParams filters and pages ListDeadLetters.
type DeadLetterListParams struct {
	Name     string // function name; empty: all
	BeforeID int64  // continue after a page: the last ID seen
	Limit    int    // default 100, at most 10,000
}

// ListDeadLetters lists dead letters newest first.
func (c *Client) ListDeadLetters(ctx context.Context, p DeadLetterListParams) ([]*DeadLetter, error) {
	if p.Limit == 0 {
		p.Limit = 100
	}
	if p.Limit < 0 || p.Limit > 10000 {
		return nil, &InvalidArgumentError{Arg: "limit", Reason: "must be within [1, 10000]"}
	}
	rows, err := c.store.ListDeadLetters(ctx, p.Name, p.BeforeID, int32(p.Limit))
	if err != nil {
		return nil, err
	}
	out := make([]*DeadLetter, len(rows))
	for i, r := range rows {
		out[i] = deadLetterFromRow(r)
	}
	return out, nil
}

// GetDeadLetter returns one dead letter or ErrNotFound.
func (c *Client) GetDeadLetter(ctx context.Context, id int64) (*DeadLetter, error) {
	r, err := c.store.GetDeadLetter(ctx, id)
	if err != nil {
		return nil, err
	}
	return deadLetterFromRow(r), nil
}

// ReplayDeadLetter runs the dead letter's task again from a fresh attempt count (its failed
// execution becomes pending again) and removes the entry, atomically. It returns the task id.
func (c *Client) ReplayDeadLetter(ctx context.Context, id int64) (int64, error) {
	t, err := c.store.ReplayDeadLetter(ctx, id)
	if err != nil {
		return 0, err
	}
	c.logger.Info().Int64("dead_letter_id", id).Int64("task_id", t).Msg("stent: dead letter replayed")
	return t, nil
}

// DiscardDeadLetter deletes a dead letter (the failed execution stays failed). It returns
// ErrNotFound when there is no such entry.
func (c *Client) DiscardDeadLetter(ctx context.Context, id int64) error {
	ok, err := c.store.DiscardDeadLetter(ctx, id)
	if err != nil {
		return err
	}
	if !ok {
		return ErrNotFound
	}
	return nil
}

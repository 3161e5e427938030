package stent

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/stentdev/stent/internal/store"
)

// Retry runs a failed, cancelled or timed-out execution again from its checkpoints:
// completed activities, steps and child workflows keep their results and do not run again;
// the failed and cancelled tasks start over with fresh attempts, their dead letters are
// removed, and the workflow replays its code (stent.retry_execution in SQL). A deadline that
// already passed is dropped. It returns ErrWrongState for a pending, running or completed
// execution and ErrNotFound for an unknown one; nothing changes then.
func (c *Client) Retry(ctx context.Context, id uuid.UUID) error {
	return c.retry(ctx, c.store, id)
}

// RetryTx is Retry inside the caller's transaction: the execution runs again only if the
// transaction commits.
func (c *Client) RetryTx(ctx context.Context, tx pgx.Tx, id uuid.UUID) error {
	return c.retry(ctx, c.store.WithTx(tx), id)
}

func (c *Client) retry(ctx context.Context, st *store.Store, id uuid.UUID) error {
	n, err := st.RetryExecution(ctx, id)
	if err != nil {
		return err
	}
	c.logger.Info().Str("execution_id", id.String()).Int32("tasks_reset", n).Msg("stent: execution retried")
	return nil
}

package stent

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stentdev/stent/internal/store"
)

// Inline step checkpoints and child calls go through per-pool batchers (batch.go): one
// statement (stent.record_steps, stent.call_children) for all those made at the same moment.
var (
	stepBatchers sync.Map // *pgxpool.Pool → *batcher[store.StepRecord, store.StepResult]
	callBatchers sync.Map // *pgxpool.Pool → *batcher[store.ChildCall, *store.Task]
)

// recordStep checkpoints one inline step and returns what is recorded at its position.
func recordStep(pool *pgxpool.Pool, rec store.StepRecord) (store.StepResult, error) {
	b := batcherFor(&stepBatchers, pool, func() *batcher[store.StepRecord, store.StepResult] {
		st := store.New(pool)
		return &batcher[store.StepRecord, store.StepResult]{write: st.RecordSteps, refused: refusedWrite}
	})
	res, err := b.do(rec)
	if err == nil && res.LeaseLost {
		return res, fmt.Errorf("record step: %w", ErrLeaseLost)
	}
	return res, err
}

// recordCall records one child call and returns the row at its position.
func recordCall(pool *pgxpool.Pool, call store.ChildCall) (*store.Task, error) {
	b := batcherFor(&callBatchers, pool, func() *batcher[store.ChildCall, *store.Task] {
		st := store.New(pool)
		return &batcher[store.ChildCall, *store.Task]{write: st.CallChildren, refused: refusedWrite}
	})
	row, err := b.do(call)
	if err == nil && row == nil {
		return nil, fmt.Errorf("call child: %w", ErrLeaseLost)
	}
	return row, err
}

// callChildren records a workflow's calls (a fan-out) in statements of up to maxBatch.
func callChildren(ctx context.Context, pool *pgxpool.Pool, calls []store.ChildCall) ([]*store.Task, error) {
	st := store.New(pool)
	out := make([]*store.Task, 0, len(calls))
	for lo := 0; lo < len(calls); lo += maxBatch {
		rows, err := st.CallChildren(ctx, calls[lo:min(lo+maxBatch, len(calls))])
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			if r == nil {
				return nil, fmt.Errorf("call children: %w", ErrLeaseLost)
			}
		}
		out = append(out, rows...)
	}
	return out, nil
}

// refusedWrite reports whether the database refused a statement for its content (not for a
// connection or server problem).
func refusedWrite(err error) bool {
	var sia *store.InvalidArgumentError
	return errors.As(err, &sia) || errors.Is(err, store.ErrPayloadTooLarge)
}

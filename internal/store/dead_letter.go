package store

import (
	"context"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/stentdev/stent/db"
)

// GetDeadLetter reads one dead-letter entry.
func (s *Store) GetDeadLetter(ctx context.Context, id int64) (*DeadLetter, error) {
	d, err := s.q.DeadLetterGet(ctx, s.dbtx, id)
	return d, mapError("get dead letter", err)
}

// ListDeadLetters lists entries newest first; beforeID > 0 continues after a page.
func (s *Store) ListDeadLetters(ctx context.Context, name string, beforeID int64, limit int32) ([]*DeadLetter, error) {
	p := &db.DeadLetterListParams{Name: text(name), MaxRows: limit}
	if beforeID > 0 {
		p.BeforeID = pgtype.Int8{Int64: beforeID, Valid: true}
	}
	ds, err := s.q.DeadLetterList(ctx, s.dbtx, p)
	return ds, mapError("list dead letters", err)
}

// ReplayDeadLetter re-queues the entry's task and returns its id.
func (s *Store) ReplayDeadLetter(ctx context.Context, id int64) (int64, error) {
	t, err := s.q.DeadLetterReplay(ctx, s.dbtx, id)
	return t, mapError("replay dead letter", err)
}

// DiscardDeadLetter deletes an entry; false when it did not exist.
func (s *Store) DiscardDeadLetter(ctx context.Context, id int64) (bool, error) {
	ok, err := s.q.DeadLetterDiscard(ctx, s.dbtx, id)
	return ok, mapError("discard dead letter", err)
}

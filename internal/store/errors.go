package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"
)

// Custom SQLSTATEs raised by Stent's PL/pgSQL (see sql/functions/install.sql).
const (
	CodeLeaseLost       = "ST001"
	CodeNotFound        = "ST002"
	CodeInvalidArgument = "ST003"
	CodeWrongState      = "ST004"
)

// Errors the adapter returns; package stent re-exports them under its own names.
var (
	ErrNotFound        = errors.New("not found")
	ErrLeaseLost       = errors.New("lease lost")
	ErrWrongState      = errors.New("wrong state")
	ErrPayloadTooLarge = errors.New("payload too large")
	ErrSchemaMissing   = errors.New("stent schema or functions not installed")
	ErrClosed          = errors.New("pool closed")
)

// InvalidArgumentError is a bad argument rejected by the database; nothing was changed.
type InvalidArgumentError struct {
	Message string
}

func (e *InvalidArgumentError) Error() string { return e.Message }

// mapError turns a database error into a Stent error, keeping the original wrapped with its
// message (the SQL functions' messages name the offending row and value).
func mapError(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: %w", op, ErrNotFound)
	}
	if errors.Is(err, puddle.ErrClosedPool) {
		return fmt.Errorf("%s: %w", op, ErrClosed)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", op, err)
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return fmt.Errorf("%s: %w", op, err)
	}
	switch pgErr.Code {
	case CodeLeaseLost:
		return fmt.Errorf("%s: %w: %s", op, ErrLeaseLost, pgErr.Message)
	case CodeNotFound:
		return fmt.Errorf("%s: %w: %s", op, ErrNotFound, pgErr.Message)
	case CodeWrongState:
		return fmt.Errorf("%s: %w: %s", op, ErrWrongState, pgErr.Message)
	case CodeInvalidArgument, "22P02", "22007", "22008", "22003", "2202E":
		// 22P02 invalid text representation, 22007/22008 bad datetime, 22003 out of range.
		return &InvalidArgumentError{Message: fmt.Sprintf("%s: %s", op, pgErr.Message)}
	case "23514":
		switch pgErr.ConstraintName {
		case "executions_payload_size", "tasks_payload_size", "signals_payload_size":
			return fmt.Errorf("%s: %w (constraint %s)", op, ErrPayloadTooLarge, pgErr.ConstraintName)
		}
		return &InvalidArgumentError{Message: fmt.Sprintf("%s: %s (constraint %s)", op, pgErr.Message, pgErr.ConstraintName)}
	case "3F000", "42P01", "42883":
		// Schema, table or function missing: not migrated.
		return fmt.Errorf("%s: %w: %s", op, ErrSchemaMissing, pgErr.Message)
	}
	return fmt.Errorf("%s: %w", op, err)
}

package stent

import (
	"errors"
	"fmt"
	"strings"

	"github.com/stentdev/stent/internal/store"
)

// Sentinel errors, usable with errors.Is.
var (
	// ErrNotFound: no execution, task or dead letter with that id.
	ErrNotFound = store.ErrNotFound
	// ErrLeaseLost: the attempt no longer owns its task (it was rescued, cancelled or claimed
	// again); its result was discarded.
	ErrLeaseLost = store.ErrLeaseLost
	// ErrWrongState: the row exists but its state does not allow the operation (for example
	// replaying a dead letter whose task is no longer failed).
	ErrWrongState = store.ErrWrongState
	// ErrPayloadTooLarge: an encoded input, output or error exceeds Config.MaxPayloadBytes
	// (or the database's backstop).
	ErrPayloadTooLarge = store.ErrPayloadTooLarge
	// ErrSchemaMissing: Stent's schema or functions are not installed; run stent.Migrate.
	ErrSchemaMissing = store.ErrSchemaMissing
	// ErrCancelled: the execution was cancelled.
	ErrCancelled = errors.New("execution cancelled")
	// ErrTimedOut: the execution passed its deadline.
	ErrTimedOut = errors.New("execution timed out")
	// ErrClosed: the client (or its pool) is closed.
	ErrClosed = errors.New("stent: client closed")
)

// InvalidArgumentError is returned for bad input — a malformed name, a negative duration, an
// out-of-range option. Nothing was changed.
type InvalidArgumentError struct {
	Arg    string
	Reason string
}

func (e *InvalidArgumentError) Error() string {
	if e.Arg == "" {
		return "stent: invalid argument: " + e.Reason
	}
	return fmt.Sprintf("stent: invalid %s: %s", e.Arg, e.Reason)
}

// UnregisteredError is returned when dispatching (or running) a function name the registry
// does not know. It lists what is registered.
type UnregisteredError struct {
	Name       string
	Registered []string
}

func (e *UnregisteredError) Error() string {
	if len(e.Registered) == 0 {
		return fmt.Sprintf("stent: function %q is not registered (nothing is registered)", e.Name)
	}
	return fmt.Sprintf("stent: function %q is not registered; registered: %s", e.Name, strings.Join(e.Registered, ", "))
}

// SchemaVersionError is returned by CheckSchema (and worker start) when the database's schema
// is not the version this build expects.
type SchemaVersionError struct {
	Have, Want         int32 // migration versions
	HaveCode, WantCode int32 // function package versions
}

func (e *SchemaVersionError) Error() string {
	return fmt.Sprintf("stent: database schema is at version %d (functions %d) but this build expects version %d (functions %d); "+
		"run `stent migrate up` (or call stent.Migrate) against this database", e.Have, e.HaveCode, e.Want, e.WantCode)
}

// ExecutionError is returned by Wait when the execution failed, was cancelled or timed out.
// It wraps the stored error (a *TaskError) and matches ErrCancelled / ErrTimedOut.
type ExecutionError struct {
	ExecutionID string
	State       ExecutionState
	Err         *TaskError
}

func (e *ExecutionError) Error() string {
	msg := "no error recorded"
	if e.Err != nil {
		msg = e.Err.Error()
	}
	return fmt.Sprintf("stent: execution %s %s: %s", e.ExecutionID, e.State, msg)
}

func (e *ExecutionError) Unwrap() error {
	if e.Err == nil {
		return nil
	}
	return e.Err
}

// Is matches ErrCancelled and ErrTimedOut by state.
func (e *ExecutionError) Is(target error) bool {
	switch target {
	case ErrCancelled:
		return e.State == StateCancelled
	case ErrTimedOut:
		return e.State == StateTimedOut
	}
	return false
}

func mapStoreError(err error) error {
	var ia *store.InvalidArgumentError
	if errors.As(err, &ia) {
		return &InvalidArgumentError{Reason: ia.Message}
	}
	return err
}

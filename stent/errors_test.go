package stent_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/stenttest"
	"github.com/stentdev/stent/worker"
)

// waitFailed waits for the execution and requires that it failed; it returns the error.
func waitFailed(t *testing.T, b *testBundle, id uuid.UUID) *stent.TaskError {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, waitTimeout)
	defer cancel()
	e, err := b.client.Wait(ctx, id)
	var ee *stent.ExecutionError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, stent.StateFailed, ee.State)
	require.Equal(t, stent.StateFailed, e.State)
	require.NotNil(t, ee.Err)
	require.Equal(t, ee.Err, e.Error)
	return ee.Err
}

// requireDeadLettered checks the task failed at the given attempt with exactly one dead
// letter carrying the same error as the task and its execution.
func requireDeadLettered(t *testing.T, b *testBundle, execID uuid.UUID, attempt int) map[string]any {
	t.Helper()
	task := b.rootTask(t, execID)
	require.Equal(t, "failed", task.State)
	require.EqualValues(t, attempt, task.Attempt)
	dls, err := b.client.ListDeadLetters(b.ctx, stent.DeadLetterListParams{})
	require.NoError(t, err)
	require.Len(t, dls, 1)
	require.Equal(t, task.ID, dls[0].TaskID)
	require.Equal(t, execID, dls[0].ExecutionID)
	require.Equal(t, attempt, dls[0].Attempts)
	stored := storedError(t, task.Error)
	require.Equal(t, stored, storedError(t, b.execution(t, execID).Error))
	require.EqualValues(t, attempt, stored["attempt"])
	return stored
}

// TestPermanentError: an error marked Permanent fails the task at its first attempt (with
// attempts left), dead-letters it, and is stored whole as {kind, message, retryable, attempt}.
func TestPermanentError(t *testing.T) {
	t.Parallel()
	b := setup(t)
	msg := strings.Repeat("card declined by issuer; ", 400) // 10,000 bytes: stored in full
	act := stent.NewActivity("errors.permanent", func(context.Context, string) (string, error) {
		return "", stent.Permanent(errors.New(msg))
	}, stent.InRegistry(b.reg), stent.Retry(stent.RetryPolicy{MaxAttempts: 5}))
	stenttest.StartWorker(t, b.client, worker.Config{})

	id, _ := b.dispatch(t, act, "in")
	te := waitFailed(t, b, id)
	require.Equal(t, &stent.TaskError{Kind: stent.KindError, Message: msg, Retryable: false, Attempt: 1}, te)
	stored := requireDeadLettered(t, b, id, 1)
	require.Equal(t, map[string]any{"kind": "error", "message": msg, "retryable": false, "attempt": float64(1)}, stored)
}

// TestPanicError: a panic is recorded with kind "panic" and the goroutine's stack.
func TestPanicError(t *testing.T) {
	t.Parallel()
	b := setup(t)
	act := stent.NewActivity("errors.panic", func(context.Context, string) (string, error) {
		panic("index out of range in the activity")
	}, stent.InRegistry(b.reg), stent.Retry(stent.RetryPolicy{MaxAttempts: 1}))
	stenttest.StartWorker(t, b.client, worker.Config{})

	id, _ := b.dispatch(t, act, "in")
	te := waitFailed(t, b, id)
	require.Equal(t, stent.KindPanic, te.Kind)
	require.Contains(t, te.Message, "index out of range in the activity")
	require.Contains(t, te.Stack, "errors_test.go", "the stack shows the panicking function")
	require.True(t, te.Retryable, "a panic is an ordinary, retryable failure")
	stored := requireDeadLettered(t, b, id, 1)
	require.Equal(t, te.Stack, stored["stack"])
}

// TestRetryOnKinds: with RetryOn ["conn_reset"], an error of that kind is retried (and the
// next attempt succeeds) while an error of any other kind fails the task at once.
func TestRetryOnKinds(t *testing.T) {
	t.Parallel()
	b := setup(t)
	act := stent.NewActivity("errors.kinds", func(ctx context.Context, in string) (string, error) {
		info, _ := stent.AttemptFrom(ctx)
		switch {
		case in == "reset" && info.Attempt == 1:
			return "", stent.WithKind("conn_reset", errors.New("read: connection reset by peer"))
		case in == "server":
			return "", stent.WithKind("http_500", errors.New("internal server error"))
		}
		return fmt.Sprintf("ok at attempt %d", info.Attempt), nil
	}, stent.InRegistry(b.reg), stent.Retry(stent.RetryPolicy{
		MaxAttempts: 3, InitialDelay: time.Minute, Jitter: stent.NoJitter, RetryOn: []string{"conn_reset"}}))
	stenttest.StartWorker(t, b.client, worker.Config{})

	server, _ := b.dispatch(t, act, "server")
	te := waitFailed(t, b, server)
	require.Equal(t, "http_500", te.Kind)
	require.Equal(t, "internal server error", te.Message)
	require.Equal(t, 1, te.Attempt)
	requireDeadLettered(t, b, server, 1)

	reset, taskID := b.dispatch(t, act, "reset")
	pollUntil(t, "the first attempt to fail", func() bool {
		tk := b.task(t, taskID)
		return tk.State == "pending" && tk.Attempt == 1
	})
	stored := storedError(t, b.task(t, taskID).Error)
	require.Equal(t, "conn_reset", stored["kind"])
	require.Equal(t, true, stored["retryable"])
	b.clock.Advance(time.Minute) // the retry becomes due

	ctx, cancel := context.WithTimeout(b.ctx, waitTimeout)
	defer cancel()
	out, err := act.Wait(ctx, b.client, reset)
	require.NoError(t, err)
	require.Equal(t, "ok at attempt 2", out)
	require.EqualValues(t, 2, b.task(t, taskID).Attempt)
	require.Equal(t, 1, b.count(t, "select count(*) from stent.dead_letters"), "only the http_500 task")
}

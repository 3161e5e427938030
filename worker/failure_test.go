package worker_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/worker"
)

// requireDeadLettered waits for the execution and checks that it failed after attempts
// attempts with an error of the given kind, recorded on its task and in its dead letter.
func requireDeadLettered(b *testBundle, id uuid.UUID, attempts int, kind string) *stent.DeadLetter {
	b.t.Helper()
	_, err := b.waitExec(id)
	var ee *stent.ExecutionError
	require.ErrorAs(b.t, err, &ee)
	require.Equal(b.t, stent.StateFailed, ee.State)
	require.Equal(b.t, kind, ee.Err.Kind, "execution error: %v", ee.Err)
	task := b.root(id)
	require.Equal(b.t, "failed", task.State)
	require.Equal(b.t, attempts, task.Attempt)
	require.Equal(b.t, kind, task.Error.Kind)
	require.Equal(b.t, attempts, task.Error.Attempt)
	dl := b.deadLetter(id)
	require.Equal(b.t, attempts, dl.Attempts)
	require.Equal(b.t, kind, dl.Error.Kind)
	return dl
}

// TestUndecodableInput dispatches, from SQL, input that does not decode into the
// activity's type: every attempt fails with kind "decode" and, once its retries are spent,
// the task is dead-lettered, while the same worker keeps completing other tasks.
func TestUndecodableInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var decodedRuns atomic.Int32
	stent.NewActivity("decode.typed", func(ctx context.Context, in num) (int, error) {
		decodedRuns.Add(1)
		return in.N, nil
	}, b.in(), fastRetry(2))
	echo := stent.NewActivity("decode.echo", func(ctx context.Context, in string) (string, error) { return in, nil }, b.in())
	// The worker registers the functions' defaults (retry policy) used by SQL dispatches.
	b.startWorker(worker.Config{})

	var bad, good uuid.UUID
	require.NoError(t, b.pool.QueryRow(b.ctx(),
		`select execution_id from stent.dispatch('decode.typed', '{"N": "not-a-number"}'::jsonb)`).Scan(&bad))
	require.NoError(t, b.pool.QueryRow(b.ctx(),
		`select execution_id from stent.dispatch('decode.typed', '{"N": 21}'::jsonb)`).Scan(&good))
	others := make([]uuid.UUID, 5)
	for i := range others {
		id, err := echo.Dispatch(b.ctx(), b.client, "still serving")
		require.NoError(t, err)
		others[i] = id
	}

	dl := requireDeadLettered(b, bad, 2, stent.KindDecode)
	require.Contains(t, dl.Error.Message, "decode.typed")
	require.True(t, dl.Error.Retryable, "a decode error follows the retry policy")
	out, err := b.waitExec(good)
	require.NoError(t, err)
	require.JSONEq(t, "21", string(out.Output))
	require.Equal(t, int32(1), decodedRuns.Load(), "the function never ran on the bad input")
	for _, id := range others {
		out, err := echo.Wait(b.ctx(), b.client, id)
		require.NoError(t, err)
		require.Equal(t, "still serving", out)
	}
}

// panicAlways is a named function so that the recorded stack can be checked for its frame.
func panicAlways(ctx context.Context, in string) (string, error) {
	panic("boom: " + in)
}

// TestPanic checks that a panicking attempt fails with kind "panic" and a stack that
// contains the panicking function, that the worker keeps serving, and that a function that
// panics on every attempt is dead-lettered after MaxAttempts.
func TestPanic(t *testing.T) {
	t.Parallel()

	t.Run("RecoversOnRetry", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var calls atomic.Int32
		flaky := stent.NewActivity("panic.once", func(ctx context.Context, in string) (string, error) {
			if calls.Add(1) == 1 {
				panic("first attempt explodes")
			}
			return "survived " + in, nil
		}, b.in(), fastRetry(2))
		b.startWorker(worker.Config{})
		id, err := flaky.Dispatch(b.ctx(), b.client, "x")
		require.NoError(t, err)
		out, err := flaky.Wait(b.ctx(), b.client, id)
		require.NoError(t, err)
		require.Equal(t, "survived x", out)
		require.Equal(t, int32(2), calls.Load())
		require.Equal(t, 2, b.root(id).Attempt)
	})

	t.Run("PanicAgainAfterRetry", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		doomed := stent.NewActivity("panic.always", panicAlways, b.in(), fastRetry(2))
		echo := stent.NewActivity("panic.echo", func(ctx context.Context, in string) (string, error) { return in, nil }, b.in())
		b.startWorker(worker.Config{Concurrency: 1})

		id, err := doomed.Dispatch(b.ctx(), b.client, "x")
		require.NoError(t, err)
		dl := requireDeadLettered(b, id, 2, stent.KindPanic)
		require.Contains(t, dl.Error.Message, "boom: x")
		require.Contains(t, dl.Error.Stack, "worker_test.panicAlways", "the stack names the panicking function")
		require.True(t, dl.Error.Retryable)

		// The one slot is free again: the worker still serves.
		out, err := echo.Run(b.ctx(), b.client, "alive")
		require.NoError(t, err)
		require.Equal(t, "alive", out)
	})
}

// TestAttemptTimeout checks that an attempt exceeding the function's Timeout has its
// context cancelled, fails with kind "timeout" and is retried.
func TestAttemptTimeout(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var calls atomic.Int32
	expired := make(chan error, 2)
	slow := stent.NewActivity("timeout.slow", func(ctx context.Context, in string) (string, error) {
		calls.Add(1)
		select {
		case <-ctx.Done():
			expired <- ctx.Err()
			return "", ctx.Err()
		case <-b.done:
			return "", errors.New("test ended")
		}
	}, b.in(), stent.Timeout(100*time.Millisecond), fastRetry(2))
	b.startWorker(worker.Config{})

	id, err := slow.Dispatch(b.ctx(), b.client, "x")
	require.NoError(t, err)
	dl := requireDeadLettered(b, id, 2, stent.KindTimeout)
	require.Contains(t, dl.Error.Message, "timeout")
	require.Equal(t, int32(2), calls.Load(), "the timed-out attempt was retried")
	for range 2 {
		require.ErrorIs(t, receive(t, expired, "the attempt's deadline"), context.DeadlineExceeded)
	}
}

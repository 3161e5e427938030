package hub

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

func closed(w *Waiter) bool {
	select {
	case <-w.C:
		return true
	default:
		return false
	}
}

func TestFinishedWakesEveryWaiterOnce(t *testing.T) {
	t.Parallel()
	exec := uuid.New()
	a, stopA := Wait(exec, 41)
	b, stopB := Wait(exec, 41)
	other, stopOther := Wait(exec, 42)
	defer stopA()
	defer stopB()
	defer stopOther()

	out := &Outcome{State: "completed", Output: []byte(`7`)}
	Finished(exec, 41, out)
	for _, w := range []*Waiter{a, b} {
		require.True(t, closed(w), "a waiter of the finished task was not woken")
		require.Equal(t, out, w.Outcome())
	}
	require.False(t, closed(other), "a waiter of another task was woken")
	Finished(exec, 41, nil) // a second report finds nobody and must not close a channel twice
	Finished(exec, 42, nil)
	require.True(t, closed(other))
	require.Nil(t, other.Outcome(), "a report without an outcome leaves the waiter to read it")
}

// TestOtherExecutionSameTaskID: task ids repeat across databases; a report for another
// execution's task with the same id must not hand its output over.
func TestOtherExecutionSameTaskID(t *testing.T) {
	t.Parallel()
	mine, theirs := uuid.New(), uuid.New()
	w, stop := Wait(mine, 77)
	defer stop()
	Finished(theirs, 77, &Outcome{State: "completed", Output: []byte(`"theirs"`)})
	require.False(t, closed(w))
	Announced(77) // by id only: wakes it without an outcome, to read its own database
	require.True(t, closed(w))
	require.Nil(t, w.Outcome())
}

// TestLateWaitSeesRecentCompletion: a wait registered just after its task completed here
// resumes at once with the output; an oversized output is remembered without it.
func TestLateWaitSeesRecentCompletion(t *testing.T) {
	t.Parallel()
	exec := uuid.New()
	out := &Outcome{State: "completed", Output: []byte(`1`)}
	Finished(exec, 501, out)
	w, stop := Wait(exec, 501)
	defer stop()
	require.True(t, closed(w))
	require.Equal(t, out, w.Outcome())

	Finished(exec, 502, &Outcome{State: "completed", Output: make([]byte, recentMaxOutput+1)})
	big, stopBig := Wait(exec, 502)
	defer stopBig()
	require.True(t, closed(big))
	require.Nil(t, big.Outcome(), "too large to keep: read it")

	fresh, stopFresh := Wait(uuid.New(), 501)
	defer stopFresh()
	require.False(t, closed(fresh), "another execution's task 501 is not finished")
}

func TestStopForgetsTheWaiter(t *testing.T) {
	t.Parallel()
	w, stop := Wait(uuid.New(), 7)
	stop()
	Announced(7)
	require.False(t, closed(w), "a waiter that stopped waiting was woken")
	mu.Lock()
	defer mu.Unlock()
	require.NotContains(t, waiters, int64(7))
}

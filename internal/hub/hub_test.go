package hub

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFinishedWakesEveryWaiterOnce(t *testing.T) {
	t.Parallel()
	a, stopA := Wait(41)
	b, stopB := Wait(41)
	other, stopOther := Wait(42)
	defer stopA()
	defer stopB()
	defer stopOther()

	out := &Outcome{State: "completed", Output: []byte(`7`)}
	Finished(41, out)
	for _, w := range []*Waiter{a, b} {
		select {
		case <-w.C:
			require.Equal(t, out, w.Outcome())
		default:
			require.FailNow(t, "a waiter of the finished task was not woken")
		}
	}
	select {
	case <-other.C:
		require.FailNow(t, "a waiter of another task was woken")
	default:
	}
	Finished(41, nil) // a second report finds nobody and must not close a channel twice
	Finished(42, nil)
	<-other.C
	require.Nil(t, other.Outcome(), "a report without an outcome leaves the waiter to read it")
}

func TestStopForgetsTheWaiter(t *testing.T) {
	t.Parallel()
	w, stop := Wait(7)
	stop()
	Finished(7, nil)
	select {
	case <-w.C:
		require.FailNow(t, "a waiter that stopped waiting was woken")
	default:
	}
	mu.Lock()
	defer mu.Unlock()
	require.NotContains(t, waiters, int64(7))
}

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

	Finished(41)
	for _, ch := range []<-chan struct{}{a, b} {
		select {
		case <-ch:
		default:
			require.FailNow(t, "a waiter of the finished task was not woken")
		}
	}
	select {
	case <-other:
		require.FailNow(t, "a waiter of another task was woken")
	default:
	}
	Finished(41) // a second report finds nobody and must not close a channel twice
}

func TestStopForgetsTheWaiter(t *testing.T) {
	t.Parallel()
	ch, stop := Wait(7)
	stop()
	Finished(7)
	select {
	case <-ch:
		require.FailNow(t, "a waiter that stopped waiting was woken")
	default:
	}
	mu.Lock()
	defer mu.Unlock()
	require.NotContains(t, waiters, int64(7))
}

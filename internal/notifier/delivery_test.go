package notifier

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestFullBufferCoalesces(t *testing.T) {
	t.Parallel()
	pool := newTestPool(t)
	n := newTestNotifier(t, pool, Config{})
	startNotifier(t, n)

	chA, chB := uniqueChannel(t), uniqueChannel(t)
	slow, marker := n.Subscribe(chA), n.Subscribe(chB)
	waitClosed(t, slow.Ready(), "slow ready")
	waitClosed(t, marker.Ready(), "marker ready")

	const sent = SubscriptionBuffer + 44
	_, err := pool.Exec(context.Background(),
		"SELECT pg_notify($1, g::text) FROM generate_series(1, $2::int) AS g", chA, sent)
	require.NoError(t, err)
	// Notifications are delivered in commit order: once this one arrives,
	// all of the above were handled.
	notify(t, pool, chB, "done")
	require.Equal(t, "done", receiveNotification(t, marker).Payload)

	// The first overflow evicted "1", appended a marker and dropped its own
	// notification; later ones were dropped behind that marker.
	got := drain(slow)
	require.Len(t, got, SubscriptionBuffer)
	for i, ev := range got[:SubscriptionBuffer-1] {
		require.Equal(t, Notification{Channel: chA, Payload: strconv.Itoa(i + 2)}, ev)
	}
	require.Equal(t, Notification{Reconnect: true}, got[SubscriptionBuffer-1])
	require.EqualValues(t, sent-(SubscriptionBuffer-1), slow.Dropped())
	require.EqualValues(t, sent-(SubscriptionBuffer-1), n.Dropped())
	require.Zero(t, marker.Dropped())

	// Once drained, delivery is normal again.
	notify(t, pool, chA, "fresh")
	require.Equal(t, Notification{Channel: chA, Payload: "fresh"}, receive(t, slow))
}

func TestDeliverLockedGuarantee(t *testing.T) {
	t.Parallel()
	n := New(nil, Config{})
	s := n.Subscribe("c")

	n.mu.Lock()
	for i := range SubscriptionBuffer {
		n.deliverLocked(s, Notification{Channel: "c", Payload: strconv.Itoa(i)})
	}
	n.deliverLocked(s, Notification{Channel: "c", Payload: "lost-1"}) // evicts "0", appends marker
	n.deliverLocked(s, Notification{Channel: "c", Payload: "lost-2"}) // behind the marker
	n.broadcastReconnectLocked()                                      // coalesced into the marker
	n.mu.Unlock()
	require.EqualValues(t, 3, s.Dropped())

	// Read some, then overflow again: a new marker must follow the new loss.
	for range 10 {
		<-s.C
	}
	n.mu.Lock()
	for i := range 11 {
		n.deliverLocked(s, Notification{Channel: "c", Payload: "x" + strconv.Itoa(i)})
	}
	n.mu.Unlock()
	got := drain(s)
	require.Len(t, got, SubscriptionBuffer)
	require.Equal(t, Notification{Reconnect: true}, got[len(got)-1])
	require.EqualValues(t, 5, s.Dropped()) // "x10" and the evicted oldest

	s.Unsubscribe()
	n.mu.Lock()
	n.dispatchLocked("c", "after") // no subscriber left: nothing to send on
	n.mu.Unlock()
}

func TestChurnDuringDelivery(t *testing.T) {
	t.Parallel()
	pool := newTestPool(t)
	n := newTestNotifier(t, pool, Config{PingInterval: time.Millisecond})
	ch := uniqueChannel(t)
	sub := n.Subscribe(ch)
	startNotifier(t, n)
	waitClosed(t, sub.Ready(), "subscription ready")

	// Subscriptions come and go while notifications flow, so the wait is
	// interrupted all the time, including in the middle of messages.
	stop := make(chan struct{})
	churned := make(chan struct{})
	prefix := uniqueChannel(t)
	go func() {
		defer close(churned)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			s := n.Subscribe(prefix + "_" + strconv.Itoa(i%8))
			s.Unsubscribe()
		}
	}()

	const batches, perBatch = 10, 50
	for b := range batches {
		_, err := pool.Exec(context.Background(),
			"SELECT pg_notify($1, ($2::int * 1000 + g)::text) FROM generate_series(1, $3::int) AS g", ch, b, perBatch)
		require.NoError(t, err)
		for i := 1; i <= perBatch; i++ {
			require.Equal(t, strconv.Itoa(b*1000+i), receiveNotification(t, sub).Payload)
		}
	}
	close(stop)
	<-churned
	require.Zero(t, n.Dropped())
}

package notifier

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
)

func TestDeliveryTwoChannelsTwoSubscribers(t *testing.T) {
	t.Parallel()
	pool := newTestPool(t)
	// A tiny ping interval makes the loop interrupt its wait constantly, so
	// pings and partially read notifications are exercised too.
	n := newTestNotifier(t, pool, Config{PingInterval: 5 * time.Millisecond})
	chA, chB := uniqueChannel(t), uniqueChannel(t)

	both := n.Subscribe(chA, chB, chA) // duplicates are ignored
	onlyA := n.Subscribe(chA)
	require.Equal(t, []string{chA, chB}, both.Channels())
	startNotifier(t, n)
	waitClosed(t, both.Ready(), "both ready")
	waitClosed(t, onlyA.Ready(), "onlyA ready")
	require.NotZero(t, n.BackendPID())

	// Subscribed before the first connection: both got its Reconnect event.
	require.Equal(t, Notification{Reconnect: true}, receive(t, both))
	require.Equal(t, Notification{Reconnect: true}, receive(t, onlyA))

	notify(t, pool, chA, "a1")
	notify(t, pool, chB, "b1")
	notify(t, pool, chA, "a2")

	require.Equal(t, Notification{Channel: chA, Payload: "a1"}, receiveNotification(t, both))
	require.Equal(t, Notification{Channel: chB, Payload: "b1"}, receiveNotification(t, both))
	require.Equal(t, Notification{Channel: chA, Payload: "a2"}, receiveNotification(t, both))
	require.Equal(t, Notification{Channel: chA, Payload: "a1"}, receiveNotification(t, onlyA))
	require.Equal(t, Notification{Channel: chA, Payload: "a2"}, receiveNotification(t, onlyA), "b1 must not reach onlyA")
	require.Zero(t, n.Dropped())
}

func TestSubscribeAfterStart(t *testing.T) {
	t.Parallel()
	pool := newTestPool(t)
	// No ping will interrupt the wait: Subscribe itself must do it.
	n := newTestNotifier(t, pool, Config{PingInterval: time.Hour})
	startNotifier(t, n)

	ch := uniqueChannel(t)
	sub := n.Subscribe(ch)
	waitClosed(t, sub.Ready(), "subscription ready")
	require.True(t, isActive(n, ch))

	// A channel already listened on is ready at once.
	second := n.Subscribe(ch)
	select {
	case <-second.Ready():
	default:
		require.FailNow(t, "second subscription on a listened channel is not ready")
	}

	notify(t, pool, ch, "hello")
	require.Equal(t, Notification{Channel: ch, Payload: "hello"}, receive(t, sub))
	require.Equal(t, Notification{Channel: ch, Payload: "hello"}, receive(t, second))
	require.Empty(t, drain(sub), "no Reconnect event for a subscription made while connected")
}

func TestUnsubscribeStopsDelivery(t *testing.T) {
	t.Parallel()
	pool := newTestPool(t)
	n := newTestNotifier(t, pool, Config{PingInterval: time.Hour})
	startNotifier(t, n)

	chA := uniqueChannel(t)
	leaving, staying := n.Subscribe(chA), n.Subscribe(chA)
	waitClosed(t, leaving.Ready(), "leaving ready")
	waitClosed(t, staying.Ready(), "staying ready")

	notify(t, pool, chA, "before")
	require.Equal(t, "before", receiveNotification(t, leaving).Payload)
	require.Equal(t, "before", receiveNotification(t, staying).Payload)

	leaving.Unsubscribe()
	leaving.Unsubscribe() // idempotent
	notify(t, pool, chA, "after")
	// Once staying has it, delivery to leaving would have happened too.
	require.Equal(t, "after", receiveNotification(t, staying).Payload)
	require.Empty(t, drain(leaving))
	_, open := <-leaving.C
	require.False(t, open, "C is closed by Unsubscribe")

	// The last subscriber leaving UNLISTENs. The loop applies changes in
	// order, so once a later subscription is ready, chA is gone.
	staying.Unsubscribe()
	chB := uniqueChannel(t)
	other := n.Subscribe(chB)
	waitClosed(t, other.Ready(), "other ready")
	require.False(t, isActive(n, chA))
	require.True(t, isActive(n, chB))

	// Subscribing again after the UNLISTEN listens again.
	again := n.Subscribe(chA)
	waitClosed(t, again.Ready(), "again ready")
	notify(t, pool, chA, "again")
	require.Equal(t, "again", receiveNotification(t, again).Payload)
}

func TestReconnectAfterBackendTerminated(t *testing.T) {
	t.Parallel()
	pool := newTestPool(t)
	n := newTestNotifier(t, pool, Config{MaxBackoff: time.Second})
	startNotifier(t, n)

	ch := uniqueChannel(t)
	sub := n.Subscribe(ch)
	waitClosed(t, sub.Ready(), "subscription ready")
	notify(t, pool, ch, "before")
	require.Equal(t, "before", receiveNotification(t, sub).Payload)

	for i := range 2 { // twice: the second time exercises a grown backoff
		pid := n.BackendPID()
		require.NotZero(t, pid)
		var terminated bool
		err := pool.QueryRow(context.Background(), "SELECT pg_terminate_backend($1)", int32(pid)).Scan(&terminated)
		require.NoError(t, err)
		require.True(t, terminated)

		// Reconnect is sent once the channels are listened on again.
		receiveReconnect(t, sub)
		newPID := n.BackendPID()
		require.NotZero(t, newPID)
		require.NotEqual(t, pid, newPID)

		payload := "after-" + strconv.Itoa(i)
		notify(t, pool, ch, payload)
		require.Equal(t, Notification{Channel: ch, Payload: payload}, receiveNotification(t, sub))
	}
}

func TestStopIdempotentAndBeforeStart(t *testing.T) {
	t.Parallel()
	pool := newTestPool(t)
	n := newTestNotifier(t, pool, Config{})
	n.Stop()
	n.Stop()
	require.Zero(t, n.BackendPID())

	ch := uniqueChannel(t)
	sub := n.Subscribe(ch)
	startNotifier(t, n)
	require.NoError(t, n.Start(context.Background()), "Start while running is a no-op")
	receiveReconnect(t, sub)
	n.Stop()
	n.Stop()
	require.Zero(t, n.BackendPID())

	// Restart after Stop: the subscription survives and is told to poll.
	require.NoError(t, n.Start(context.Background()))
	receiveReconnect(t, sub)
	notify(t, pool, ch, "restarted")
	require.Equal(t, "restarted", receiveNotification(t, sub).Payload)
}

func TestStartEndsWithContext(t *testing.T) {
	t.Parallel()
	pool := newTestPool(t)
	n := newTestNotifier(t, pool, Config{})

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	require.Error(t, n.Start(cancelled))

	ctx, cancel := context.WithCancel(context.Background())
	sub := n.Subscribe(uniqueChannel(t))
	require.NoError(t, n.Start(ctx))
	receiveReconnect(t, sub)
	cancel()
	// Start after the loop ended with its context starts a new one.
	require.NoError(t, n.Start(context.Background()))
	receiveReconnect(t, sub)
}

func TestStartDoesNotWaitForConnection(t *testing.T) {
	t.Parallel()
	// Nothing listens on port 1: every connection attempt fails.
	pool := newTestPool(t, func(c *pgxpool.Config) {
		c.ConnConfig.Host, c.ConnConfig.Port = "127.0.0.1", 1
	})
	n := newTestNotifier(t, pool, Config{MaxBackoff: 50 * time.Millisecond})
	sub := n.Subscribe(uniqueChannel(t))
	require.NoError(t, n.Start(context.Background()))

	select {
	case <-n.Connected():
		require.FailNow(t, "connected to a closed port")
	case <-sub.Ready():
		require.FailNow(t, "ready without a connection")
	default:
	}
	require.Zero(t, n.BackendPID())
	n.Stop() // returns although the loop is reconnecting
}

func TestHijackedConnectionLeavesPool(t *testing.T) {
	t.Parallel()
	pool := newTestPool(t, func(c *pgxpool.Config) {
		c.MaxConns = 1
	})
	n := newTestNotifier(t, pool, Config{})
	ch := uniqueChannel(t)
	sub := n.Subscribe(ch)
	startNotifier(t, n)
	waitClosed(t, sub.Ready(), "subscription ready")

	// The listen connection does not occupy the pool's only slot.
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	conn, err := pool.Acquire(ctx)
	require.NoError(t, err)
	require.NotEqual(t, n.BackendPID(), conn.Conn().PgConn().PID())
	conn.Release()

	notify(t, pool, ch, "pooled")
	require.Equal(t, "pooled", receiveNotification(t, sub).Payload)
}

func TestStartStopStress(t *testing.T) {
	t.Parallel()
	pool := newTestPool(t)
	shared := newTestNotifier(t, pool, Config{PingInterval: 10 * time.Millisecond})
	ch := uniqueChannel(t)
	sub := shared.Subscribe(ch)

	const goroutines, cycles = 8, 15
	prefix := uniqueChannel(t)
	errs := make(chan error, goroutines)
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			own := New(pool, Config{PingInterval: 10 * time.Millisecond})
			defer own.Stop()
			for c := range cycles {
				if err := shared.Start(context.Background()); err != nil {
					errs <- err
					return
				}
				if err := own.Start(context.Background()); err != nil {
					errs <- err
					return
				}
				churn := shared.Subscribe(ch, prefix+"_"+strconv.Itoa(c))
				ownSub := own.Subscribe(prefix + "_own")
				if c%3 == 0 {
					// Sometimes get as far as listening before stopping.
					select {
					case <-ownSub.Ready():
					case <-time.After(waitTimeout):
						errs <- errors.New("timed out waiting for own subscription")
						return
					}
				}
				churn.Unsubscribe()
				shared.Stop()
				own.Stop()
				ownSub.Unsubscribe()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Zero(t, shared.BackendPID())

	// The shared notifier still works after all that.
	drain(sub)
	require.NoError(t, shared.Start(context.Background()))
	receiveReconnect(t, sub)
	notify(t, pool, ch, "survived")
	require.Equal(t, "survived", receiveNotification(t, sub).Payload)
}

// lineSignal is an io.Writer that signals every log line containing match.
type lineSignal struct {
	match string
	hits  chan struct{}
}

func (w *lineSignal) Write(p []byte) (int, error) {
	if strings.Contains(string(p), w.match) {
		select {
		case w.hits <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

func TestIdleConnectionIsPinged(t *testing.T) {
	t.Parallel()
	pool := newTestPool(t)
	pings := &lineSignal{match: "listen connection pinged", hits: make(chan struct{}, 1)}
	n := newTestNotifier(t, pool, Config{
		Logger:       zerolog.New(pings).Level(zerolog.TraceLevel),
		PingInterval: time.Millisecond,
	})
	ch := uniqueChannel(t)
	sub := n.Subscribe(ch)
	startNotifier(t, n)
	waitClosed(t, sub.Ready(), "subscription ready")
	pid := n.BackendPID()

	for i := range 3 {
		select {
		case <-pings.hits:
		case <-time.After(waitTimeout):
			require.FailNow(t, "timed out waiting for a ping")
		}
		payload := "between-pings-" + strconv.Itoa(i)
		notify(t, pool, ch, payload)
		require.Equal(t, Notification{Channel: ch, Payload: payload}, receiveNotification(t, sub))
	}
	require.Equal(t, pid, n.BackendPID(), "pings keep the same connection")
}

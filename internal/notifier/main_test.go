package notifier

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// defaultTestDatabaseURL is used when STENT_TEST_DATABASE_URL is not set.
const defaultTestDatabaseURL = "postgres://postgres@127.0.0.1:55432/postgres?sslmode=disable"

// waitTimeout is the upper bound for anything a test waits for. Tests never
// sleep: they wait on channels and fail after waitTimeout.
const waitTimeout = 15 * time.Second

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testDatabaseURL returns the database the tests connect to.
func testDatabaseURL() string {
	if u := os.Getenv("STENT_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return defaultTestDatabaseURL
}

// newTestPool returns a pool on the test database, closed when t ends.
func newTestPool(t *testing.T, configure ...func(*pgxpool.Config)) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(testDatabaseURL())
	require.NoError(t, err)
	for _, f := range configure {
		f(cfg)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

// newTestNotifier returns a notifier on pool, stopped when t ends (before the
// pool is closed).
func newTestNotifier(t *testing.T, pool *pgxpool.Pool, cfg Config) *Notifier {
	t.Helper()
	n := New(pool, cfg)
	t.Cleanup(n.Stop)
	return n
}

// startNotifier starts n and waits for its first connection.
func startNotifier(t *testing.T, n *Notifier) {
	t.Helper()
	require.NoError(t, n.Start(context.Background()))
	waitClosed(t, n.Connected(), "notifier connected")
}

// uniqueChannel returns a channel name no other test uses.
func uniqueChannel(t *testing.T) string {
	t.Helper()
	b := make([]byte, 8)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return "stent_test_" + hex.EncodeToString(b)
}

// notify sends payload on channel through pool.
func notify(t *testing.T, pool *pgxpool.Pool, channel, payload string) {
	t.Helper()
	_, err := pool.Exec(context.Background(), "SELECT pg_notify($1, $2)", channel, payload)
	require.NoError(t, err)
}

// waitClosed waits for ch to be closed.
func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(waitTimeout):
		require.FailNow(t, "timed out waiting for "+what)
	}
}

// receive returns the next notification of sub, failing after waitTimeout.
func receive(t *testing.T, sub *Subscription) Notification {
	t.Helper()
	select {
	case ev, ok := <-sub.C:
		require.True(t, ok, "subscription channel closed")
		return ev
	case <-time.After(waitTimeout):
		require.FailNow(t, "timed out waiting for a notification")
		return Notification{}
	}
}

// receiveNotification returns the next real notification of sub, skipping
// Reconnect events.
func receiveNotification(t *testing.T, sub *Subscription) Notification {
	t.Helper()
	for {
		if ev := receive(t, sub); !ev.Reconnect {
			return ev
		}
	}
}

// receiveReconnect waits for the next Reconnect event of sub, skipping real
// notifications.
func receiveReconnect(t *testing.T, sub *Subscription) {
	t.Helper()
	for {
		if ev := receive(t, sub); ev.Reconnect {
			return
		}
	}
}

// drain returns everything buffered in sub without waiting.
func drain(sub *Subscription) []Notification {
	var out []Notification
	for {
		select {
		case ev, ok := <-sub.C:
			if !ok {
				return out
			}
			out = append(out, ev)
		default:
			return out
		}
	}
}

// isActive reports whether channel is LISTENed on n's connection.
func isActive(n *Notifier, channel string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	_, ok := n.active[channel]
	return ok
}

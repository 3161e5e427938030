package notifier

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stentdev/stent/internal/pglaunch"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// waitTimeout is the upper bound for anything a test waits for. Tests never
// sleep: they wait on channels and fail after waitTimeout.
const waitTimeout = 15 * time.Second

// databaseURL is the server the tests connect to: STENT_TEST_DATABASE_URL, or
// a throwaway cluster started by TestMain. (This package cannot use stenttest,
// which depends on it.)
var databaseURL string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

// runTests starts a cluster unless STENT_TEST_DATABASE_URL is set, runs the
// tests, stops the cluster and checks for leaked goroutines.
func runTests(m *testing.M) int {
	var cluster *pglaunch.Cluster
	databaseURL = os.Getenv("STENT_TEST_DATABASE_URL")
	if databaseURL == "" {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		var err error
		cluster, err = pglaunch.Start(ctx, pglaunch.Options{})
		cancel()
		if err != nil {
			fmt.Fprintln(os.Stderr, "notifier tests: start PostgreSQL:", err)
			return 1
		}
		databaseURL = cluster.URL("postgres")
	}
	code := m.Run()
	if cluster != nil {
		if err := cluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "notifier tests: stop PostgreSQL:", err)
			code = 1
		}
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	return code
}

// testDatabaseURL returns the database the tests connect to.
func testDatabaseURL() string { return databaseURL }

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

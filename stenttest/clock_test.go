package stenttest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

var epoch = time.Date(2030, 1, 2, 3, 4, 5, 123456789, time.UTC)

func TestClock(t *testing.T) {
	t.Parallel()
	c := NewClock(epoch)
	require.Equal(t, epoch.Truncate(time.Microsecond), c.Now(), "microsecond precision, like PostgreSQL")
	c.Advance(90 * time.Minute)
	require.Equal(t, epoch.Truncate(time.Microsecond).Add(90*time.Minute), c.Now())
	c.Set(epoch.Add(-time.Hour))
	require.Equal(t, epoch.Add(-time.Hour).Truncate(time.Microsecond), c.Now())

	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			c.Advance(time.Second)
			_ = c.Now()
		})
	}
	wg.Wait()
	require.Equal(t, epoch.Add(-time.Hour+8*time.Second).Truncate(time.Microsecond), c.Now())
}

// fakeNow reads stent.fake_now as seen by conn (NULL when never set).
func fakeNow(t *testing.T, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) *time.Time {
	t.Helper()
	var v *time.Time
	require.NoError(t, q.QueryRow(t.Context(),
		"select nullif(current_setting('stent.fake_now', true), '')::timestamptz").Scan(&v))
	return v
}

// acquireAll holds n connections of pool at once, so each is a different
// session, and returns them with their backend pids.
func acquireAll(t *testing.T, pool *pgxpool.Pool, n int) []*pgxpool.Conn {
	t.Helper()
	conns := make([]*pgxpool.Conn, n)
	pids := map[uint32]bool{}
	for i := range conns {
		c, err := pool.Acquire(t.Context())
		require.NoError(t, err)
		conns[i] = c
		pids[c.Conn().PgConn().PID()] = true
	}
	require.Len(t, pids, n, "distinct sessions")
	return conns
}

func TestClockVisibleOnEveryPooledConnection(t *testing.T) {
	t.Parallel()
	const size = 4
	clock := NewClock(epoch)
	pool := Pool(t, WithClock(clock), WithMaxConns(size))

	check := func(want time.Time) {
		t.Helper()
		conns := acquireAll(t, pool, size)
		for _, c := range conns {
			got := fakeNow(t, c)
			require.NotNil(t, got)
			require.True(t, want.Equal(*got), "want %s, got %s", want, got)
		}
		for _, c := range conns {
			c.Release()
		}
	}
	check(clock.Now())
	clock.Advance(25 * time.Hour)
	check(clock.Now())
	clock.Set(epoch.Add(-time.Minute))
	check(clock.Now())

	// Pool.QueryRow acquires internally and sees the clock too.
	clock.Advance(time.Second)
	got := fakeNow(t, pool)
	require.True(t, clock.Now().Equal(*got))

	plain := Pool(t, WithURL(pool.Config().ConnString()))
	require.Nil(t, fakeNow(t, plain), "a pool without WithClock uses the real clock")
}

func TestClockApply(t *testing.T) {
	t.Parallel()
	clock := NewClock(epoch)
	conn := connect(t, DB(t))
	require.Nil(t, fakeNow(t, conn))
	require.NoError(t, clock.Apply(t.Context(), conn))
	require.True(t, clock.Now().Equal(*fakeNow(t, conn)))

	clock.Advance(time.Hour)
	require.True(t, clock.Now().Add(-time.Hour).Equal(*fakeNow(t, conn)), "Apply is a one-off")
	require.NoError(t, clock.Apply(t.Context(), conn))
	require.True(t, clock.Now().Equal(*fakeNow(t, conn)))

	// The setting is per session and survives transactions.
	tx, err := conn.Begin(t.Context())
	require.NoError(t, err)
	require.True(t, clock.Now().Equal(*fakeNow(t, tx)))
	require.NoError(t, tx.Rollback(t.Context()))
	require.True(t, clock.Now().Equal(*fakeNow(t, conn)))
}

package stenttest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// fakeNowSetting is the session setting that stent.current_time() returns
// instead of now() when it is set and not empty.
const fakeNowSetting = "stent.fake_now"

// Clock is a fake time for the database. Stent never asks Go for the time of
// day: its SQL reads stent.current_time(), which honours the session setting
// stent.fake_now. A pool built with WithClock sets that setting on each
// connection to the clock's value, so moving the clock moves the database's
// notion of now for sleeps, timeouts, leases and retries, without sleeping.
//
// Times are kept to microsecond precision, PostgreSQL's, so a value read
// back from the database equals Now(). A Clock is safe for concurrent use.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	version uint64 // bumped on every change, so pools re-apply lazily
}

// NewClock returns a clock stopped at start.
func NewClock(start time.Time) *Clock {
	return &Clock{now: start.Truncate(time.Microsecond)}
}

// Now returns the clock's current time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to t (backwards too).
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t.Truncate(time.Microsecond)
	c.version++
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d).Truncate(time.Microsecond)
	c.version++
}

// snapshot returns the time and the version it belongs to.
func (c *Clock) snapshot() (time.Time, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now, c.version
}

// Apply sets the clock's current time on one connection, for connections
// that do not come from a WithClock pool. The setting lasts for the session;
// call Apply again after moving the clock.
func (c *Clock) Apply(ctx context.Context, conn *pgx.Conn) error {
	now, _ := c.snapshot()
	return setFakeNow(ctx, conn, now)
}

// setFakeNow sets stent.fake_now for the session (not just the current
// transaction), as an unambiguous UTC timestamptz literal.
func setFakeNow(ctx context.Context, conn *pgx.Conn, now time.Time) error {
	value := now.UTC().Format("2006-01-02 15:04:05.999999") + "+00"
	if _, err := conn.Exec(ctx, "select set_config($1, $2, false)", fakeNowSetting, value); err != nil {
		return fmt.Errorf("stenttest: set %s: %w", fakeNowSetting, err)
	}
	return nil
}

// clockHook keeps every connection of one pool in step with a Clock. It
// remembers, per connection, the clock version last applied, so a
// connection costs a round trip only when the clock has moved since it last
// saw it.
type clockHook struct {
	clock   *Clock
	applied sync.Map // *pgx.Conn -> uint64 version
}

// prepareConn is the pool's PrepareConn hook, run on every acquire. It
// applies the clock's current value if this connection has not seen it. A
// failed update destroys the connection, so none runs with a stale time.
func (h *clockHook) prepareConn(ctx context.Context, conn *pgx.Conn) (bool, error) {
	now, version := h.clock.snapshot()
	if v, ok := h.applied.Load(conn); ok && v.(uint64) == version {
		return true, nil
	}
	if err := setFakeNow(ctx, conn, now); err != nil {
		h.applied.Delete(conn)
		return false, err
	}
	h.applied.Store(conn, version)
	return true, nil
}

// beforeClose forgets a connection that leaves the pool. (A connection
// released inside a transaction or mid-query is destroyed by the pool, so
// nothing else can make the remembered version wrong, short of user code
// running RESET ALL or DISCARD ALL.)
func (h *clockHook) beforeClose(conn *pgx.Conn) {
	h.applied.Delete(conn)
}

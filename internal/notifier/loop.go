package notifier

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// run is the background loop: it keeps a listen connection alive until ctx is
// done, reconnecting with backoff after every failure.
func (n *Notifier) run(ctx context.Context) {
	attempt := 0
	for {
		started := time.Now()
		listened, err := n.session(ctx)
		if ctx.Err() != nil {
			return
		}
		// A connection that listened for a while resets the backoff; one that
		// keeps dying right after connecting does not, so it cannot make the
		// loop reconnect in a tight cycle.
		if listened && time.Since(started) >= n.cfg.MaxBackoff {
			attempt = 0
		}
		attempt++
		delay := reconnectBackoff(attempt, n.cfg.MaxBackoff)
		n.logger.Warn().Err(err).Int("attempt", attempt).Dur("backoff", delay).
			Msg("listen connection failed; reconnecting")

		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
	}
}

// session runs one connection from connect to failure (or ctx end). It
// reports whether the connection got to listen on its channels.
func (n *Notifier) session(ctx context.Context) (bool, error) {
	conn, err := n.connect(ctx)
	if err != nil {
		return false, err
	}
	defer n.closeConn(conn)

	pid := conn.PgConn().PID()
	n.pid.Store(pid)
	defer func() {
		n.pid.Store(0)
		n.mu.Lock()
		clear(n.active)
		n.mu.Unlock()
	}()

	if err := n.syncListens(ctx, conn, true); err != nil {
		return false, err
	}
	n.connectedOnce.Do(func() { close(n.connected) })
	n.logger.Info().Uint32("pid", pid).Msg("listen connection established")

	return true, n.listen(ctx, conn)
}

// listen waits for notifications and dispatches them. The wait is
// interrupted when the subscribed channels change (to LISTEN or UNLISTEN)
// and when the connection has been idle for PingInterval (to ping it). It
// returns on the first connection error or when ctx is done.
func (n *Notifier) listen(ctx context.Context, conn *pgx.Conn) error {
	lastActivity := time.Now()
	for {
		n.mu.Lock()
		dirty := n.dirty
		n.mu.Unlock()
		if dirty {
			if err := n.syncListens(ctx, conn, false); err != nil {
				return err
			}
			lastActivity = time.Now()
		}

		waitCtx, cancel := context.WithDeadline(ctx, lastActivity.Add(n.cfg.PingInterval))
		n.mu.Lock()
		if n.dirty {
			// Changed again already: only collect a notification pgx may have
			// buffered during the last command, so that constant subscription
			// churn cannot starve delivery, then sync again.
			cancel()
		} else {
			n.waitCancel = cancel
		}
		n.mu.Unlock()

		notif, err := conn.WaitForNotification(waitCtx)
		waitErr := waitCtx.Err()

		n.mu.Lock()
		n.waitCancel = nil
		if notif != nil {
			n.dispatchLocked(notif.Channel, notif.Payload)
		}
		n.mu.Unlock()
		cancel()

		switch {
		case err == nil:
			lastActivity = time.Now()
		case ctx.Err() != nil:
			return fmt.Errorf("notifier: wait for notification: %w", ctx.Err())
		case waitErr == nil:
			return fmt.Errorf("notifier: wait for notification: %w", err)
		case errors.Is(waitErr, context.DeadlineExceeded) && time.Since(lastActivity) >= n.cfg.PingInterval:
			if err := n.ping(ctx, conn); err != nil {
				return err
			}
			lastActivity = time.Now()
		default:
			// Interrupted by Subscribe or Unsubscribe: sync at the top.
		}
	}
}

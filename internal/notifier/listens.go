package notifier

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// syncListens issues the LISTEN and UNLISTEN commands that bring the
// connection in line with the subscribed channels, in one round trip.
//
// With fresh set (a new connection), it first clears any LISTEN left on the
// pooled connection, and once listening it sends a Reconnect notification to
// every subscriber: notifications sent while disconnected were missed.
// Subscriptions whose channels are all listened on become Ready.
func (n *Notifier) syncListens(ctx context.Context, conn *pgx.Conn, fresh bool) error {
	var stmts, listen []string
	unlistened := 0
	if fresh {
		stmts = append(stmts, "UNLISTEN *")
	}

	n.mu.Lock()
	n.dirty = false
	for c := range n.subs {
		if _, ok := n.active[c]; !ok {
			listen = append(listen, c)
			stmts = append(stmts, "LISTEN "+pgx.Identifier{c}.Sanitize())
		}
	}
	for c := range n.active {
		if _, ok := n.subs[c]; !ok {
			// Forget it before the command runs, so that a concurrent
			// Subscribe does not consider it listened (and Ready) meanwhile.
			delete(n.active, c)
			unlistened++
			stmts = append(stmts, "UNLISTEN "+pgx.Identifier{c}.Sanitize())
		}
	}
	n.mu.Unlock()

	if len(stmts) > 0 {
		cmdCtx, cancel := context.WithTimeout(ctx, commandTimeout)
		_, err := conn.PgConn().Exec(cmdCtx, strings.Join(stmts, "; ")).ReadAll()
		cancel()
		if err != nil {
			return fmt.Errorf("notifier: listen on %d channel(s), unlisten %d: %w", len(listen), unlistened, err)
		}
	}

	n.mu.Lock()
	defer n.mu.Unlock()

	for _, c := range listen {
		n.active[c] = struct{}{}
		if _, ok := n.subs[c]; !ok {
			n.dirty = true // its last subscriber left while LISTEN ran
		}
	}
	if fresh {
		n.broadcastReconnectLocked()
	}
	if fresh || len(listen) > 0 {
		for s := range n.all {
			s.markReadyLocked(n.active)
		}
	}
	n.logger.Debug().Int("listen", len(listen)).Int("unlisten", unlistened).Msg("listen set synchronized")
	return nil
}

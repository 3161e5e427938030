package notifier

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	// acquireTimeout bounds taking a connection from the pool (which may have
	// to dial the server, or wait for a busy pool); on timeout the loop backs
	// off and tries again.
	acquireTimeout = 30 * time.Second
	// commandTimeout bounds LISTEN/UNLISTEN and keepalive pings.
	commandTimeout = 5 * time.Second
	// closeTimeout bounds the graceful close of the listen connection,
	// including pgx's background cleanup after a broken connection.
	closeTimeout = 5 * time.Second
)

// connect acquires a connection from the pool and hijacks it: from then on the
// notifier owns it, so the pool's lifetime and idle limits cannot close it and
// it does not count against the pool's size.
func (n *Notifier) connect(ctx context.Context) (*pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, acquireTimeout)
	defer cancel()

	pc, err := n.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("notifier: acquire listen connection: %w", err)
	}
	return pc.Hijack(), nil
}

// ping checks that the idle listen connection is alive. It runs with a fresh
// timeout derived from the loop's context, never with the (possibly already
// cancelled) context of the interrupted wait.
func (n *Notifier) ping(ctx context.Context, conn *pgx.Conn) error {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()

	if err := conn.Ping(ctx); err != nil {
		return fmt.Errorf("notifier: ping listen connection: %w", err)
	}
	n.logger.Trace().Msg("listen connection pinged")
	return nil
}

// closeConn closes the listen connection and waits (bounded) for pgx's
// cleanup, which runs in a background goroutine when the connection broke, so
// that Stop leaves no goroutine behind. It does not use the loop's context,
// which is usually cancelled by then.
func (n *Notifier) closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()

	if err := conn.Close(ctx); err != nil {
		n.logger.Debug().Err(err).Msg("close listen connection")
	}
	select {
	case <-conn.PgConn().CleanupDone():
	case <-ctx.Done():
		n.logger.Warn().Msg("listen connection cleanup did not finish in time")
	}
}

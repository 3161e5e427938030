package stent_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/internal/store"
)

// A completed call of a running workflow is announced on stent_calls with its task id, so
// that the worker holding the workflow in memory resumes it at once, wherever the call ran.
func TestCompletedCallIsAnnounced(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.dispatch(t, b.echo("notify.parent"), "p")
	b.echo("notify.child")
	parent := b.claimOne(t, "w1")
	child, err := b.store.CallChild(b.ctx, parent.ID, parent.LeaseToken, 0, []byte(`{"name": "notify.child", "input": "c"}`))
	require.NoError(t, err)

	conn, err := b.pool.Acquire(b.ctx)
	require.NoError(t, err)
	defer conn.Release()
	_, err = conn.Exec(b.ctx, "LISTEN stent_calls")
	require.NoError(t, err)

	claimed := b.claimOne(t, "w2")
	require.Equal(t, child.ID, claimed.ID)
	ok, err := b.store.CompleteTasks(b.ctx, []store.Completion{{TaskID: claimed.ID, Token: claimed.LeaseToken, Output: []byte(`"done"`)}})
	require.NoError(t, err)
	require.True(t, ok[claimed.ID])

	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	n, err := conn.Conn().WaitForNotification(ctx)
	require.NoError(t, err)
	require.Equal(t, "stent_calls", n.Channel)
	require.Equal(t, strconv.FormatInt(child.ID, 10), n.Payload)
}

package stent_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/internal/store"
)

// stent.call_children records each call for its own parent and token: a stale token skips only
// its own call (no row: lease lost), a position already taken returns the recorded child, and
// each queue with new work is told once.
func TestCallChildrenPerCall(t *testing.T) {
	t.Parallel()
	b := setup(t)
	act := b.echo("calls.parent")
	b.echo("calls.child")
	b.dispatch(t, act, "a")
	b.dispatch(t, act, "b")
	ts := b.claim(t, store.ClaimParams{})
	require.Len(t, ts, 2)
	p1, p2 := ts[0], ts[1]
	req := func(in string) []byte { return []byte(fmt.Sprintf(`{"name": "calls.child", "input": %q}`, in)) }

	first, err := b.store.CallChildren(b.ctx, []store.ChildCall{{Parent: p1.ID, Token: p1.LeaseToken, Seq: 0, Request: req("x")}})
	require.NoError(t, err)
	require.Len(t, first, 1)
	require.NotNil(t, first[0])

	rows, err := b.store.CallChildren(b.ctx, []store.ChildCall{
		{Parent: p1.ID, Token: p1.LeaseToken, Seq: 0, Request: req("again")}, // position taken
		{Parent: p2.ID, Token: p2.LeaseToken + 1, Seq: 0, Request: req("y")}, // stale token
		{Parent: p2.ID, Token: p2.LeaseToken, Seq: 1, Request: req("z")},
		{Parent: p1.ID, Token: p1.LeaseToken, Seq: 1, Request: req("w")},
	})
	require.NoError(t, err)
	require.Len(t, rows, 4)
	require.Equal(t, first[0].ID, rows[0].ID, "the recorded child is returned")
	require.JSONEq(t, `"x"`, string(rows[0].Input))
	require.Nil(t, rows[1], "a stale token records nothing")
	require.Equal(t, "pending", rows[2].State)
	require.JSONEq(t, `"z"`, string(rows[2].Input))
	require.Equal(t, p2.RunAt.Add(-time.Microsecond), rows[2].RunAt, "due just before the parent's due time")
	require.Equal(t, "pending", rows[3].State)
	require.Equal(t, 2, b.count(t, "select count(*) from stent.tasks where parent_task_id = $1", p1.ID))
	require.Equal(t, 1, b.count(t, "select count(*) from stent.tasks where parent_task_id = $1", p2.ID))
}

// Two calls of one batch with the same cache key compute it once: the first runs and owns the
// key, the second waits for its result (single flight inside a batch as across batches).
func TestCallChildrenCacheSingleFlightInBatch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	act := b.echo("cache.parent")
	b.echo("cache.child")
	b.dispatch(t, act, "a")
	b.dispatch(t, act, "b")
	ts := b.claim(t, store.ClaimParams{})
	require.Len(t, ts, 2)
	req := []byte(`{"name": "cache.child", "input": 1, "cache_key": "k1", "cache_ttl_ms": 60000}`)
	rows, err := b.store.CallChildren(b.ctx, []store.ChildCall{
		{Parent: ts[0].ID, Token: ts[0].LeaseToken, Seq: 0, Request: req},
		{Parent: ts[1].ID, Token: ts[1].LeaseToken, Seq: 0, Request: req},
	})
	require.NoError(t, err)
	require.Equal(t, "pending", rows[0].State, "the first call computes the key")
	require.Equal(t, "waiting", rows[1].State, "the second waits for it")
	var owner int64
	require.NoError(t, b.pool.QueryRow(b.ctx, "select owner_task_id from stent.cache where key = 'k1'").Scan(&owner))
	require.Equal(t, rows[0].ID, owner)
}

// Malformed batches are refused whole, with ST003, and write nothing.
func TestCallChildrenRejectsBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.dispatch(t, b.echo("calls.bad"), "a")
	p := b.claimOne(t, "w1")
	for _, body := range []string{`{}`, `[1]`, `[{"parent": 1, "token": 1, "seq": 0}]`,
		fmt.Sprintf(`[{"parent": %d, "token": %d, "seq": 0, "request": {"input": 1}}]`, p.ID, p.LeaseToken),
		fmt.Sprintf(`[{"parent": %d, "token": %d, "seq": -1, "request": {"name": "x"}}]`, p.ID, p.LeaseToken)} {
		_, err := b.pool.Exec(b.ctx, "select * from stent.call_children($1::jsonb)", body)
		require.ErrorContains(t, err, "ST003", body)
	}
	require.Zero(t, b.count(t, "select count(*) from stent.tasks where parent_task_id is not null"))
}

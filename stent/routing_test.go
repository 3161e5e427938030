package stent_test

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/internal/store"
	"github.com/stentdev/stent/stent"
)

// claimedInputs claims with p and returns the claimed tasks' inputs (their names in these
// tests), sorted.
func claimedInputs(t *testing.T, b *testBundle, p store.ClaimParams) []string {
	t.Helper()
	var got []string
	for _, tk := range b.claim(t, p) {
		var s string
		require.NoError(t, b.client.Config().Codec.Unmarshal(tk.Input, &s))
		got = append(got, s)
	}
	slices.Sort(got)
	return got
}

// TestClaimQueues: a worker claims only from the queues it names.
func TestClaimQueues(t *testing.T) {
	t.Parallel()
	b := setup(t)
	act := b.echo("route.queue")
	for _, q := range []string{"a", "b", "c"} {
		b.dispatch(t, act, q, stent.WithQueue(q))
	}
	require.Equal(t, []string{"a", "b"}, claimedInputs(t, b, store.ClaimParams{Queues: []string{"a", "b"}}))
	require.Empty(t, claimedInputs(t, b, store.ClaimParams{Queues: []string{"a", "b", "default"}}))
	require.Equal(t, []string{"c"}, claimedInputs(t, b, store.ClaimParams{Queues: []string{"c"}}))
}

// TestClaimFunctionNames: a worker never claims a function it did not name.
func TestClaimFunctionNames(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.dispatch(t, b.echo("route.one"), "one")
	b.dispatch(t, b.echo("route.two"), "two")
	require.Equal(t, []string{"two"}, claimedInputs(t, b, store.ClaimParams{Names: []string{"route.two", "route.absent"}}))
	require.Equal(t, []string{"one"}, claimedInputs(t, b, store.ClaimParams{}))
}

// TestClaimTags: a tagged worker takes untagged tasks and tasks sharing one of its tags; an
// untagged worker takes all.
func TestClaimTags(t *testing.T) {
	t.Parallel()
	scenario := func(t *testing.T) *testBundle {
		b := setup(t)
		act := b.echo("route.tags")
		b.dispatch(t, act, "none")
		b.dispatch(t, act, "gpu", stent.WithTags("gpu"))
		b.dispatch(t, act, "eu", stent.WithTags("eu"))
		b.dispatch(t, act, "gpu+eu", stent.WithTags("gpu", "eu"))
		return b
	}
	for _, tc := range []struct {
		name string
		tags []string
		want []string
	}{
		{"Untagged", nil, []string{"eu", "gpu", "gpu+eu", "none"}},
		{"GPU", []string{"gpu"}, []string{"gpu", "gpu+eu", "none"}},
		{"GPUOrUS", []string{"gpu", "us"}, []string{"gpu", "gpu+eu", "none"}},
		{"US", []string{"us"}, []string{"none"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := scenario(t)
			require.Equal(t, tc.want, claimedInputs(t, b, store.ClaimParams{Tags: tc.tags}))
		})
	}
}

// TestClaimNoStarvation: 60 ineligible tasks of higher priority and earlier (or later,
// undue) run_at sit ahead of one eligible task in claim order; a claim of one still returns
// the eligible task, because every filter applies before the LIMIT.
func TestClaimNoStarvation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	me := b.echo("route.me")
	other := b.echo("route.other")
	now := b.clock.Now()
	many := func(n int) []string { return make([]string, n) }

	_, err := other.DispatchMany(b.ctx, b.client, many(20), stent.WithPriority(100), stent.WithRunAt(now.Add(-time.Hour)))
	require.NoError(t, err)
	_, err = me.DispatchMany(b.ctx, b.client, many(20), stent.WithPriority(100), stent.WithRunAt(now.Add(-time.Hour)), stent.WithTags("eu"))
	require.NoError(t, err)
	_, err = me.DispatchMany(b.ctx, b.client, many(20), stent.WithPriority(100), stent.WithRunAt(now.Add(time.Hour)))
	require.NoError(t, err)
	_, want := b.dispatch(t, me, "eligible", stent.WithPriority(-10))

	ts := b.claim(t, store.ClaimParams{Names: []string{"route.me"}, Tags: []string{"gpu"}, Limit: 1})
	require.Len(t, ts, 1)
	require.Equal(t, want, ts[0].ID)
	require.Equal(t, 60, b.count(t, "select count(*) from stent.tasks where state = 'pending'"))
}

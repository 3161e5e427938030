package stent_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/internal/store"
	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/stenttest"
)

// tenantIn is an input whose concurrency key is its tenant (KeyField("tenant")).
type tenantIn struct {
	Tenant string `json:"tenant"`
	N      int    `json:"n"`
}

// maxInWindow returns the largest number of instants within any window [s, s+period).
func maxInWindow(instants []time.Time, period time.Duration) int {
	s := slices.Clone(instants)
	slices.SortFunc(s, func(a, b time.Time) int { return a.Compare(b) })
	best, lo := 0, 0
	for hi := range s {
		for !s[hi].Before(s[lo].Add(period)) {
			lo++
		}
		best = max(best, hi-lo+1)
	}
	return best
}

// startTimes returns the claimed tasks' started_at (the database's fake time of the claim).
func startTimes(t *testing.T, ts []*store.Task) []time.Time {
	t.Helper()
	out := make([]time.Time, len(ts))
	for i, tk := range ts {
		require.NotNil(t, tk.StartedAt)
		out[i] = *tk.StartedAt
	}
	return out
}

// TestRateLimit: RateLimit(10, time.Second) on 100 pending tasks, claimed every 100ms of fake
// time for 5s — all at once, or in small random batches so that the window really slides:
// no window of one second holds more than 10 starts, the function runs at its rate (10 per
// second after the first burst), held-back tasks stay pending with no attempt counted, and
// stent.next_due says when the window frees.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	const (
		rate    = 10
		seconds = 5
		step    = 100 * time.Millisecond
	)
	for _, tc := range []struct {
		name  string
		batch func(*rand.Rand) int32
	}{
		{"LargeLimit", func(*rand.Rand) int32 { return 1000 }},
		{"SmallBatches", func(r *rand.Rand) int32 { return int32(r.IntN(4) + 1) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			act := b.echo("rate.fn", stent.RateLimit(rate, time.Second))
			b.register(t, act)
			_, err := act.DispatchMany(b.ctx, b.client, make([]string, 100))
			require.NoError(t, err)
			queues, names := []string{stent.DefaultQueue}, []string{"rate.fn"}

			rng := rand.New(rand.NewPCG(4, 2))
			var starts []time.Time
			for i := 0; i <= seconds*int(time.Second/step); i++ {
				if i > 0 {
					b.clock.Advance(step)
				}
				ts := b.claim(t, store.ClaimParams{Limit: tc.batch(rng)})
				starts = append(starts, startTimes(t, ts)...)
				if len(ts) > 0 {
					b.completeClaimed(t, ts...)
				}
				if i == 0 && tc.name == "LargeLimit" {
					require.Len(t, ts, rate, "the first claim takes the whole window")
					require.Equal(t, 100-rate, b.count(t, "select count(*) from stent.tasks where state = 'pending' and attempt = 0"),
						"held back: pending, no attempt counted")
					d, ok, err := b.store.NextDue(b.ctx, queues, names, nil)
					require.NoError(t, err)
					require.True(t, ok)
					require.InDelta(t, time.Second, d, float64(time.Millisecond), "the window frees a second after the starts")
				}
				if i == 3 && tc.name == "LargeLimit" {
					d, ok, err := b.store.NextDue(b.ctx, queues, names, nil)
					require.NoError(t, err)
					require.True(t, ok)
					require.InDelta(t, 700*time.Millisecond, d, float64(time.Millisecond))
				}
			}
			require.LessOrEqual(t, maxInWindow(starts, time.Second), rate, "starts in one second")
			require.GreaterOrEqual(t, len(starts), rate*seconds, "runs at its rate")
			require.LessOrEqual(t, len(starts), rate*(seconds+1))
			require.Equal(t, 100-len(starts), b.count(t, "select count(*) from stent.tasks where state = 'pending' and attempt = 0"))
			t.Logf("%d starts in %ds", len(starts), seconds)
		})
	}

	t.Run("PerKey", func(t *testing.T) {
		t.Parallel()
		const keys, perKey = 3, 2
		b := setup(t)
		act := stent.NewActivity("rate.key", func(context.Context, tenantIn) (string, error) { return "", nil },
			stent.InRegistry(b.reg), stent.KeyField("tenant"), stent.RateLimitPerKey(perKey, time.Second))
		b.register(t, act)
		var ins []tenantIn
		for i := range 30 {
			ins = append(ins, tenantIn{Tenant: fmt.Sprint("t", i%keys), N: i})
		}
		_, err := act.DispatchMany(b.ctx, b.client, ins)
		require.NoError(t, err)

		byKey := map[string][]time.Time{}
		for i := 0; i <= 30; i++ { // 3s
			if i > 0 {
				b.clock.Advance(100 * time.Millisecond)
			}
			ts := b.claim(t, store.ClaimParams{Limit: 1000})
			if i == 0 {
				require.Len(t, ts, keys*perKey, "each key starts its share at once")
			}
			for _, tk := range ts {
				byKey[tk.ConcurrencyKey.String] = append(byKey[tk.ConcurrencyKey.String], *tk.StartedAt)
			}
		}
		require.Len(t, byKey, keys)
		for k, starts := range byKey {
			require.LessOrEqual(t, maxInWindow(starts, time.Second), perKey, "key %s", k)
			require.Len(t, starts, perKey*4, "key %s runs at its rate", k)
		}
	})
}

// TestRateLimitConcurrentClaimers: 8 claimers on separate sessions race for a function allowed
// 10 starts a minute, at one instant of the fake clock: exactly 10 tasks start, and 10 more
// once the window has moved on.
func TestRateLimitConcurrentClaimers(t *testing.T) {
	t.Parallel()
	const claimers = 8
	b := setup(t)
	act := b.echo("rate.race", stent.RateLimit(10, time.Minute))
	b.register(t, act)
	_, err := act.DispatchMany(b.ctx, b.client, make([]string, 100))
	require.NoError(t, err)
	stores := make([]*store.Store, claimers)
	for i := range stores {
		stores[i] = store.New(stenttest.Pool(t, stenttest.WithURL(b.pool.Config().ConnString()),
			stenttest.WithMaxConns(1), stenttest.WithClock(b.clock)))
	}

	race := func() int {
		var (
			mu    sync.Mutex
			total int
			wg    sync.WaitGroup
			errs  = make([]error, claimers)
			start = make(chan struct{})
		)
		for i, st := range stores {
			wg.Go(func() {
				<-start
				for range 5 { // several claims each, so that some come after the window filled
					ts, err := st.ClaimTasks(b.ctx, store.ClaimParams{WorkerID: fmt.Sprint("c", i),
						Queues: []string{stent.DefaultQueue}, Names: []string{"rate.race"}, Limit: 3, Lease: time.Hour})
					if err != nil {
						errs[i] = err
						return
					}
					mu.Lock()
					total += len(ts)
					mu.Unlock()
				}
			})
		}
		close(start)
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
		return total
	}
	require.Equal(t, 10, race())
	b.clock.Advance(59 * time.Second)
	require.Zero(t, race(), "the window still holds 10 starts")
	b.clock.Advance(time.Second)
	require.Equal(t, 10, race())
	require.Equal(t, 20, b.count(t, "select count(*) from stent.tasks where state = 'running'"))
}

// TestRetryAfter: an attempt that asks to retry after d (stent.RetryAfter, e.g. on HTTP 429)
// gives its attempt back and waits d — alone, or with every task of its function or of its
// concurrency key (a shared back-off), while other functions and keys keep running.
func TestRetryAfter(t *testing.T) {
	t.Parallel()

	t.Run("Task", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		act := b.echo("ra.task", stent.Retry(noJitter(2, 10*time.Second)))
		_, id := b.dispatch(t, act, "asks")
		_, other := b.dispatch(t, act, "other")
		tk := b.claim(t, store.ClaimParams{Limit: 1})[0]
		require.Equal(t, id, tk.ID)
		require.EqualValues(t, 1, tk.Attempt)

		res := b.fail(t, tk, 90*time.Second, stent.ScopeTask)
		require.Equal(t, "pending", res.State)
		requireTime(t, b.clock.Now().Add(90*time.Second), *res.RunAt)
		got := b.task(t, id)
		require.Equal(t, "pending", got.State)
		require.Zero(t, got.Attempt, "the attempt is not counted")
		requireTime(t, b.clock.Now().Add(90*time.Second), got.RunAt)
		require.Equal(t, "http_429", storedError(t, got.Error)["kind"])
		require.Equal(t, []int64{other}, ids(b.claim(t, store.ClaimParams{})), "only the task waits")
		d, ok, err := b.store.NextDue(b.ctx, []string{stent.DefaultQueue}, b.reg.Names(), nil)
		require.NoError(t, err)
		require.True(t, ok)
		require.InDelta(t, 90*time.Second, d, float64(time.Millisecond))
		b.clock.Advance(89 * time.Second)
		require.Empty(t, b.claim(t, store.ClaimParams{}))
		b.clock.Advance(time.Second)

		// Asking again and again never uses up the attempts (MaxAttempts 2)...
		for range 5 {
			tk = b.claim(t, store.ClaimParams{})[0]
			require.Equal(t, id, tk.ID)
			require.EqualValues(t, 1, tk.Attempt)
			b.fail(t, tk, time.Second, stent.ScopeTask)
			b.clock.Advance(time.Second)
		}
		// ...while an ordinary failure counts: attempt 2 asks to wait and is 2 again after it,
		// and its ordinary failure is the last.
		tk = b.claim(t, store.ClaimParams{})[0]
		require.Equal(t, "pending", b.fail(t, tk, -1, stent.ScopeTask).State)
		require.EqualValues(t, 1, b.task(t, id).Attempt)
		b.clock.Advance(10 * time.Second)
		tk = b.claim(t, store.ClaimParams{})[0]
		require.EqualValues(t, 2, tk.Attempt)
		b.fail(t, tk, time.Minute, stent.ScopeTask)
		require.EqualValues(t, 1, b.task(t, id).Attempt, "back to the previous attempt")
		b.clock.Advance(time.Minute)
		tk = b.claim(t, store.ClaimParams{})[0]
		require.EqualValues(t, 2, tk.Attempt)
		require.Equal(t, "failed", b.fail(t, tk, -1, stent.ScopeTask).State)
		require.Equal(t, 1, b.count(t, "select count(*) from stent.dead_letters where task_id = $1 and attempts = 2", id))
	})

	t.Run("Function", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		act := b.echo("ra.fn", stent.RetryAfterScope(stent.ScopeFunction))
		unrelated := b.echo("ra.unrelated")
		_, a1 := b.dispatch(t, act, "1")
		_, a2 := b.dispatch(t, act, "2")
		_, a3 := b.dispatch(t, act, "3")
		_, u := b.dispatch(t, unrelated, "u")
		tk := b.claim(t, store.ClaimParams{Names: []string{"ra.fn"}, Limit: 1})[0]
		require.Equal(t, a1, tk.ID)
		b.fail(t, tk, time.Minute, stent.ScopeFunction)

		require.Equal(t, []int64{u}, ids(b.claim(t, store.ClaimParams{})), "other functions are unaffected")
		require.Equal(t, 3, b.count(t, "select count(*) from stent.tasks where name = 'ra.fn' and state = 'pending' and attempt = 0"))
		d, ok, err := b.store.NextDue(b.ctx, []string{stent.DefaultQueue}, []string{"ra.fn"}, nil)
		require.NoError(t, err)
		require.True(t, ok)
		require.InDelta(t, time.Minute, d, float64(time.Millisecond))
		b.clock.Advance(59 * time.Second)
		require.Empty(t, b.claim(t, store.ClaimParams{}), "the whole function backs off")
		b.clock.Advance(time.Second)
		require.ElementsMatch(t, []int64{a1, a2, a3}, ids(b.claim(t, store.ClaimParams{})))
	})

	t.Run("Key", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		// Limited, so the back-off must also hold on the limited claim path.
		act := b.echo("ra.key", stent.RetryAfterScope(stent.ScopeKey), stent.MaxConcurrentPerKey(5))
		b.register(t, act)
		_, a1 := b.dispatch(t, act, "a1", stent.WithConcurrencyKey("a"))
		_, a2 := b.dispatch(t, act, "a2", stent.WithConcurrencyKey("a"))
		_, b1 := b.dispatch(t, act, "b1", stent.WithConcurrencyKey("b"))
		_, n1 := b.dispatch(t, act, "n1") // no key: a key back-off is the task's own
		_, n2 := b.dispatch(t, act, "n2")
		tk := b.claim(t, store.ClaimParams{Limit: 1})[0]
		require.Equal(t, a1, tk.ID)
		b.fail(t, tk, time.Minute, stent.ScopeKey)
		tk = b.claim(t, store.ClaimParams{Limit: 1})[0]
		require.Equal(t, b1, tk.ID)
		b.completeClaimed(t, tk)
		tk = b.claim(t, store.ClaimParams{Limit: 1})[0]
		require.Equal(t, n1, tk.ID)
		b.fail(t, tk, time.Minute, stent.ScopeKey)

		require.Equal(t, []int64{n2}, ids(b.claim(t, store.ClaimParams{})), "key a and task n1 wait")
		b.clock.Advance(time.Minute)
		require.ElementsMatch(t, []int64{a1, a2, n1}, ids(b.claim(t, store.ClaimParams{})))
	})
}

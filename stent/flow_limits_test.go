package stent_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/internal/store"
	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/stenttest"
)

// Queries the poller of raceClaimers runs: the running attempts of a function, and the most
// running attempts of any one key of it.
const (
	runningQuery      = "select count(*) from stent.tasks where name = $1 and state = 'running'"
	keyRunningQuery   = "select coalesce(max(n), 0) from (select count(*) as n from stent.tasks where name = $1 and state = 'running' group by concurrency_key) k"
	raceClaimersCount = 8
)

// raceResult is what raceClaimers saw.
type raceResult struct {
	dbMax   int            // the largest value of the poller's query
	polls   int            // how often the poller ran it
	heldMax map[string]int // the most tasks the claimers held at once, per key ("" for all)
}

// raceClaimers drains total pending tasks of a function with 8 claimers, each on a session of
// its own, claiming small random batches, doing one round trip of "work" and completing what
// they claimed, while a ninth session runs query in a tight loop and records its largest
// value. The claimers also count what they hold: a task counts from the moment its claim
// returned until just before its completion is sent, so the count never exceeds what the
// database has running — a count over the limit is an over-admission, whatever the poller
// happened to see.
func raceClaimers(t *testing.T, b *testBundle, name string, total int, query string) raceResult {
	t.Helper()
	url := b.pool.Config().ConnString()
	ctx, cancel := context.WithTimeout(b.ctx, 2*waitTimeout)
	defer cancel()
	var (
		completed atomic.Int64
		mu        sync.Mutex
		held      = map[string]int{}
		res       = raceResult{heldMax: map[string]int{}}
		errs      = make([]error, raceClaimersCount)
		wg        sync.WaitGroup
		start     = make(chan struct{})
	)
	hold := func(ts []*store.Task, delta int) {
		mu.Lock()
		defer mu.Unlock()
		for _, tk := range ts {
			for _, k := range []string{"", "key:" + tk.ConcurrencyKey.String} {
				held[k] += delta
				res.heldMax[k] = max(res.heldMax[k], held[k])
			}
		}
	}
	for i := range raceClaimersCount {
		pool := stenttest.Pool(t, stenttest.WithURL(url), stenttest.WithMaxConns(1), stenttest.WithClock(b.clock))
		st := store.New(pool)
		wg.Go(func() {
			<-start
			rng := rand.New(rand.NewPCG(uint64(i), 99))
			for completed.Load() < int64(total) {
				ts, err := st.ClaimTasks(ctx, store.ClaimParams{WorkerID: fmt.Sprint("claimer-", i),
					Queues: []string{stent.DefaultQueue}, Names: []string{name}, Limit: int32(rng.IntN(3) + 1), Lease: time.Hour})
				if err != nil {
					errs[i] = err
					return
				}
				if len(ts) == 0 {
					runtime.Gosched()
					continue
				}
				hold(ts, 1)
				if _, err := pool.Exec(ctx, "select 1"); err != nil { // the work
					errs[i] = err
					return
				}
				hold(ts, -1)
				cs := make([]store.Completion, len(ts))
				for j, tk := range ts {
					cs[j] = store.Completion{TaskID: tk.ID, Token: tk.LeaseToken, Output: []byte(`""`)}
				}
				ok, err := st.CompleteTasks(ctx, cs)
				if err != nil {
					errs[i] = err
					return
				}
				for _, applied := range ok {
					if !applied {
						errs[i] = errors.New("a completion was refused")
						return
					}
				}
				completed.Add(int64(len(ts)))
			}
		})
	}
	poller := stenttest.Pool(t, stenttest.WithURL(url), stenttest.WithMaxConns(1))
	stop, polled := make(chan struct{}), make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				polled <- nil
				return
			default:
			}
			var n int
			if err := poller.QueryRow(ctx, query, name).Scan(&n); err != nil {
				polled <- err
				return
			}
			res.dbMax, res.polls = max(res.dbMax, n), res.polls+1
		}
	}()
	close(start)
	wg.Wait()
	close(stop)
	require.NoError(t, <-polled)
	for i, err := range errs {
		require.NoError(t, err, "claimer %d", i)
	}
	require.EqualValues(t, total, completed.Load())
	require.Equal(t, total, b.count(t, "select count(*) from stent.tasks where name = $1 and state = 'completed' and attempt = 1", name))
	t.Logf("running at most %d (poller, %d polls), held at most %d", res.dbMax, res.polls, res.heldMax[""])
	return res
}

// TestConcurrencyLimitStrict: 8 claimers race over 300 pending tasks of a function limited to
// 1 (from its definition), to 5 (set at run time), or to 2 per key with 10 keys: the limit is
// never exceeded, the capacity is used, and every task completes once.
func TestConcurrencyLimitStrict(t *testing.T) {
	t.Parallel()
	const tasks = 300

	t.Run("Limit1", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		act := b.echo("strict.one", stent.MaxConcurrent(1))
		b.register(t, act)
		_, err := act.DispatchMany(b.ctx, b.client, make([]string, tasks))
		require.NoError(t, err)
		r := raceClaimers(t, b, "strict.one", tasks, runningQuery)
		require.Equal(t, 1, r.dbMax)
		require.Equal(t, 1, r.heldMax[""])
	})

	t.Run("Limit5", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		act := b.echo("strict.five")
		require.NoError(t, b.client.SetLimits(b.ctx, "strict.five", stent.Limits{MaxConcurrent: 5}))
		_, err := act.DispatchMany(b.ctx, b.client, make([]string, tasks))
		require.NoError(t, err)
		r := raceClaimers(t, b, "strict.five", tasks, runningQuery)
		require.LessOrEqual(t, r.dbMax, 5)
		require.LessOrEqual(t, r.heldMax[""], 5)
		require.Greater(t, max(r.dbMax, r.heldMax[""]), 1, "more than one ran at once")
	})

	t.Run("PerKey", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		act := stent.NewActivity("strict.key", func(context.Context, tenantIn) (string, error) { return "", nil },
			stent.InRegistry(b.reg), stent.KeyField("tenant"), stent.MaxConcurrentPerKey(2))
		b.register(t, act)
		ins := make([]tenantIn, tasks)
		for i := range ins {
			ins[i] = tenantIn{Tenant: fmt.Sprint("tenant-", i%10), N: i}
		}
		_, err := act.DispatchMany(b.ctx, b.client, ins)
		require.NoError(t, err)
		require.Equal(t, 10, b.count(t, "select count(distinct concurrency_key) from stent.tasks"))
		r := raceClaimers(t, b, "strict.key", tasks, keyRunningQuery)
		require.LessOrEqual(t, r.dbMax, 2)
		for k, n := range r.heldMax {
			if k != "" {
				require.LessOrEqual(t, n, 2, k)
			}
		}
		require.Greater(t, r.heldMax[""], 2, "keys ran side by side")
	})
}

// TestNoStarvation: tasks held back by a limit never hide eligible work behind them, and
// priorities still order the eligible tasks, limited or not.
func TestNoStarvation(t *testing.T) {
	t.Parallel()

	t.Run("UnlimitedBehindLimited", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		limited := b.echo("starve.limited", stent.MaxConcurrent(1))
		free := b.echo("starve.free")
		b.register(t, limited, free)
		_, err := limited.DispatchMany(b.ctx, b.client, make([]string, 10000))
		require.NoError(t, err)
		_, last := b.dispatch(t, free, "last")

		ts := b.claim(t, store.ClaimParams{Limit: 10})
		require.Len(t, ts, 2, "the unlimited task and one limited task")
		require.Contains(t, ids(ts), last)
		require.Empty(t, b.claim(t, store.ClaimParams{Limit: 10}))
		require.Equal(t, 9999, b.count(t, "select count(*) from stent.tasks where name = 'starve.limited' and state = 'pending' and attempt = 0"))
	})

	t.Run("Priorities", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		limited := b.echo("prio.limited", stent.MaxConcurrent(1))
		free := b.echo("prio.free")
		b.register(t, limited, free)
		_, low := b.dispatch(t, free, "low", stent.WithPriority(-5))
		_, high1 := b.dispatch(t, limited, "high-1", stent.WithPriority(5))
		_, high2 := b.dispatch(t, limited, "high-2", stent.WithPriority(5))
		_, mid := b.dispatch(t, free, "mid")

		ts := b.claim(t, store.ClaimParams{Limit: 2})
		require.Equal(t, []int64{high1, mid}, ids(ts), "best first, limited or not")
		require.Equal(t, []int64{low}, ids(b.claim(t, store.ClaimParams{Limit: 10})), "high-2 waits for the slot")
		b.completeClaimed(t, ts[0])
		require.Equal(t, []int64{high2}, ids(b.claim(t, store.ClaimParams{Limit: 10})))
	})
}

// TestRescueReleasesSlot: an attempt whose lease expired holds its slot until it is rescued
// (its worker may still be running it); the rescue frees the slot for the next task, and the
// rescued task takes it back when it is due again.
func TestRescueReleasesSlot(t *testing.T) {
	t.Parallel()
	b := setup(t)
	act := b.echo("rescue.slot", stent.MaxConcurrent(1), stent.Retry(noJitter(3, time.Second)))
	b.register(t, act)
	_, first := b.dispatch(t, act, "first")
	_, second := b.dispatch(t, act, "second")
	require.Equal(t, []int64{first}, ids(b.claim(t, store.ClaimParams{})))
	require.Empty(t, b.claim(t, store.ClaimParams{}))

	b.clock.Advance(31 * time.Second)
	require.Empty(t, b.claim(t, store.ClaimParams{}), "an expired lease still holds the slot")
	rescued, err := b.store.RescueExpired(b.ctx, 100)
	require.NoError(t, err)
	require.Equal(t, []store.Rescued{{TaskID: first, State: "pending"}}, idStates(rescued))
	require.Equal(t, []int64{second}, ids(b.claim(t, store.ClaimParams{})), "the rescue freed the slot")

	b.clock.Advance(31 * time.Second) // the second lease expires too; the first is due again
	require.Empty(t, b.claim(t, store.ClaimParams{}))
	_, err = b.store.RescueExpired(b.ctx, 100)
	require.NoError(t, err)
	ts := b.claim(t, store.ClaimParams{})
	require.Equal(t, []int64{first}, ids(ts))
	require.EqualValues(t, 2, ts[0].Attempt)
}

// TestSetLimits: limits set at run time (Go or SQL) override the registered ones and survive
// re-registration until reset; the next registration then restores the code's limits. Bad
// limits are refused by the client and by stent.set_limits.
func TestSetLimits(t *testing.T) {
	t.Parallel()
	b := setup(t)
	act := b.echo("limits.fn", stent.MaxConcurrent(5))
	b.register(t, act)
	limits := func() map[string]stent.Limits {
		ls, err := b.client.ListLimits(b.ctx)
		require.NoError(t, err)
		return ls
	}
	require.Equal(t, map[string]stent.Limits{"limits.fn": {MaxConcurrent: 5}}, limits())

	override := stent.Limits{MaxConcurrent: 1, RatePerKey: stent.Rate{Count: 3, Per: time.Minute}}
	require.NoError(t, b.client.SetLimits(b.ctx, "limits.fn", override))
	override.Overridden = true
	require.Equal(t, override, limits()["limits.fn"])
	b.register(t, act)
	require.Equal(t, override, limits()["limits.fn"], "registration keeps the override")

	require.NoError(t, b.client.ResetLimits(b.ctx, "limits.fn"))
	require.ErrorIs(t, b.client.ResetLimits(b.ctx, "limits.fn"), stent.ErrNotFound)
	b.register(t, act)
	require.Equal(t, stent.Limits{MaxConcurrent: 5}, limits()["limits.fn"], "registration restores the code's limits")

	// Zero fields lift every limit, and that too outlives registration.
	require.NoError(t, b.client.SetLimits(b.ctx, "limits.fn", stent.Limits{}))
	b.register(t, act)
	require.Equal(t, stent.Limits{Overridden: true}, limits()["limits.fn"])
	_, err := act.DispatchMany(b.ctx, b.client, make([]string, 7))
	require.NoError(t, err)
	require.Len(t, b.claim(t, store.ClaimParams{}), 7)

	_, err = b.pool.Exec(b.ctx, "select stent.set_limits('sql.fn', p_rate => 4, p_rate_period => interval '2 seconds')")
	require.NoError(t, err)
	require.Equal(t, stent.Limits{Rate: stent.Rate{Count: 4, Per: 2 * time.Second}, Overridden: true}, limits()["sql.fn"])

	before := limits()
	for _, bad := range []stent.Limits{
		{MaxConcurrent: -1},
		{MaxConcurrentPerKey: -2},
		{Rate: stent.Rate{Count: 5}},
		{Rate: stent.Rate{Per: time.Second}},
		{Rate: stent.Rate{Count: 1, Per: -time.Second}},
		{RatePerKey: stent.Rate{Count: -1, Per: time.Second}},
	} {
		var ia *stent.InvalidArgumentError
		require.ErrorAs(t, b.client.SetLimits(b.ctx, "limits.fn", bad), &ia, "%+v", bad)
	}
	var ia *stent.InvalidArgumentError
	require.ErrorAs(t, b.client.SetLimits(b.ctx, "", stent.Limits{MaxConcurrent: 1}), &ia)
	require.ErrorAs(t, b.client.SetLimits(b.ctx, "bad name", stent.Limits{MaxConcurrent: 1}), &ia)
	for _, q := range []string{
		"select stent.set_limits('x', -1)",
		"select stent.set_limits('x', p_key_max_concurrent => 0)",
		"select stent.set_limits('x', p_rate => 5)",
		"select stent.set_limits('x', p_rate_period => interval '1 second')",
		"select stent.set_limits('x', p_key_rate => 1, p_key_rate_period => interval '0')",
		"select stent.set_limits('', 1)",
		"select stent.set_limits(null, 1)",
	} {
		_, err := b.pool.Exec(b.ctx, q)
		requireSQLState(t, err, "ST003")
	}
	require.Equal(t, before, limits(), "nothing changed")
}

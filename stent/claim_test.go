package stent_test

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/internal/store"
	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/stenttest"
)

// TestClaimExactlyOnce: 8 claimers on separate sessions drain 10,000 tasks with random batch
// sizes; every task is claimed by exactly one of them (FOR UPDATE SKIP LOCKED).
func TestClaimExactlyOnce(t *testing.T) {
	t.Parallel()
	const (
		tasks    = 10000
		claimers = 8
	)
	b := setup(t)
	act := b.echo("claim.once")
	ins := make([]string, tasks)
	for i := range ins {
		ins[i] = "x"
	}
	ids, err := act.DispatchMany(b.ctx, b.client, ins)
	require.NoError(t, err)
	require.Len(t, ids, tasks)

	url := b.pool.Config().ConnString()
	results := make([][]int64, claimers)
	errs := make([]error, claimers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range claimers {
		// One single-connection pool per claimer: each claims on its own session.
		st := store.New(stenttest.Pool(t, stenttest.WithURL(url), stenttest.WithMaxConns(1), stenttest.WithClock(b.clock)))
		wg.Go(func() {
			<-start
			for {
				ts, err := st.ClaimTasks(b.ctx, store.ClaimParams{
					WorkerID: fmt.Sprint("claimer-", i), Queues: []string{stent.DefaultQueue},
					Names: []string{"claim.once"}, Limit: int32(rand.IntN(50) + 1), Lease: time.Minute,
				})
				if err != nil {
					errs[i] = err
					return
				}
				if len(ts) == 0 {
					return
				}
				for _, tk := range ts {
					results[i] = append(results[i], tk.ID)
				}
			}
		})
	}
	close(start)
	wg.Wait()

	seen := make(map[int64]int, tasks)
	for i := range claimers {
		require.NoError(t, errs[i])
		for _, id := range results[i] {
			seen[id]++
		}
	}
	for id, n := range seen {
		require.Equal(t, 1, n, "task %d claimed %d times", id, n)
	}
	require.Len(t, seen, tasks, "every task claimed")
	for i := range claimers { // each task is leased to the claimer that got it
		require.Equal(t, len(results[i]), b.count(t, "select count(*) from stent.tasks where lease_owner = $1 and id = any($2)",
			fmt.Sprint("claimer-", i), results[i]), "claimer %d", i)
	}
	require.Equal(t, tasks, b.count(t, "select count(*) from stent.tasks where state = 'running' and attempt = 1 and lease_token > 0"))
	require.Zero(t, b.count(t, "select count(*) from stent.tasks where state = 'pending'"))
	require.Equal(t, tasks, b.count(t, "select count(*) from stent.executions where state = 'running'"))
}

// TestClaimPriorityOrder: a claim returns higher priority first, then earlier run_at, then
// lower id — within a queue and across the queues it names — whether everything is claimed
// at once or one task per claim.
func TestClaimPriorityOrder(t *testing.T) {
	t.Parallel()
	want := []string{"high-old", "high-recent", "mid-old", "mid-recent", "mid-recent-2", "zero", "low-old"}
	queues := []string{"default", "other"}

	t.Run("OneClaim", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		names := dispatchOrderScenario(t, b)
		var got []string
		for _, tk := range b.claim(t, store.ClaimParams{Queues: queues}) {
			got = append(got, names[tk.ID])
		}
		require.Equal(t, want, got)
	})

	t.Run("OneAtATime", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		names := dispatchOrderScenario(t, b)
		var got []string
		for range want {
			ts := b.claim(t, store.ClaimParams{Queues: queues, Limit: 1})
			require.Len(t, ts, 1)
			got = append(got, names[ts[0].ID])
		}
		require.Equal(t, want, got)
		require.Empty(t, b.claim(t, store.ClaimParams{Queues: queues}))
	})
}

// dispatchOrderScenario dispatches tasks of mixed priority, run_at and queue, and returns
// their names by root task id.
func dispatchOrderScenario(t *testing.T, b *testBundle) map[int64]string {
	t.Helper()
	act := b.echo("claim.order")
	now := b.clock.Now()
	specs := []struct {
		name     string
		priority int
		ago      time.Duration // run_at = now - ago
		queue    string
	}{ // dispatch order gives ascending ids
		{"low-old", -5, time.Hour, "default"},
		{"mid-recent", 5, time.Minute, "default"},
		{"high-recent", 10, time.Second, "other"},
		{"mid-old", 5, 2 * time.Minute, "other"},
		{"mid-recent-2", 5, time.Minute, "other"}, // ties mid-recent; larger id, so after it
		{"zero", 0, time.Hour, "default"},
		{"high-old", 10, time.Hour, "default"},
	}
	names := map[int64]string{}
	for _, s := range specs {
		_, tid := b.dispatch(t, act, s.name, stent.WithPriority(s.priority),
			stent.WithRunAt(now.Add(-s.ago)), stent.WithQueue(s.queue))
		names[tid] = s.name
	}
	return names
}

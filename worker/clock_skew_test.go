package worker_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/worker"
)

// skewObservation is what one worker's share of the workload looked like, in database time
// relative to the start: it must be the same for every worker, whatever its own clock says.
type skewObservation struct {
	RetryAt       time.Duration // when the failed first attempt is retried
	LeaseUntil    time.Duration // lease expiry of a running attempt
	LeaseOwner    string
	SleepUntil    time.Duration // the durable sleep's deadline
	SignalUntil   time.Duration // the signal wait's deadline (from when it first ran)
	RecordedNow   time.Duration // stent.Now inside the workflow
	WorkflowState stent.ExecutionState
	FlakyAttempts int32
	SlowState     stent.ExecutionState
}

// TestClockSkew runs three workers whose own clocks are 10 minutes behind, right and 10
// minutes ahead, each serving its own tagged share of the same workload on a fake database
// clock: retries with backoff, leases and their renewal, a durable sleep, a signal wait that
// times out, stent.Now, and the rescue of expired leases by whichever worker leads
// maintenance. Every worker's share behaves identically, to the microsecond, because every
// decision is made by the database clock; the workers' leases are never lost to their skew.
func TestClockSkew(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2032, 3, 4, 5, 6, 7, 0, time.UTC)
	b := setupWithClock(t, t0)
	const lease = 10 * time.Hour // longer than every clock jump below, so only a rescue could end it

	var mu sync.Mutex
	attempts := map[string]int32{}
	flaky := stent.NewActivity("skew.flaky", func(_ context.Context, in string) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		attempts[in]++
		if attempts[in] == 1 {
			return "", errors.New("first attempt fails")
		}
		return in, nil
	}, b.in(), stent.Retry(stent.RetryPolicy{MaxAttempts: 3, InitialDelay: time.Minute, BackoffFactor: 2, Jitter: stent.NoJitter}))
	release := make(chan struct{})
	slow := stent.NewActivity("skew.slow", func(ctx context.Context, in string) (string, error) {
		select {
		case <-release:
		case <-b.done:
		}
		return in, nil
	}, b.in())
	stent.NewActivity("skew.ghost", func(_ context.Context, in string) (string, error) { return in, nil }, b.in())
	sleeper := stent.NewWorkflow("skew.sleeper", func(ctx stent.Context, _ string) (time.Time, error) {
		now := stent.Now(ctx)
		if err := stent.Sleep(ctx, time.Hour); err != nil {
			return time.Time{}, err
		}
		if _, err := stent.WaitSignal[string](ctx, "never", 10*time.Minute); !errors.Is(err, stent.ErrSignalTimeout) {
			return time.Time{}, errors.New("signal wait did not time out")
		}
		return now, nil
	}, b.in())

	skews := map[string]time.Duration{"skew-minus": -10 * time.Minute, "skew-zero": 0, "skew-plus": 10 * time.Minute}
	for id, skew := range skews {
		b.startWorker(worker.WithClockOffset(worker.Config{
			ID: id, Tags: []string{id}, LeaseDuration: lease, HeartbeatInterval: 20 * time.Millisecond,
			MaintenanceInterval: 10 * time.Millisecond, PollInterval: 20 * time.Millisecond,
		}, skew))
	}

	type ids struct{ flaky, slow, sleeper uuid.UUID }
	started := map[string]ids{}
	for id := range skews {
		var x ids
		var err error
		x.flaky, err = flaky.Dispatch(b.ctx(), b.client, id, stent.WithTags(id))
		require.NoError(t, err)
		x.slow, err = slow.Dispatch(b.ctx(), b.client, id, stent.WithTags(id))
		require.NoError(t, err)
		x.sleeper, err = sleeper.Dispatch(b.ctx(), b.client, id, stent.WithTags(id))
		require.NoError(t, err)
		started[id] = x
	}
	// Expired leases for the rescuer: attempts claimed by a worker that vanished, their lease
	// ending 30s after t0 (tagged so that no live worker runs them afterwards).
	var ghosts []int64
	for range 3 {
		_, err := b.client.Dispatch(b.ctx(), "skew.ghost", "g", stent.WithTags("ghost"))
		require.NoError(t, err)
	}
	rows, err := b.pool.Query(b.ctx(), `SELECT id FROM stent.claim_tasks('ghost', '{default}', '{skew.ghost}', '{ghost}', 10, '30 seconds')`)
	require.NoError(t, err)
	for rows.Next() {
		var id int64
		require.NoError(t, rows.Scan(&id))
		ghosts = append(ghosts, id)
	}
	require.NoError(t, rows.Err())
	require.Len(t, ghosts, 3)

	at := func(ts time.Time) time.Duration { return ts.Sub(t0) }
	obs := map[string]*skewObservation{}
	for id, x := range started {
		o := &skewObservation{}
		obs[id] = o
		pollUntil(t, id+" flaky retry scheduled", func() bool {
			return b.root(x.flaky).State == "pending" && b.root(x.flaky).Attempt == 1
		})
		o.RetryAt = at(b.root(x.flaky).RunAt)
		pollUntil(t, id+" slow running", func() bool { return b.root(x.slow).State == "running" })
		var owner string
		var until time.Time
		require.NoError(t, b.pool.QueryRow(b.ctx(), `SELECT lease_owner, lease_expires_at FROM stent.tasks
			WHERE execution_id = $1`, x.slow).Scan(&owner, &until))
		o.LeaseOwner, o.LeaseUntil = owner, at(until)
		pollUntil(t, id+" sleeper asleep", func() bool {
			return b.queryInt(`SELECT count(*) FROM stent.tasks WHERE execution_id = $1 AND kind = 'sleep' AND state = 'waiting'`, x.sleeper) == 1
		})
		var sleepUntil, recorded time.Time
		require.NoError(t, b.pool.QueryRow(b.ctx(), `SELECT run_at FROM stent.tasks WHERE execution_id = $1 AND kind = 'sleep'`,
			x.sleeper).Scan(&sleepUntil))
		require.NoError(t, b.pool.QueryRow(b.ctx(), `SELECT (output #>> '{}')::timestamptz FROM stent.tasks
			WHERE execution_id = $1 AND name = 'stent.now'`, x.sleeper).Scan(&recorded))
		o.SleepUntil, o.RecordedNow = at(sleepUntil), at(recorded)
	}

	// One minute on: the retries are due and the ghosts' leases expired; the leader (any of
	// the three) rescues the ghosts but none of the live leases.
	b.clock.Advance(time.Minute)
	for id, x := range started {
		_, err := flaky.Wait(b.ctx(), b.client, x.flaky)
		require.NoError(t, err, id)
	}
	pollUntil(t, "ghosts rescued", func() bool {
		return b.queryInt(`SELECT count(*) FROM stent.tasks WHERE id = ANY($1) AND state = 'pending'
			AND error->>'kind' = 'lease_expired'`, ghosts) == 3
	})
	require.EqualValues(t, 3, b.queryInt(`SELECT count(*) FROM stent.tasks WHERE name = 'skew.slow' AND state = 'running'`))

	// An hour on the sleepers wake and wait for a signal; ten minutes later the wait times out.
	b.clock.Advance(time.Hour)
	for id, x := range started {
		pollUntil(t, id+" waiting for its signal", func() bool {
			return b.queryInt(`SELECT count(*) FROM stent.tasks WHERE execution_id = $1 AND kind = 'signal' AND state = 'waiting'`, x.sleeper) == 1
		})
		var until time.Time
		require.NoError(t, b.pool.QueryRow(b.ctx(), `SELECT run_at FROM stent.tasks WHERE execution_id = $1 AND kind = 'signal'`,
			x.sleeper).Scan(&until))
		obs[id].SignalUntil = at(until)
	}
	b.clock.Advance(10 * time.Minute)
	close(release)
	for id, x := range started {
		now, err := sleeper.Wait(b.ctx(), b.client, x.sleeper)
		require.NoError(t, err, id)
		require.True(t, now.Equal(t0), "%s: stent.Now = %s, want the database's %s", id, now, t0)
		obs[id].WorkflowState = b.get(x.sleeper).State
		_, err = slow.Wait(b.ctx(), b.client, x.slow)
		require.NoError(t, err, id)
		obs[id].SlowState = b.get(x.slow).State
		mu.Lock()
		obs[id].FlakyAttempts = attempts[id]
		mu.Unlock()
	}

	for id := range skews {
		require.Equal(t, skewObservation{
			RetryAt: time.Minute, LeaseUntil: lease, LeaseOwner: id, SleepUntil: time.Hour,
			SignalUntil: time.Minute + time.Hour + 10*time.Minute, RecordedNow: 0,
			WorkflowState: stent.StateCompleted, FlakyAttempts: 2, SlowState: stent.StateCompleted,
		}, *obs[id], id)
	}
	// Each slow attempt ran once, under its first lease: skew never cost a worker its lease.
	require.EqualValues(t, 3, b.queryInt(`SELECT count(*) FROM stent.tasks WHERE name = 'skew.slow' AND attempt = 1`))
	findings, err := b.client.Doctor(b.ctx())
	require.NoError(t, err)
	require.Empty(t, findings)
}

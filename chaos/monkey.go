package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stentdev/stent/internal/pglaunch"
)

// monkey injects the soak's faults for a while: it SIGKILLs a random worker every
// KillEvery (±50%), freezes one (SIGSTOP, then SIGCONT once its leases have expired) every
// PauseEvery, terminates a worker's LISTEN backend or one of its other backends every
// TerminateEvery (alternately), restarts Postgres twice — with a fast shutdown a third of the
// way through and an immediate one (a crash, with recovery) two thirds of the way — and
// freezes the whole server for longer than a lease halfway.
type monkey struct {
	cfg     Config
	fleet   *fleet
	cluster *pglaunch.Cluster // nil with Config.DatabaseURL: no restarts
	pool    *pgxpool.Pool
	rng     *rand.Rand
	log     io.Writer
	wd      *watchdog

	kills        int
	pauses       int
	hangs        int // Postgres frozen
	killErrors   []string
	listenerKill int // backends terminated
	backendKill  int
	restarts     []string // the shutdown modes, in order
	restartErrs  []string
	lastFault    time.Time
}

// Backends of the worker processes: their LISTEN connections (the last statement was the
// notifier's LISTEN batch or its keepalive ping) and the others.
const (
	listenerBackends = `select pid from pg_stat_activity
		where application_name like 'chaos-worker-%' and backend_type = 'client backend'
		  and (query ilike '%listen "stent_%' or query = '-- ping')`
	workerBackends = `select pid from pg_stat_activity
		where application_name like 'chaos-worker-%' and backend_type = 'client backend'
		  and not (query ilike '%listen "stent_%' or query = '-- ping')`
)

// run injects faults until the duration has passed. The restarts and the hang are made even
// if the host is so slow that their time comes only after that, and every other kind of
// fault at least once (see catchUp).
func (m *monkey) run(ctx context.Context, d time.Duration) {
	start := time.Now()
	end := start.Add(d)
	restartAt := []time.Time{start.Add(d / 3), start.Add(2 * d / 3)}
	modes := []string{"fast", "immediate"}
	hangAt := start.Add(d / 2)
	if m.cluster == nil {
		hangAt = end.Add(time.Hour) // not our server
	}
	nextKill := time.Now().Add(m.jitter(m.cfg.KillEvery))
	nextTerm := time.Now().Add(m.cfg.TerminateEvery / 2)
	nextPause := time.Now().Add(m.cfg.PauseEvery / 2)
	pauseFor := workerConfig("").LeaseDuration + 2*time.Second
	listener := true
	wd := m.wd
	for {
		wd.doing("")
		next := minTime(end, nextKill, nextTerm, nextPause, hangAt)
		if m.cluster != nil && len(restartAt) > 0 {
			next = minTime(next, restartAt[0])
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(next)):
		}
		now := time.Now()
		switch {
		case !now.Before(end) && hangAt.After(end) && (m.cluster == nil || len(restartAt) == 0):
			wd.doing("catch-up")
			m.catchUp(ctx, pauseFor)
			return
		case !now.Before(hangAt):
			wd.doing("hang")
			m.hang(workerConfig("").LeaseDuration + 3*time.Second)
			hangAt = end.Add(time.Hour) // once
		case m.cluster != nil && len(restartAt) > 0 && !now.Before(restartAt[0]):
			wd.doing("restart")
			m.restart(ctx, modes[0])
			restartAt, modes = restartAt[1:], modes[1:]
		case !now.Before(nextPause):
			if now.Add(pauseFor).Before(end) { // every worker runs again before the faults end
				wd.doing("pause")
				m.pause(pauseFor)
			}
			nextPause = time.Now().Add(m.cfg.PauseEvery)
		case !now.Before(nextKill):
			wd.doing("kill")
			m.kill()
			nextKill = time.Now().Add(m.jitter(m.cfg.KillEvery))
		case !now.Before(nextTerm):
			wd.doing("terminate")
			if m.terminate(ctx, listener) {
				listener = !listener
				nextTerm = time.Now().Add(m.cfg.TerminateEvery)
			} else {
				nextTerm = time.Now().Add(500 * time.Millisecond) // none yet: reconnecting after a restart
			}
		}
	}
}

// catchUp makes each kind of worker fault happen at least once, however slow the host was
// (or however long something else kept this process stopped).
func (m *monkey) catchUp(ctx context.Context, pauseFor time.Duration) {
	if m.kills == 0 {
		m.kill()
	}
	if m.pauses == 0 {
		m.pause(pauseFor)
	}
	for _, listener := range []bool{true, false} {
		for try := 0; try < 20 && (listener && m.listenerKill == 0 || !listener && m.backendKill == 0); try++ {
			if !m.terminate(ctx, listener) {
				time.Sleep(500 * time.Millisecond) // the workers may still be reconnecting
			}
		}
	}
}

// jitter returns d scaled by a random factor in [0.5, 1.5).
func (m *monkey) jitter(d time.Duration) time.Duration {
	return d/2 + time.Duration(m.rng.Int64N(int64(d)))
}

// kill SIGKILLs a random worker and starts its replacement.
func (m *monkey) kill() {
	slot := m.rng.IntN(m.fleet.size())
	id, err := m.fleet.kill(slot)
	m.lastFault = time.Now()
	if err != nil {
		m.killErrors = append(m.killErrors, err.Error())
		return
	}
	m.kills++
	fmt.Fprintf(m.log, "%s  monkey: SIGKILL worker %s\n", stamp(), id)
}

// pause freezes a random worker for d, past the expiry of its leases.
func (m *monkey) pause(d time.Duration) {
	id, err := m.fleet.pause(m.rng.IntN(m.fleet.size()), d)
	m.lastFault = time.Now().Add(d)
	if err != nil {
		m.killErrors = append(m.killErrors, err.Error())
		return
	}
	m.pauses++
	fmt.Fprintf(m.log, "%s  monkey: SIGSTOP worker %s for %s\n", stamp(), id, d)
}

// hang freezes the Postgres server for d (see hangPostgres).
func (m *monkey) hang(d time.Duration) {
	fmt.Fprintf(m.log, "%s  monkey: freezing Postgres (SIGSTOP) for %s\n", stamp(), d)
	err := hangPostgres(m.cluster.DataDir(), d)
	m.lastFault = time.Now()
	if err != nil {
		m.restartErrs = append(m.restartErrs, fmt.Sprintf("hang: %v", err))
		return
	}
	m.hangs++
	fmt.Fprintf(m.log, "%s  monkey: Postgres continues\n", stamp())
}

// restart restarts Postgres with the shutdown mode.
func (m *monkey) restart(ctx context.Context, mode string) {
	fmt.Fprintf(m.log, "%s  monkey: restarting Postgres (%s shutdown)\n", stamp(), mode)
	t := time.Now()
	err := m.cluster.Restart(ctx, mode)
	m.lastFault = time.Now()
	if err != nil {
		m.restartErrs = append(m.restartErrs, fmt.Sprintf("%s: %v", mode, err))
		fmt.Fprintf(m.log, "%s  monkey: restart failed: %v\n", stamp(), err)
		return
	}
	m.restarts = append(m.restarts, mode)
	fmt.Fprintf(m.log, "%s  monkey: Postgres back after %s\n", stamp(), time.Since(t).Round(time.Millisecond))
}

// terminate terminates one random worker backend: a LISTEN connection or another one, and
// reports whether it did. There may be none right now (the workers are reconnecting after a
// restart), or Postgres may be restarting.
func (m *monkey) terminate(ctx context.Context, listener bool) bool {
	query, what := workerBackends, "worker backend"
	if listener {
		query, what = listenerBackends, "listener backend"
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rows, err := m.pool.Query(ctx, query)
	if err != nil {
		fmt.Fprintf(m.log, "%s  monkey: no %s to terminate: %v\n", stamp(), what, err)
		return false
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil || len(pids) == 0 {
		return false
	}
	pid := pids[m.rng.IntN(len(pids))]
	var ok bool
	if err := m.pool.QueryRow(ctx, "select pg_terminate_backend($1)", pid).Scan(&ok); err != nil || !ok {
		return false
	}
	m.lastFault = time.Now()
	if listener {
		m.listenerKill++
	} else {
		m.backendKill++
	}
	fmt.Fprintf(m.log, "%s  monkey: pg_terminate_backend(%d), a %s\n", stamp(), pid, what)
	return true
}

func minTime(t time.Time, ts ...time.Time) time.Time {
	for _, u := range ts {
		if u.Before(t) {
			t = u
		}
	}
	return t
}

// stamp is the time of day for progress lines.
func stamp() string { return time.Now().UTC().Format("15:04:05.000") }

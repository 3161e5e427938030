package main

import "fmt"

// target is one of the goals of issue 7, expressed as a ratio where higher is better for
// Stent and the goal is ratio ≥ required. Absolute goals (p99 ≤ 5 ms, RSS < 100 MB) compare
// with their limit in place of a peer.
type target struct {
	name     string
	short    string  // chart label
	stent    float64 // Stent's median
	peer     float64 // the peer's median, or the absolute limit
	absolute bool    // peer is a limit, not a measurement
	ratio    float64 // oriented so higher is better
	required float64
	ok       bool // both figures were measured
}

func (t target) met() bool { return t.ok && t.ratio >= t.required }

func (t target) verdict() string {
	if !t.ok {
		return "not measured"
	}
	return fmt.Sprintf("Stent %s, peer %s: ratio %.2f (need %.2f) %v", format(t.stent), t.peerText(), t.ratio, t.required, map[bool]string{true: "met", false: "NOT MET"}[t.met()])
}

func (t target) peerText() string {
	if !t.ok {
		return "—"
	}
	if t.absolute {
		return "limit " + format(t.peer)
	}
	return format(t.peer)
}

func (t target) ratioText() string {
	if !t.ok {
		return "—"
	}
	return fmt.Sprintf("%.2f×", t.ratio)
}

func (t target) requiredText() string { return fmt.Sprintf("≥ %.2f×", t.required) }

// targets computes every goal from the medians.
func (r *report) targets() []target {
	higher := func(name, short, workload, metric, peerSys, peerMetric string, required float64) target {
		t := target{name: name, short: short, required: required}
		s, ok1 := r.median(workload, "stent", metric)
		p, ok2 := r.median(workload, peerSys, peerMetric)
		if ok1 && ok2 && p > 0 {
			t.stent, t.peer, t.ratio, t.ok = s, p, s/p, true
		}
		return t
	}
	lower := func(name, short, workload, metric, peerSys string, required float64) target {
		t := target{name: name, short: short, required: required}
		s, ok1 := r.median(workload, "stent", metric)
		p, ok2 := r.median(workload, peerSys, metric)
		if ok1 && ok2 && s > 0 {
			t.stent, t.peer, t.ratio, t.ok = s, p, p/s, true
		}
		return t
	}
	limit := func(name, short, workload, metric string, max float64) target {
		t := target{name: name, short: short, required: 1, peer: max, absolute: true}
		if s, ok := r.median(workload, "stent", metric); ok && s > 0 {
			t.stent, t.ratio, t.ok = s, max/s, true
		}
		return t
	}
	// DBOS's step rate is the better of its queued and its direct (in-process) figure.
	dbosSteps := func(name, short, metric string, required float64) target {
		t := higher(name, short, "steps", metric, "dbos-fast", mWorkflows, required)
		if d := higher(name, short, "steps", metric, "dbos-fast", mDirect, required); d.ok && (!t.ok || d.peer > t.peer) {
			t = d
		}
		return t
	}
	return []target{
		higher("burn-down jobs/s ≥ 2× River (FetchCooldown 1 ms)", "burn-down vs River", "burndown", mRate, "river-fast", mRate, 2),
		lower("enqueue-to-start p50 ≤ ½ River's (FetchCooldown 1 ms)", "p50 latency vs River", "latency", mP50, "river-fast", 2),
		limit("enqueue-to-start p99 ≤ 5 ms", "p99 vs 5 ms", "latency", mP99, 5),
		dbosSteps("10 inline steps: workflows/s ≥ 2× DBOS's best (polling 1 ms, or direct)", "inline steps vs DBOS", mInline, 2),
		dbosSteps("10 activities: workflows/s ≥ DBOS's best inline-step rate", "activities vs DBOS steps", mActivities, 1),
		limit("100,000-task backlog: worker RSS < 100 MB", "backlog RSS vs 100 MB", "backlog", mBacklogRSS, 100),
		lower("statements per finished task ≤ River's", "statements vs River", "burndown", mStmts, "river-fast", 1),
		lower("WAL bytes per finished task ≤ River's", "WAL vs River", "burndown", mWAL, "river-fast", 1),
	}
}

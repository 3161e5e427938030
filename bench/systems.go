package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
)

// system is one engine in one configuration.
type system struct {
	key   string // flag name
	peer  string // engine: stent, river or dbos
	label string // column label in the report
	fast  bool   // the engine's fastest configuration rather than its defaults
	// scale divides the burn-down size, for a configuration too slow to drain the full size
	// in reasonable time (DBOS's defaults poll its queue once a second); the report says so.
	scale int
}

var systems = []system{
	{key: "stent", peer: "stent", label: "Stent"},
	{key: "river", peer: "river", label: "River (defaults)"},
	{key: "river-fast", peer: "river", label: "River (FetchCooldown 1 ms)", fast: true},
	{key: "dbos", peer: "dbos", label: "DBOS (defaults)", scale: 10},
	{key: "dbos-fast", peer: "dbos", label: "DBOS (queue polling 1 ms)", fast: true},
}

func systemKeys() []string {
	var out []string
	for _, s := range systems {
		out = append(out, s.key)
	}
	return out
}

// runFunc runs one workload once on one system and returns its figures.
type runFunc func(ctx context.Context, e *env, sys system, o options) (sample, error)

// workload is a measurement with an implementation per engine (nil where the engine has no
// equivalent).
type workload struct {
	name     string
	fastOnly bool // run the peers in their fastest configuration only
	run      map[string]runFunc
}

// Metric names, also the report's column headings.
const (
	mRate       = "jobs/s"
	mStmts      = "statements/task"
	mWAL        = "WAL bytes/task"
	mP50        = "p50 ms"
	mP95        = "p95 ms"
	mP99        = "p99 ms"
	mEnqueue    = "enqueue call p50 ms"
	mInline     = "inline-step workflows/s"
	mActivities = "activity workflows/s"
	mWorkflows  = "workflows/s"
	mDirect     = "direct workflows/s" // DBOS: RunWorkflow in-process, no queue
	mFanout     = "fan-out seconds"
	mClaimRate  = "backlog claims/s"
	mBacklogRSS = "backlog worker RSS MB"
	mSuspRSS    = "suspended RSS MB"
	mSuspGor    = "suspended goroutines"
)

var workloads = []workload{
	{name: "burndown", run: map[string]runFunc{"stent": stentBurndown, "river": riverBurndown, "dbos": dbosBurndown}},
	{name: "latency", run: map[string]runFunc{"stent": stentLatency, "river": riverLatency, "dbos": dbosLatency}},
	{name: "steps", run: map[string]runFunc{"stent": stentSteps, "river": riverSteps, "dbos": dbosSteps}},
	{name: "fanout", run: map[string]runFunc{"stent": stentFanout, "dbos": dbosFanout}},
	{name: "backlog", fastOnly: true, run: map[string]runFunc{"stent": backlogRun, "river": backlogRun, "dbos": backlogRun}},
}

func workloadNames() []string {
	var out []string
	for _, w := range workloads {
		out = append(out, w.name)
	}
	return out
}

// String prints the sample's metrics in a stable order.
func (s sample) String() string {
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %s", k, format(s[k]))
	}
	return b.String()
}

// format prints a figure with as many decimals as its size needs.
func format(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	case v >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}

// drainTimeout bounds how long any workload waits for its work.
const drainTimeout = 10 * time.Minute

package main

import (
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/stentdev/stent/stent"
)

// Summary is what a soak did and found.
type Summary struct {
	Run      string
	Seed     uint64
	Duration time.Duration
	Workers  int

	// Faults.
	Kills                int
	Pauses               int      // workers frozen past their leases' expiry
	Restarts             []string // Postgres shutdown modes, in order
	Hangs                int      // Postgres frozen (every process SIGSTOPped) past the leases
	ListenerTerminations int
	BackendTerminations  int

	// Workload.
	Executions      int // dispatched
	ByState         map[stent.ExecutionState]int
	Tasks           int
	SignalsSent     int64
	CancelsSent     int64
	DispatchRetries int64 // client calls retried through faults
	LostReplies     int64 // signals committed although the client saw an error (found on retry)

	// Findings.
	Lost            int // dispatched executions missing or unfinished
	WrongResults    int // finished with another state or output than expected
	ExpiredRunning  int // tasks running without a live lease
	TxEffects       int
	TxDuplicates    int // extra commits of a transactional activity's effect (must be 0)
	TxPhantoms      int // effects of transactional tasks that did not complete (must be 0)
	PlainEffects    int
	PlainReruns     int // extra runs of completed plain activities (allowed, at most attempts-times)
	UnexpectedExits []string
	WorkersProbed   int // worker processes that ran a probe after the drain
	DoctorFindings  []string

	Stalled            time.Duration // how long the soak process itself was not running (host)
	Drain              time.Duration // from the last fault until every execution finished
	DrainAfterDispatch time.Duration // from the end of dispatching until then

	Failures []string // broken invariants; empty when the soak passed
}

func (s *Summary) fail(format string, args ...any) {
	s.Failures = append(s.Failures, fmt.Sprintf(format, args...))
}

// OK reports whether every invariant held.
func (s *Summary) OK() bool { return len(s.Failures) == 0 }

// Print writes the summary as a short report.
func (s *Summary) Print(w io.Writer) {
	states := make([]string, 0, len(s.ByState))
	for st := range s.ByState {
		states = append(states, string(st))
	}
	slices.Sort(states)
	fmt.Fprintf(w, "chaos soak %s (seed %d): %s of faults, %d worker processes\n", s.Run, s.Seed, s.Duration, s.Workers)
	fmt.Fprintf(w, "  executions            %d dispatched, %d tasks\n", s.Executions, s.Tasks)
	for _, st := range states {
		fmt.Fprintf(w, "    %-19s %d\n", st, s.ByState[stent.ExecutionState(st)])
	}
	fmt.Fprintf(w, "  signals / cancels     %d / %d (client calls retried through faults: %d, replies lost: %d)\n", s.SignalsSent, s.CancelsSent, s.DispatchRetries, s.LostReplies)
	fmt.Fprintf(w, "  worker SIGKILLs       %d\n", s.Kills)
	fmt.Fprintf(w, "  worker freezes        %d (SIGSTOP past lease expiry, then SIGCONT)\n", s.Pauses)
	fmt.Fprintf(w, "  Postgres restarts     %d %v\n", len(s.Restarts), s.Restarts)
	fmt.Fprintf(w, "  Postgres freezes      %d (every server process SIGSTOPped past the leases)\n", s.Hangs)
	fmt.Fprintf(w, "  backends terminated   %d listener, %d other worker backends\n", s.ListenerTerminations, s.BackendTerminations)
	fmt.Fprintf(w, "  lost executions       %d\n", s.Lost)
	fmt.Fprintf(w, "  wrong results         %d\n", s.WrongResults)
	fmt.Fprintf(w, "  running, lease dead   %d\n", s.ExpiredRunning)
	fmt.Fprintf(w, "  tx effects            %d, duplicates %d, of unfinished tasks %d\n", s.TxEffects, s.TxDuplicates, s.TxPhantoms)
	fmt.Fprintf(w, "  plain effects         %d, re-runs of completed tasks %d (at most attempts-times: checked)\n", s.PlainEffects, s.PlainReruns)
	fmt.Fprintf(w, "  workers died alone    %d\n", len(s.UnexpectedExits))
	fmt.Fprintf(w, "  workers live at end   %d of %d ran a probe routed to them\n", s.WorkersProbed, s.Workers)
	fmt.Fprintf(w, "  drain after last fault %s (after dispatching stopped: %s)\n", s.Drain.Round(time.Millisecond), s.DrainAfterDispatch.Round(time.Millisecond))
	fmt.Fprintf(w, "  doctor findings       %d\n", len(s.DoctorFindings))
	if s.Stalled > 0 {
		fmt.Fprintf(w, "  note: the soak process itself was stalled %s in all (an overloaded or interfering host);\n"+
			"  its timings are not meaningful\n", s.Stalled.Round(100*time.Millisecond))
	}
	if s.OK() {
		fmt.Fprintln(w, "PASS: every invariant held")
		return
	}
	fmt.Fprintf(w, "FAIL: %d broken invariants\n", len(s.Failures))
	for i, f := range s.Failures {
		if i == 50 {
			fmt.Fprintf(w, "  … and %d more\n", len(s.Failures)-i)
			break
		}
		fmt.Fprintln(w, "  - "+f)
	}
}

package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stentdev/stent/stent"
)

// Orders in which states are shown.
var (
	executionStates = []string{"pending", "running", "completed", "failed", "cancelled", "timed_out"}
	taskStateOrder  = []string{"pending", "running", "waiting", "completed", "failed", "cancelled"}
)

// statsResult is what stats reports.
type statsResult struct {
	At            time.Time        `json:"at"` // the database clock
	Executions    map[string]int64 `json:"executions"`
	Tasks         map[string]int64 `json:"tasks"`
	Queues        []queueRow       `json:"queues"`
	DeadLetters   int64            `json:"dead_letters"`
	WindowSeconds float64          `json:"window_seconds"`
	Completed     int64            `json:"completed"`
	Failed        int64            `json:"failed"`
	Cancelled     int64            `json:"cancelled"`
	PerMinute     float64          `json:"per_minute"`
	ErrorRate     float64          `json:"error_rate"`
}

// queueRow is the load of one queue.
type queueRow struct {
	Queue   string `json:"queue"`
	Pending int64  `json:"pending"`
	Due     int64  `json:"due"`
	Running int64  `json:"running"`
}

func newStatsResult(s *stent.Stats) statsResult {
	res := statsResult{At: s.Now.UTC(), Executions: map[string]int64{}, Tasks: map[string]int64{}, Queues: []queueRow{},
		DeadLetters: s.DeadLetters, WindowSeconds: s.Window.Seconds(), Completed: s.Completed, Failed: s.Failed,
		Cancelled: s.Cancelled, PerMinute: s.Throughput, ErrorRate: s.ErrorRate}
	for _, st := range executionStates {
		res.Executions[st] = s.Executions[stent.ExecutionState(st)]
	}
	for _, st := range taskStateOrder {
		res.Tasks[st] = s.Tasks[st]
	}
	for _, q := range s.Queues {
		res.Queues = append(res.Queues, queueRow{Queue: q.Queue, Pending: q.Pending, Due: q.Due, Running: q.Running})
	}
	return res
}

func (c *cli) statsCommand() *cobra.Command {
	var window time.Duration
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "Show counts by state, queue depths, dead letters, throughput and error rate",
		Long: `Show executions and tasks by state, the depth of each queue, the number of dead letters,
and the throughput and error rate of executions that finished within --window. Every figure
is an aggregate query in the database, however many rows there are.`,
		Example: `  stent stats
  stent stats --window 1h -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			client, done, err := c.client(ctx)
			if err != nil {
				return err
			}
			defer done()
			s, err := client.Stats(ctx, window)
			if err != nil {
				return cliError(err)
			}
			res := newStatsResult(s)
			return c.print(res, func() error { return c.printStats(res) })
		},
	}
	cmd.Flags().DurationVarP(&window, "window", "w", stent.DefaultStatsWindow, "throughput and error-rate window")
	return cmd
}

func (c *cli) printStats(r statsResult) error {
	var w strings.Builder
	counts := func(title string, order []string, m map[string]int64) {
		var total int64
		var parts []string
		for _, st := range order {
			total += m[st]
			if m[st] > 0 {
				parts = append(parts, fmt.Sprintf("%s %d", c.state(st), m[st]))
			}
		}
		line := fmt.Sprintf("%-14s %d", title, total)
		if len(parts) > 0 {
			line += " (" + strings.Join(parts, ", ") + ")"
		}
		fmt.Fprintln(&w, line)
	}
	counts("Executions:", executionStates, r.Executions)
	counts("Tasks:", taskStateOrder, r.Tasks)
	fmt.Fprintf(&w, "%-14s %d\n", "Dead letters:", r.DeadLetters)
	fmt.Fprintf(&w, "Last %s: %d completed, %d failed, %d cancelled; %.1f/min, error rate %.1f%%\n",
		formatDuration(time.Duration(r.WindowSeconds*float64(time.Second))), r.Completed, r.Failed, r.Cancelled,
		r.PerMinute, r.ErrorRate*100)
	fmt.Fprintln(&w)
	if len(r.Queues) == 0 {
		fmt.Fprintln(&w, "All queues are empty.")
	} else {
		var most int64 = 1
		for _, q := range r.Queues {
			most = max(most, q.Pending)
		}
		t := newTable(&w, "QUEUE", "PENDING", "DUE", "RUNNING", "")
		for _, q := range r.Queues {
			t.row(q.Queue, fmt.Sprint(q.Pending), fmt.Sprint(q.Due), fmt.Sprint(q.Running),
				strings.Repeat("█", int((q.Pending*30+most-1)/most)))
		}
		_ = t.flush()
	}
	_, err := fmt.Fprint(c.stdout, w.String())
	return err
}

package main

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stentdev/stent/stent"
)

// limitsCommand is the limits group: the flow-control limits in force and run-time overrides
// of them (stent.set_limits and stent.reset_limits in SQL).
func (c *cli) limitsCommand() *cobra.Command {
	cmd := groupCommand(&cobra.Command{
		Use:   "limits",
		Short: "List, override or reset functions' concurrency and rate limits",
		Long: `List, override or reset functions' concurrency and rate limits.

Workers register the limits their code declares (MaxConcurrent, RateLimit, ...). An override
set here applies to every worker at once, outlives worker restarts and wins over the code's
limits until it is reset. Limits are enforced by the database when tasks are claimed.`,
	})
	cmd.AddCommand(c.limitsListCommand(), c.limitsSetCommand(), c.limitsResetCommand())
	return cmd
}

// limitsRow is one function's limits as the limits commands report them; null means no limit.
type limitsRow struct {
	Name                string    `json:"name"`
	MaxConcurrent       *int      `json:"max_concurrent"`
	MaxConcurrentPerKey *int      `json:"max_concurrent_per_key"`
	Rate                *rateJSON `json:"rate"`
	RatePerKey          *rateJSON `json:"rate_per_key"`
	Overridden          bool      `json:"overridden"`
}

// rateJSON is a rate limit: at most Count starts in any window of Per.
type rateJSON struct {
	Count      int     `json:"count"`
	Per        string  `json:"per"` // a Go duration, as --rate takes it
	PerSeconds float64 `json:"per_seconds"`
}

func newLimitsRow(name string, l stent.Limits) limitsRow {
	count := func(n int) *int {
		if n == 0 {
			return nil
		}
		return &n
	}
	rate := func(r stent.Rate) *rateJSON {
		if r.Count == 0 {
			return nil
		}
		return &rateJSON{Count: r.Count, Per: formatDuration(r.Per), PerSeconds: r.Per.Seconds()}
	}
	return limitsRow{Name: name, MaxConcurrent: count(l.MaxConcurrent), MaxConcurrentPerKey: count(l.MaxConcurrentPerKey),
		Rate: rate(l.Rate), RatePerKey: rate(l.RatePerKey), Overridden: l.Overridden}
}

// cells is the row's text columns.
func (r limitsRow) cells() []string {
	count := func(n *int) string {
		if n == nil {
			return "-"
		}
		return strconv.Itoa(*n)
	}
	rate := func(r *rateJSON) string {
		if r == nil {
			return "-"
		}
		return fmt.Sprintf("%d/%s", r.Count, r.Per)
	}
	return []string{r.Name, count(r.MaxConcurrent), count(r.MaxConcurrentPerKey), rate(r.Rate), rate(r.RatePerKey),
		map[bool]string{true: "yes", false: "no"}[r.Overridden]}
}

func (c *cli) limitsListCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the limits in force, by function",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			client, done, err := c.client(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			limits, err := client.ListLimits(cmd.Context())
			if err != nil {
				return cliError(err)
			}
			rows := make([]limitsRow, 0, len(limits))
			for name, l := range limits {
				rows = append(rows, newLimitsRow(name, l))
			}
			slices.SortFunc(rows, func(a, b limitsRow) int { return strings.Compare(a.Name, b.Name) })
			return c.print(rows, func() error {
				if len(rows) == 0 {
					_, err := fmt.Fprintln(c.stdout, "No limits.")
					return err
				}
				t := newTable(c.stdout, "FUNCTION", "MAX CONCURRENT", "PER KEY", "RATE", "RATE PER KEY", "OVERRIDDEN")
				for _, r := range rows {
					t.row(r.cells()...)
				}
				return t.flush()
			})
		},
	}
}

func (c *cli) limitsSetCommand() *cobra.Command {
	var maxConcurrent, maxPerKey, rate, ratePerKey string
	cmd := &cobra.Command{
		Use:   "set <function>",
		Short: "Override a function's limits at run time",
		Long: `Override a function's limits at run time, on every worker at once and until
` + "`stent limits reset`" + `. Limits not named on the command line keep their current values
(the code's, or an earlier override); 0 removes a limit.

Rates are N/PERIOD, at most N starts in any window of PERIOD (a Go duration of at least 1ms):
10/1s, 600/1m, 5/250ms; a bare unit means one of it (10/s).`,
		Example: `  stent limits set billing.charge --max-concurrent 5
  stent limits set billing.charge --rate 10/1s --rate-per-key 2/1s
  stent limits set billing.charge --max-concurrent 0   # remove that limit`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, name, flags := cmd.Context(), args[0], cmd.Flags()
			if !slices.ContainsFunc([]string{"max-concurrent", "max-concurrent-per-key", "rate", "rate-per-key"}, flags.Changed) {
				return usageErrorf("nothing to set: pass --max-concurrent, --max-concurrent-per-key, --rate or --rate-per-key")
			}
			if err := stent.ValidateName("function name", name); err != nil {
				return cliError(err)
			}
			// Parse everything before touching the database, so bad input changes nothing.
			var edits []func(*stent.Limits)
			if flags.Changed("max-concurrent") {
				n, err := parseLimit("--max-concurrent", maxConcurrent)
				if err != nil {
					return err
				}
				edits = append(edits, func(l *stent.Limits) { l.MaxConcurrent = n })
			}
			if flags.Changed("max-concurrent-per-key") {
				n, err := parseLimit("--max-concurrent-per-key", maxPerKey)
				if err != nil {
					return err
				}
				edits = append(edits, func(l *stent.Limits) { l.MaxConcurrentPerKey = n })
			}
			if flags.Changed("rate") {
				r, err := parseRate("--rate", rate)
				if err != nil {
					return err
				}
				edits = append(edits, func(l *stent.Limits) { l.Rate = r })
			}
			if flags.Changed("rate-per-key") {
				r, err := parseRate("--rate-per-key", ratePerKey)
				if err != nil {
					return err
				}
				edits = append(edits, func(l *stent.Limits) { l.RatePerKey = r })
			}

			client, done, err := c.client(ctx)
			if err != nil {
				return err
			}
			defer done()
			current, err := client.ListLimits(ctx)
			if err != nil {
				return cliError(err)
			}
			l := current[name]
			for _, edit := range edits {
				edit(&l)
			}
			l.Overridden = true
			if err := client.SetLimits(ctx, name, l); err != nil {
				return cliError(err)
			}
			row := newLimitsRow(name, l)
			return c.print(row, func() error {
				cells := row.cells()
				_, err := fmt.Fprintf(c.stdout, "Limits of %s set: max concurrent %s, per key %s, rate %s, rate per key %s.\n"+
					"The override holds on every worker until `stent limits reset %s`.\n",
					name, cells[1], cells[2], cells[3], cells[4], name)
				return err
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&maxConcurrent, "max-concurrent", "", "running attempts cluster-wide (0: no limit)")
	f.StringVar(&maxPerKey, "max-concurrent-per-key", "", "running attempts per concurrency key (0: no limit)")
	f.StringVar(&rate, "rate", "", "starts per period, function-wide, as N/PERIOD (0: no limit)")
	f.StringVar(&ratePerKey, "rate-per-key", "", "starts per period per concurrency key, as N/PERIOD (0: no limit)")
	return cmd
}

// limitsResetResult is what limits reset reports.
type limitsResetResult struct {
	Name  string `json:"name"`
	Reset bool   `json:"reset"`
}

func (c *cli) limitsResetCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "reset <function>",
		Short: "Drop a function's run-time override; workers restore the code's limits",
		Long: `Drop a function's run-time override. The next worker that registers the function
restores the limits its code declares (until then the function has none). Fails when the
function has no override.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, name := cmd.Context(), args[0]
			client, done, err := c.client(ctx)
			if err != nil {
				return err
			}
			defer done()
			if err := client.ResetLimits(ctx, name); err != nil {
				if errors.Is(err, stent.ErrNotFound) {
					return fmt.Errorf("no run-time override of the limits of %s: not found", name)
				}
				return cliError(err)
			}
			return c.print(limitsResetResult{Name: name, Reset: true}, func() error {
				_, err := fmt.Fprintf(c.stdout, "Limits of %s reset: workers registering it restore the limits of its code.\n", name)
				return err
			})
		},
	}
}

// maxLimit is the largest count the database stores (an integer column).
const maxLimit = 1<<31 - 1

// parseLimit parses a concurrency limit: a whole number, 0 for none.
func parseLimit(flag, s string) (int, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 0 || n > maxLimit {
		return 0, fmt.Errorf("invalid %s %q: want a whole number from 1 to %d, or 0 for no limit", flag, s, maxLimit)
	}
	return int(n), nil
}

// minRatePeriod is the shortest rate window accepted; the database clock has microseconds
// and claims happen milliseconds apart, so shorter windows mean nothing.
const minRatePeriod = time.Millisecond

// parseRate parses N/PERIOD (10/1s, 10/s), or 0 for no rate limit.
func parseRate(flag, s string) (stent.Rate, error) {
	if strings.TrimSpace(s) == "0" {
		return stent.Rate{}, nil
	}
	bad := func(why string) (stent.Rate, error) {
		return stent.Rate{}, fmt.Errorf("invalid %s %q: %s", flag, s, why)
	}
	count, period, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return bad("want N/PERIOD such as 10/1s, or 0 for no limit")
	}
	n, err := strconv.ParseInt(count, 10, 64)
	if err != nil || n < 1 || n > maxLimit {
		return bad(fmt.Sprintf("the count must be a whole number from 1 to %d", maxLimit))
	}
	if period != "" && (period[0] < '0' || period[0] > '9') && period[0] != '.' {
		period = "1" + period // 10/s means 10/1s
	}
	d, err := time.ParseDuration(period)
	if err != nil {
		return bad("the period must be a duration such as 1s, 500ms or 1m")
	}
	if d < minRatePeriod {
		return bad(fmt.Sprintf("the period must be at least %s", minRatePeriod))
	}
	return stent.Rate{Count: int(n), Per: d}, nil
}

// formatDuration writes d as time.Duration does, without zero trailing units: 1m, 1h30m.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

package main

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/stentdev/stent/stent"
)

// finding is the JSON form of a stent.Finding.
type finding struct {
	Check       string `json:"check"`
	Severity    string `json:"severity"`
	ExecutionID string `json:"execution_id,omitempty"`
	TaskID      int64  `json:"task_id,omitempty"`
	Detail      string `json:"detail"`
	Fixable     bool   `json:"fixable"`
	Action      string `json:"action,omitempty"`
}

func findingsJSON(fs []stent.Finding) []finding {
	out := make([]finding, len(fs))
	for i, f := range fs {
		out[i] = finding{Check: f.Check, Severity: f.Severity, TaskID: f.TaskID, Detail: f.Detail,
			Fixable: f.Fixable, Action: f.Action}
		if f.ExecutionID != nil {
			out[i].ExecutionID = f.ExecutionID.String()
		}
	}
	return out
}

// doctorCommand checks Stent's invariants (stent.doctor) and, with --fix, repairs what is
// safe after showing what it would do.
func (c *cli) doctorCommand() *cobra.Command {
	var (
		opts stent.DoctorOptions
		fix  bool
		yes  bool
	)
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check Stent's invariants in the database; --fix repairs what is safe",
		Long: `Check Stent's invariants and list every violation: tasks whose lease expired long ago,
leases of dead workers, unfinished tasks of finished executions, workflows waiting for nothing,
orphaned tasks, attempts beyond their maximum, stale dead letters, checkpoints out of sequence,
table bloat and an old xmin horizon. Exits 1 when anything is found.

With --fix, the findings are listed first (a dry run), then, after confirmation (or --yes),
the repairable ones are repaired in one transaction and what was done is shown.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if err := opts.Validate(); err != nil {
				return cliError(err) // before connecting: bad input touches nothing
			}
			client, done, err := c.client(ctx)
			if err != nil {
				return err
			}
			defer done()
			fs, err := client.DoctorWith(ctx, opts)
			if err != nil {
				return cliError(err)
			}
			if !fix || len(fs) == 0 {
				if err := c.print(findingsJSON(fs), func() error { return c.printFindings(fs, false) }); err != nil {
					return err
				}
				return findingsError(fs)
			}
			fixable := 0
			for _, f := range fs {
				if f.Fixable {
					fixable++
				}
			}
			if c.output != outputJSON {
				if err := c.printFindings(fs, false); err != nil {
					return err
				}
			}
			if fixable == 0 {
				if c.output == outputJSON {
					if err := c.print(findingsJSON(fs), nil); err != nil {
						return err
					}
				} else {
					fmt.Fprintln(c.stdout, "Nothing to repair automatically.")
				}
				return findingsError(fs)
			}
			if !yes {
				if err := c.confirm(ctx, fmt.Sprintf("Repair %d of %d findings?", fixable, len(fs))); err != nil {
					return err
				}
			}
			opts.Fix = true
			fixed, err := client.DoctorWith(ctx, opts)
			if err != nil {
				return cliError(err)
			}
			if err := c.print(findingsJSON(fixed), func() error { return c.printFindings(fixed, true) }); err != nil {
				return err
			}
			var left []stent.Finding
			for _, f := range fixed {
				if f.Action == "" {
					left = append(left, f)
				}
			}
			return findingsError(left)
		},
	}
	flags := cmd.Flags()
	flags.BoolVar(&fix, "fix", false, "repair what is safe to repair, after a dry-run listing and confirmation")
	flags.BoolVarP(&yes, "yes", "y", false, "with --fix: do not ask for confirmation")
	flags.DurationVar(&opts.Grace, "grace", 0, "how long past due something must be to be reported (default 1m)")
	flags.Float64Var(&opts.BloatRatio, "bloat-ratio", 0, "dead-tuple ratio above which a Stent table is reported (default 0.2)")
	flags.Int64Var(&opts.BloatMinDead, "bloat-min-dead", 0, "dead tuples a table needs before it is reported (default 10000)")
	flags.Int64Var(&opts.XminAge, "xmin-age", 0, "transaction age of a snapshot, prepared transaction or slot to report (default 100000000)")
	return cmd
}

// printFindings writes the findings as a table (with the action taken after a fix).
func (c *cli) printFindings(fs []stent.Finding, fixed bool) error {
	if len(fs) == 0 {
		_, err := fmt.Fprintln(c.stdout, "No problems found.")
		return err
	}
	header := []string{"SEVERITY", "CHECK", "EXECUTION", "TASK", "FIXABLE", "DETAIL"}
	if fixed {
		header = append(header, "ACTION")
	}
	t := newTable(c.stdout, header...)
	for _, f := range fs {
		exec, task := "-", "-"
		if f.ExecutionID != nil {
			exec = f.ExecutionID.String()
		}
		if f.TaskID != 0 {
			task = strconv.FormatInt(f.TaskID, 10)
		}
		row := []string{f.Severity, f.Check, exec, task, yesNo(f.Fixable), f.Detail}
		if fixed {
			action := f.Action
			if action == "" {
				action = "-"
			}
			row = append(row, action)
		}
		t.row(row...)
	}
	return t.flush()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// findingsError is the command's failure when findings remain (exit code 1), nil otherwise.
func findingsError(fs []stent.Finding) error {
	if len(fs) == 0 {
		return nil
	}
	errs := 0
	for _, f := range fs {
		if f.Severity == "error" {
			errs++
		}
	}
	return errors.New(plural(len(fs), "problem") + fmt.Sprintf(" found (%d errors, %d warnings)", errs, len(fs)-errs))
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/stentdev/stent/stent"
)

// purgeResult is what purge reports.
type purgeResult struct {
	OlderThanSeconds float64 `json:"older_than_seconds"`
	DryRun           bool    `json:"dry_run"`
	Executions       int64   `json:"executions"` // deleted, or that would be with --dry-run
	Tasks            int64   `json:"tasks"`      // their tasks (estimated before deleting)
	Kept             int64   `json:"kept"`       // kept because they still have dead letters
}

// purgeBatch is how many executions purge deletes per statement.
const purgeBatch = 1000

func (c *cli) purgeCommand() *cobra.Command {
	var olderThan string
	var dryRun, yes, deadLetters bool
	cmd := &cobra.Command{
		Use:   "purge --older-than <age>",
		Short: "Delete executions that finished long ago (retention)",
		Long: `Delete executions (with their tasks, progress and signals) that finished more than
--older-than ago, in batches of 1,000 per statement. Executions that still have dead letters
are kept unless --dead-letters is given, so no failure disappears unnoticed.

--dry-run only counts what would be deleted. Otherwise the counts are shown and, on a
terminal, confirmation is asked unless --yes is given. Shows a progress bar on a terminal.`,
		Example: `  stent purge --older-than 30d --dry-run
  stent purge --older-than 30d --yes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if olderThan == "" {
				return usageErrorf("--older-than is required (for example 30d)")
			}
			age, err := parseAge("--older-than", olderThan)
			if err != nil {
				return err
			}
			client, done, err := c.client(ctx)
			if err != nil {
				return err
			}
			defer done()
			p := stent.PurgeParams{DeadLetters: deadLetters}
			est, err := client.EstimatePurge(ctx, age, p)
			if err != nil {
				return cliError(err)
			}
			res := purgeResult{OlderThanSeconds: age.Seconds(), DryRun: dryRun, Executions: est.Executions,
				Tasks: est.Tasks, Kept: est.Kept}
			if dryRun {
				return c.print(res, func() error {
					_, err := fmt.Fprintf(c.stdout, "Would delete %d execution(s) with %d task(s) finished more than %s ago%s.\n",
						res.Executions, res.Tasks, humanAge(age), keptNote(res.Kept))
					return err
				})
			}
			if est.Executions > 0 && !yes {
				question := fmt.Sprintf("Delete %d execution(s) with %d task(s) finished more than %s ago%s?",
					est.Executions, est.Tasks, humanAge(age), keptNote(est.Kept))
				if err := c.confirm(ctx, question); err != nil {
					return err
				}
			}
			bar := c.newProgress("purging", est.Executions)
			var deleted int64
			for {
				n, err := client.PurgeBatch(ctx, age, purgeBatch, p)
				deleted += n
				bar.add(n)
				if err != nil {
					bar.finish()
					return cliError(err)
				}
				if n < purgeBatch {
					break
				}
			}
			bar.finish()
			res.Executions = deleted
			return c.print(res, func() error {
				_, err := fmt.Fprintf(c.stdout, "Deleted %d execution(s) finished more than %s ago%s.\n", deleted, humanAge(age), keptNote(res.Kept))
				return err
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&olderThan, "older-than", "", "delete executions finished more than this long ago (30d, 12h)")
	f.BoolVar(&dryRun, "dry-run", false, "only count what would be deleted")
	f.BoolVar(&deadLetters, "dead-letters", false, "also delete executions that still have dead letters")
	f.BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

// humanAge writes a retention age: 30d, 12h, 90m.
func humanAge(d time.Duration) string {
	if d >= 24*time.Hour && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return formatDuration(d)
}

func keptNote(kept int64) string {
	if kept == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d kept: they have dead letters; --dead-letters deletes them too)", kept)
}

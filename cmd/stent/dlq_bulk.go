package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/stentdev/stent/stent"
)

// bulkResult is what the bulk dead-letter commands and purge report.
type bulkResult struct {
	Matched int64    `json:"matched"` // what the filter selected when the command began
	Done    int64    `json:"done"`    // replayed, discarded or deleted
	Failed  int64    `json:"failed"`  // could not be replayed (see errors)
	Errors  []string `json:"errors"`
}

// replayBatch is how many dead letters replay-all reads per page.
const replayBatch = 500

func (c *cli) dlqReplayAllCommand() *cobra.Command {
	var name string
	var yes bool
	cmd := &cobra.Command{
		Use:   "replay-all",
		Short: "Replay every dead letter (of one function with --name)",
		Long: `Replay every dead letter, or those of one function, newest first, reading them in pages of
500. A dead letter that cannot be replayed (its execution was retried or cancelled meanwhile)
is reported and left in place. Asks for confirmation unless --yes is given; shows a progress
bar on a terminal.`,
		Example: "  stent dlq replay-all --name billing.charge --yes",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			client, done, err := c.client(ctx)
			if err != nil {
				return err
			}
			defer done()
			total, err := client.CountDeadLetters(ctx, stent.DeadLetterFilter{Name: name})
			if err != nil {
				return cliError(err)
			}
			res := bulkResult{Matched: total, Errors: []string{}}
			if total > 0 && !yes {
				if err := c.confirm(ctx, fmt.Sprintf("Replay %d dead letter(s)%s?", total, ofFunction(name))); err != nil {
					return err
				}
			}
			bar := c.newProgress("replaying", total)
			// Pages come newest first, each strictly below the last id seen, so a dead letter
			// that fails to replay (and stays) is not read again.
			var before int64
			for res.Done+res.Failed < total {
				page, err := client.ListDeadLetters(ctx, stent.DeadLetterListParams{Name: name, BeforeID: before, Limit: replayBatch})
				if err != nil {
					bar.finish()
					return cliError(err)
				}
				for _, d := range page {
					if _, err := client.ReplayDeadLetter(ctx, d.ID); err != nil {
						if ctx.Err() != nil {
							bar.finish()
							return ctx.Err()
						}
						res.Failed++
						res.Errors = append(res.Errors, fmt.Sprintf("dead letter %d: %v", d.ID, cliError(err)))
					} else {
						res.Done++
					}
					bar.add(1)
					before = d.ID
				}
				if len(page) < replayBatch {
					break
				}
			}
			bar.finish()
			err = c.print(res, func() error {
				for _, e := range res.Errors {
					fmt.Fprintf(c.stderr, "stent: %s\n", e)
				}
				_, err := fmt.Fprintf(c.stdout, "Replayed %d of %d dead letter(s)%s.\n", res.Done, res.Matched, ofFunction(name))
				return err
			})
			if err == nil && res.Failed > 0 {
				return fmt.Errorf("%d dead letter(s) could not be replayed", res.Failed)
			}
			return err
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "only dead letters of this function")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

func ofFunction(name string) string {
	if name == "" {
		return ""
	}
	return " of " + name
}

// discardBatch is how many dead letters dlq purge deletes per statement.
const discardBatch = 1000

func (c *cli) dlqPurgeCommand() *cobra.Command {
	var name, olderThan string
	var yes bool
	cmd := &cobra.Command{
		Use:   "purge",
		Short: "Discard every dead letter (of one function, or older than a duration)",
		Long: `Discard dead letters in bulk, in batches of 1,000 per statement: all of them, those of one
function (--name), or those older than --older-than. Their executions stay failed. Asks for
confirmation unless --yes is given; shows a progress bar on a terminal.`,
		Example: "  stent dlq purge --older-than 30d --yes\n  stent dlq purge --name billing.charge",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			var age time.Duration
			if olderThan != "" {
				var err error
				if age, err = parseAge("--older-than", olderThan); err != nil {
					return err
				}
			}
			f := stent.DeadLetterFilter{Name: name, OlderThan: age}
			client, done, err := c.client(ctx)
			if err != nil {
				return err
			}
			defer done()
			total, err := client.CountDeadLetters(ctx, f)
			if err != nil {
				return cliError(err)
			}
			if total > 0 && !yes {
				if err := c.confirm(ctx, fmt.Sprintf("Discard %d dead letter(s)%s? Their executions stay failed.", total, ofFunction(name))); err != nil {
					return err
				}
			}
			res := bulkResult{Matched: total, Errors: []string{}}
			bar := c.newProgress("discarding", total)
			for {
				n, err := client.DiscardDeadLetters(ctx, f, discardBatch)
				res.Done += n
				bar.add(n)
				if err != nil {
					bar.finish()
					return cliError(err)
				}
				if n < discardBatch {
					break
				}
			}
			bar.finish()
			return c.print(res, func() error {
				_, err := fmt.Fprintf(c.stdout, "Discarded %d dead letter(s)%s.\n", res.Done, ofFunction(name))
				return err
			})
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "only dead letters of this function")
	cmd.Flags().StringVar(&olderThan, "older-than", "", "only dead letters older than this (30d, 12h)")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

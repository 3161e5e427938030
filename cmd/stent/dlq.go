package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/stentdev/stent/stent"
)

// dlqCommand is the dlq group: inspect, replay and discard dead letters (tasks that failed
// for good).
func (c *cli) dlqCommand() *cobra.Command {
	cmd := groupCommand(&cobra.Command{
		Use:   "dlq",
		Short: "List, show, replay or discard dead letters (tasks that failed for good)",
		Long: `List, show, replay or discard dead letters: tasks whose attempts are exhausted or that
failed permanently. Replaying runs the task again from a fresh attempt count (its execution
becomes pending again); discarding deletes the entry and leaves the execution failed.`,
	})
	cmd.AddCommand(c.dlqListCommand(), c.dlqShowCommand(), c.dlqReplayCommand(), c.dlqReplayAllCommand(),
		c.dlqDiscardCommand(), c.dlqPurgeCommand())
	return cmd
}

// deadLetterRow is one dead letter.
type deadLetterRow struct {
	ID          int64      `json:"id"`
	TaskID      int64      `json:"task_id"`
	ExecutionID uuid.UUID  `json:"execution_id"`
	Name        string     `json:"name"`
	Kind        string     `json:"kind"`
	Queue       string     `json:"queue"`
	Attempts    int        `json:"attempts"`
	Error       *errorJSON `json:"error"`
	CreatedAt   time.Time  `json:"created_at"`
}

func newDeadLetterRow(d *stent.DeadLetter) deadLetterRow {
	return deadLetterRow{ID: d.ID, TaskID: d.TaskID, ExecutionID: d.ExecutionID, Name: d.Name, Kind: d.Kind,
		Queue: d.Queue, Attempts: d.Attempts, Error: newErrorJSON(d.Error), CreatedAt: d.CreatedAt.UTC()}
}

// parseDeadLetterID parses a dead-letter id argument.
func parseDeadLetterID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id < 1 {
		return 0, usageErrorf("dead letter id must be a whole number from 1, got %q", s)
	}
	return id, nil
}

func deadLetterIDArg(cmd *cobra.Command, args []string) error {
	if err := cobra.ExactArgs(1)(cmd, args); err != nil {
		return err
	}
	_, err := parseDeadLetterID(args[0])
	return err
}

// dlqListResult is a page of dead letters and the cursor of the next one.
type dlqListResult struct {
	DeadLetters []deadLetterRow `json:"dead_letters"`
	Next        *int64          `json:"next"`
}

func (c *cli) dlqListCommand() *cobra.Command {
	var name string
	var limit int
	var after int64
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List dead letters, newest first",
		Example: "  stent dlq list\n  stent dlq list --name billing.charge -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if limit < 1 || limit > 5000 {
				return fmt.Errorf("invalid --limit %d: must be within [1, 5000]", limit)
			}
			client, done, err := c.client(ctx)
			if err != nil {
				return err
			}
			defer done()
			dls, err := client.ListDeadLetters(ctx, stent.DeadLetterListParams{Name: name, BeforeID: after, Limit: limit + 1})
			if err != nil {
				return cliError(err)
			}
			res := dlqListResult{DeadLetters: []deadLetterRow{}}
			if len(dls) > limit {
				dls = dls[:limit]
				next := dls[limit-1].ID
				res.Next = &next
			}
			for _, d := range dls {
				res.DeadLetters = append(res.DeadLetters, newDeadLetterRow(d))
			}
			return c.print(res, func() error {
				if len(res.DeadLetters) == 0 {
					_, err := fmt.Fprintln(c.stdout, "No dead letters.")
					return err
				}
				t := newTable(c.stdout, "ID", "TASK", "EXECUTION", "NAME", "ATTEMPTS", "FAILED AT", "ERROR")
				for _, d := range res.DeadLetters {
					msg := ""
					if d.Error != nil {
						msg = truncate(d.Error.Kind+": "+d.Error.Message, 40)
					}
					t.row(fmt.Sprint(d.ID), fmt.Sprint(d.TaskID), d.ExecutionID.String(), d.Name, fmt.Sprint(d.Attempts),
						formatTime(d.CreatedAt), msg)
				}
				if err := t.flush(); err != nil {
					return err
				}
				if res.Next != nil {
					_, err := fmt.Fprintf(c.stdout, "More: stent dlq list --after %d\n", *res.Next)
					return err
				}
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "only dead letters of this function")
	f.IntVarP(&limit, "limit", "n", 20, "dead letters per page (at most 5000)")
	f.Int64Var(&after, "after", 0, "continue after this dead letter id")
	return cmd
}

func (c *cli) dlqShowCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "show <id>",
		Short:   "Show a dead letter with its error and stack",
		Example: "  stent dlq show 7",
		Args:    deadLetterIDArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			id, _ := parseDeadLetterID(args[0])
			client, done, err := c.client(ctx)
			if err != nil {
				return err
			}
			defer done()
			d, err := client.GetDeadLetter(ctx, id)
			if err != nil {
				return notFound(err, fmt.Sprintf("dead letter %d", id))
			}
			row := newDeadLetterRow(d)
			return c.print(row, func() error {
				var w strings.Builder
				fmt.Fprintf(&w, "%s %d\n", c.paint(ansiBold, "Dead letter"), row.ID)
				field := func(name, value string) { fmt.Fprintf(&w, "  %-10s %s\n", name+":", value) }
				field("Execution", row.ExecutionID.String())
				field("Task", fmt.Sprintf("%d (%s %s)", row.TaskID, row.Kind, row.Name))
				field("Queue", row.Queue)
				field("Attempts", fmt.Sprint(row.Attempts))
				field("Failed at", formatTime(row.CreatedAt))
				if row.Error != nil {
					field("Error", c.paint(ansiRed, row.Error.Kind+": "+row.Error.Message))
					for _, line := range strings.Split(strings.TrimRight(row.Error.Stack, "\n"), "\n") {
						if line != "" {
							fmt.Fprintf(&w, "      %s\n", line)
						}
					}
				}
				fmt.Fprintf(&w, "Replay it with `stent dlq replay %d`, or discard it with `stent dlq discard %d`.\n", row.ID, row.ID)
				_, err := fmt.Fprint(c.stdout, w.String())
				return err
			})
		},
	}
}

// replayResult is what dlq replay reports.
type replayResult struct {
	DeadLetterID int64 `json:"dead_letter_id"`
	TaskID       int64 `json:"task_id"`
}

func (c *cli) dlqReplayCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "replay <id>",
		Short:   "Run a dead letter's task again from a fresh attempt count",
		Example: "  stent dlq replay 7",
		Args:    deadLetterIDArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			id, _ := parseDeadLetterID(args[0])
			client, done, err := c.client(ctx)
			if err != nil {
				return err
			}
			defer done()
			task, err := client.ReplayDeadLetter(ctx, id)
			if err != nil {
				return notFound(err, fmt.Sprintf("dead letter %d", id))
			}
			return c.print(replayResult{DeadLetterID: id, TaskID: task}, func() error {
				_, err := fmt.Fprintf(c.stdout, "Replayed dead letter %d: task %d is pending again.\n", id, task)
				return err
			})
		},
	}
}

// discardResult is what dlq discard reports.
type discardResult struct {
	DeadLetterID int64 `json:"dead_letter_id"`
	Discarded    bool  `json:"discarded"`
}

func (c *cli) dlqDiscardCommand() *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:     "discard <id>",
		Short:   "Delete a dead letter (its execution stays failed)",
		Example: "  stent dlq discard 7 --yes",
		Args:    deadLetterIDArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			id, _ := parseDeadLetterID(args[0])
			client, done, err := c.client(ctx)
			if err != nil {
				return err
			}
			defer done()
			d, err := client.GetDeadLetter(ctx, id)
			if err != nil {
				return notFound(err, fmt.Sprintf("dead letter %d", id))
			}
			if !yes {
				if err := c.confirm(ctx, fmt.Sprintf("Discard dead letter %d (%s, execution %s)?", id, d.Name, d.ExecutionID)); err != nil {
					return err
				}
			}
			if err := client.DiscardDeadLetter(ctx, id); err != nil {
				return notFound(err, fmt.Sprintf("dead letter %d", id))
			}
			return c.print(discardResult{DeadLetterID: id, Discarded: true}, func() error {
				_, err := fmt.Fprintf(c.stdout, "Discarded dead letter %d.\n", id)
				return err
			})
		},
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

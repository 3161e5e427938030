package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stentdev/stent/stent"
)

// Kinds of pause, as stent.pause takes them.
const (
	pauseQueue    = "queue"
	pauseFunction = "function"
)

// pauseCommand is the pause group: pause a queue or a function, or list what is paused.
func (c *cli) pauseCommand() *cobra.Command {
	cmd := groupCommand(&cobra.Command{
		Use:   "pause",
		Short: "Stop claims of a queue or function on every worker, or list what is paused",
		Long: `Stop claims of a queue or a function on every worker. Running attempts finish; pending
tasks stay pending (no attempt is spent) until ` + "`stent resume`" + `. Pausing twice is harmless.`,
	})
	cmd.AddCommand(c.pauseKindCommand(pauseQueue), c.pauseKindCommand(pauseFunction), c.pauseListCommand("list"))
	return cmd
}

// resumeCommand is the resume group: lift a pause and wake the workers at once.
func (c *cli) resumeCommand() *cobra.Command {
	cmd := groupCommand(&cobra.Command{
		Use:   "resume",
		Short: "Lift the pause of a queue or function; workers claim its tasks at once",
	})
	cmd.AddCommand(c.resumeKindCommand(pauseQueue), c.resumeKindCommand(pauseFunction))
	return cmd
}

// pauseResult is what pause and resume report.
type pauseResult struct {
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Paused bool   `json:"paused"`
}

func (c *cli) pauseKindCommand(kind string) *cobra.Command {
	return &cobra.Command{
		Use:   kind + " <name>",
		Short: "Pause a " + kind,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, name := cmd.Context(), args[0]
			client, done, err := c.client(ctx)
			if err != nil {
				return err
			}
			defer done()
			pause := client.PauseQueue
			if kind == pauseFunction {
				pause = client.PauseFunction
			}
			if err := pause(ctx, name); err != nil {
				return cliError(err)
			}
			return c.print(pauseResult{Kind: kind, Name: name, Paused: true}, func() error {
				_, err := fmt.Fprintf(c.stdout, "Paused %s %s: its pending tasks are not claimed until `stent resume %s %s`; running ones finish.\n",
					kind, name, kind, name)
				return err
			})
		},
	}
}

func (c *cli) resumeKindCommand(kind string) *cobra.Command {
	return &cobra.Command{
		Use:   kind + " <name>",
		Short: "Resume a paused " + kind,
		Long:  "Resume a paused " + kind + " and wake the workers at once. Fails when it is not paused.",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, name := cmd.Context(), args[0]
			client, done, err := c.client(ctx)
			if err != nil {
				return err
			}
			defer done()
			resume := client.ResumeQueue
			if kind == pauseFunction {
				resume = client.ResumeFunction
			}
			if err := resume(ctx, name); err != nil {
				if errors.Is(err, stent.ErrNotFound) {
					return fmt.Errorf("%s %s is not paused", kind, name)
				}
				return cliError(err)
			}
			return c.print(pauseResult{Kind: kind, Name: name, Paused: false}, func() error {
				_, err := fmt.Fprintf(c.stdout, "Resumed %s %s.\n", kind, name)
				return err
			})
		},
	}
}

// pausesCommand is `stent pauses`, the same as `stent pause list`.
func (c *cli) pausesCommand() *cobra.Command { return c.pauseListCommand("pauses") }

// pauseRow is one paused queue or function.
type pauseRow struct {
	Kind     string    `json:"kind"`
	Name     string    `json:"name"`
	PausedAt time.Time `json:"paused_at"`
}

func (c *cli) pauseListCommand(use string) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: "List the paused queues and functions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rows, err := c.listPauses(cmd.Context())
			if err != nil {
				return err
			}
			return c.print(rows, func() error {
				if len(rows) == 0 {
					_, err := fmt.Fprintln(c.stdout, "Nothing is paused.")
					return err
				}
				t := newTable(c.stdout, "KIND", "NAME", "PAUSED AT")
				for _, r := range rows {
					t.row(r.Kind, r.Name, formatTime(r.PausedAt))
				}
				return t.flush()
			})
		},
	}
}

func (c *cli) listPauses(ctx context.Context) ([]pauseRow, error) {
	client, done, err := c.client(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	pauses, err := client.ListPauses(ctx)
	if err != nil {
		return nil, cliError(err)
	}
	rows := make([]pauseRow, len(pauses))
	for i, p := range pauses {
		rows[i] = pauseRow{Kind: p.Kind, Name: p.Name, PausedAt: p.PausedAt.UTC()}
	}
	return rows, nil
}

// formatTime writes a database time for people: UTC, to the second.
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// Helpers shared by the flow-control commands (limits, pause, resume, blockers).

// client connects and returns a stent.Client and a function that closes it and its pool.
func (c *cli) client(ctx context.Context) (*stent.Client, func(), error) {
	pool, err := c.connect(ctx)
	if err != nil {
		return nil, nil, err
	}
	client, err := stent.NewClient(pool, stent.Config{Registry: stent.NewRegistry()})
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	return client, func() { client.Close(); pool.Close() }, nil
}

// cliError drops the "stent: " prefix of the library's errors, which the command adds itself.
func cliError(err error) error {
	if err == nil || !strings.HasPrefix(err.Error(), "stent: ") {
		return err
	}
	return &trimmedError{err}
}

type trimmedError struct{ err error }

func (e *trimmedError) Error() string { return strings.TrimPrefix(e.err.Error(), "stent: ") }
func (e *trimmedError) Unwrap() error { return e.err }

package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/stentdev/stent/stent"
)

// signalResult is what signal reports.
type signalResult struct {
	ExecutionID uuid.UUID       `json:"execution_id"`
	Name        string          `json:"name"`
	Payload     json.RawMessage `json:"payload"`
	Sent        bool            `json:"sent"`
}

func (c *cli) signalCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "signal <execution-id> <name> [json-payload]",
		Short: "Send a signal to an execution (delivered to its WaitSignal of that name)",
		Long: `Send a signal to an execution. Signals of one name are delivered in the order sent, each to
one WaitSignal; a signal sent before the workflow waits is kept until it does. The payload is
JSON (default null). Fails for an unknown or finished execution.`,
		Example: `  stent signal 0193c5d2-6a4e-7b1c-9f00-2a1b3c4d5e6f approval '{"by": "ana", "ok": true}'
  stent signal 0193c5d2-6a4e-7b1c-9f00-2a1b3c4d5e6f wake`,
		Args: executionIDArg(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			id, _ := parseExecutionID(args[0])
			payload := json.RawMessage("null")
			if len(args) == 3 {
				if !json.Valid([]byte(args[2])) {
					return fmt.Errorf("invalid JSON payload %q (quote strings: '\"text\"')", args[2])
				}
				payload = json.RawMessage(args[2])
			}
			client, done, err := c.client(ctx)
			if err != nil {
				return err
			}
			defer done()
			if err := client.Signal(ctx, id, args[1], payload); err != nil {
				if errors.Is(err, stent.ErrWrongState) {
					return fmt.Errorf("execution %s is finished: signals go to running executions", id)
				}
				return notFound(err, "execution "+id.String())
			}
			return c.print(signalResult{ExecutionID: id, Name: args[1], Payload: payload, Sent: true}, func() error {
				_, err := fmt.Fprintf(c.stdout, "Sent signal %s to execution %s.\n", args[1], id)
				return err
			})
		},
	}
}

// stateResult is what cancel and retry report: the execution's state afterwards.
type stateResult struct {
	ExecutionID uuid.UUID `json:"execution_id"`
	State       string    `json:"state"`
}

func (c *cli) cancelCommand() *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "cancel <execution-id>",
		Short: "Cancel an execution and every unfinished task in it",
		Long: `Cancel an execution: its unfinished tasks are cancelled (running attempts see their
context cancelled) and it ends in state cancelled. Cancelling a finished execution changes
nothing. Asks for confirmation on a terminal unless --yes is given.`,
		Example: `  stent cancel 0193c5d2-6a4e-7b1c-9f00-2a1b3c4d5e6f --yes`,
		Args:    executionIDArg(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			id, _ := parseExecutionID(args[0])
			client, done, err := c.client(ctx)
			if err != nil {
				return err
			}
			defer done()
			e, err := client.Get(ctx, id)
			if err != nil {
				return notFound(err, "execution "+id.String())
			}
			if !e.State.Terminal() && !yes {
				if err := c.confirm(ctx, fmt.Sprintf("Cancel execution %s (%s, %s)?", id, e.Workflow, e.State)); err != nil {
					return err
				}
			}
			st, err := client.Cancel(ctx, id)
			if err != nil {
				return notFound(err, "execution "+id.String())
			}
			return c.print(stateResult{ExecutionID: id, State: string(st)}, func() error {
				var err error
				if e.State.Terminal() {
					_, err = fmt.Fprintf(c.stdout, "Execution %s is already %s; nothing to cancel.\n", id, c.state(string(st)))
				} else {
					_, err = fmt.Fprintf(c.stdout, "Execution %s is %s.\n", id, c.state(string(st)))
				}
				return err
			})
		},
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

func (c *cli) retryCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "retry <execution-id>",
		Short: "Run a failed, cancelled or timed-out execution again from its checkpoints",
		Long: `Run a failed, cancelled or timed-out execution again from its checkpoints: finished
activities, steps and child workflows keep their results and do not run again; failed and
cancelled tasks start over with fresh attempts and their dead letters are removed.`,
		Example: `  stent retry 0193c5d2-6a4e-7b1c-9f00-2a1b3c4d5e6f`,
		Args:    executionIDArg(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			id, _ := parseExecutionID(args[0])
			client, done, err := c.client(ctx)
			if err != nil {
				return err
			}
			defer done()
			if err := client.Retry(ctx, id); err != nil {
				if errors.Is(err, stent.ErrWrongState) {
					e, gerr := client.Get(ctx, id)
					if gerr == nil {
						return fmt.Errorf("execution %s is %s: only failed, cancelled or timed-out executions can be retried", id, e.State)
					}
				}
				return notFound(err, "execution "+id.String())
			}
			e, err := client.Get(ctx, id)
			if err != nil {
				return notFound(err, "execution "+id.String())
			}
			return c.print(stateResult{ExecutionID: id, State: string(e.State)}, func() error {
				_, err := fmt.Fprintf(c.stdout, "Execution %s is %s again; finished steps keep their results.\n", id, c.state(string(e.State)))
				return err
			})
		},
	}
}

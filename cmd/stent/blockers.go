package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stentdev/stent/stent"
)

// blockersResult is what blockers reports: the task and each reason it is not running.
type blockersResult struct {
	TaskID   int64         `json:"task_id"`
	Name     string        `json:"name"`
	State    string        `json:"state"`
	Queue    string        `json:"queue"`
	Blockers []blockerJSON `json:"blockers"`
}

// blockerJSON is one row of stent.task_blockers.
type blockerJSON struct {
	Reason  string     `json:"reason"`
	Detail  string     `json:"detail"`
	Until   *time.Time `json:"until"`   // when it ends, if known
	Holders []string   `json:"holders"` // the slots' or lease's holders
}

func (c *cli) blockersCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "blockers <task-id>",
		Short: "Explain why a task is not running",
		Long: `Explain why a task is not running, one line per reason (stent.task_blockers in SQL):

  scheduled              its run_at is in the future
  backing_off            waiting to retry after a failed attempt
  paused_queue           its queue is paused (stent resume queue)
  paused_function        its function is paused (stent resume function)
  backoff                its function or key asked everyone to retry later (RetryAfter)
  concurrency_limit      every slot of its function is taken (holders: the running tasks)
  key_concurrency_limit  every slot of its concurrency key is taken
  rate_limited           its function's rate window is full until the time shown
  key_rate_limited       its key's rate window is full until the time shown
  no_worker              no live worker serves its queue and function
  leased                 it is running (holder: the worker, until: the lease's expiry)

A pending task with no reason is claimable now.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if err := cobra.ExactArgs(1)(cmd, args); err != nil {
				return err
			}
			_, err := parseTaskID(args[0])
			return err
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			id, _ := parseTaskID(args[0])
			client, done, err := c.client(ctx)
			if err != nil {
				return err
			}
			defer done()
			task, err := client.GetTask(ctx, id)
			if err == nil {
				var blockers []stent.Blocker
				if blockers, err = client.TaskBlockers(ctx, id); err == nil {
					return c.printBlockers(newBlockersResult(task, blockers))
				}
			}
			if errors.Is(err, stent.ErrNotFound) {
				return fmt.Errorf("task %d not found", id)
			}
			return cliError(err)
		},
	}
}

// parseTaskID parses a task id argument.
func parseTaskID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id < 1 {
		return 0, usageErrorf("task id must be a whole number from 1, got %q", s)
	}
	return id, nil
}

func newBlockersResult(task *stent.Task, blockers []stent.Blocker) blockersResult {
	res := blockersResult{TaskID: task.ID, Name: task.Name, State: task.State, Queue: task.Queue,
		Blockers: make([]blockerJSON, len(blockers))}
	for i, b := range blockers {
		res.Blockers[i] = blockerJSON{Reason: b.Reason, Detail: b.Detail, Until: b.Until, Holders: b.Holders}
		if b.Until != nil {
			u := b.Until.UTC()
			res.Blockers[i].Until = &u
		}
		if b.Holders == nil {
			res.Blockers[i].Holders = []string{}
		}
	}
	return res
}

func (c *cli) printBlockers(res blockersResult) error {
	return c.print(res, func() error {
		head := fmt.Sprintf("Task %d (%s, queue %s)", res.TaskID, res.Name, res.Queue)
		switch {
		case res.State == "pending" && len(res.Blockers) == 0:
			_, err := fmt.Fprintf(c.stdout, "%s is pending and nothing holds it back: the next claim takes it.\n", head)
			return err
		case res.State == "pending":
			fmt.Fprintf(c.stdout, "%s is pending, held back by:\n", head)
		case len(res.Blockers) > 0:
			fmt.Fprintf(c.stdout, "%s is %s:\n", head, res.State)
		case res.State == "waiting":
			_, err := fmt.Fprintf(c.stdout, "%s is waiting for what it awaits (a child, a sleep or a signal); limits apply once it is pending again.\n", head)
			return err
		default:
			_, err := fmt.Fprintf(c.stdout, "%s is %s: finished, so nothing holds it back.\n", head, res.State)
			return err
		}
		w := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
		for _, b := range res.Blockers {
			line := b.Detail
			if b.Until != nil {
				line += "; until " + formatTime(*b.Until)
			}
			fmt.Fprintf(w, "  %s\t%s\n", b.Reason, line)
			if len(b.Holders) > 0 {
				fmt.Fprintf(w, "  \tholders: %s\n", strings.Join(b.Holders, ", "))
			}
		}
		return w.Flush()
	})
}

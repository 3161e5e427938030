package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/stentdev/stent/stent"
)

// tasksCommand is the tasks group: list tasks across executions, or show one.
func (c *cli) tasksCommand() *cobra.Command {
	cmd := groupCommand(&cobra.Command{
		Use:   "tasks",
		Short: "List tasks across executions, or show one task",
	})
	cmd.AddCommand(c.tasksListCommand(), c.tasksShowCommand())
	return cmd
}

// tasksListResult is a page of tasks and the cursor of the next one.
type tasksListResult struct {
	Tasks []taskRow `json:"tasks"`
	Next  *int64    `json:"next"` // pass to --after; null on the last page
}

func (c *cli) tasksListCommand() *cobra.Command {
	var state, queue, name, kind, execution, worker string
	var limit int
	var after int64
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List tasks, newest first, with filters and paging",
		Example: `  stent tasks list --state running
  stent tasks list --name billing.charge --state failed -o json
  stent tasks list --execution 0193c5d2-6a4e-7b1c-9f00-2a1b3c4d5e6f`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			p := stent.TaskListParams{State: state, Queue: queue, Name: name, Kind: kind, Worker: worker,
				BeforeID: after, Limit: limit + 1}
			if execution != "" {
				id, err := uuid.Parse(execution)
				if err != nil {
					return usageErrorf("--execution must be a UUID, got %q", execution)
				}
				p.ExecutionID = &id
			}
			if limit < 1 || limit > 5000 {
				return fmt.Errorf("invalid --limit %d: must be within [1, 5000]", limit)
			}
			client, done, err := c.client(ctx)
			if err != nil {
				return err
			}
			defer done()
			tasks, err := client.ListTasks(ctx, p)
			if err != nil {
				return cliError(err)
			}
			res := tasksListResult{Tasks: []taskRow{}}
			if len(tasks) > limit {
				tasks = tasks[:limit]
				next := tasks[limit-1].ID
				res.Next = &next
			}
			for _, t := range tasks {
				res.Tasks = append(res.Tasks, newTaskRow(t))
			}
			return c.print(res, func() error {
				if len(res.Tasks) == 0 {
					_, err := fmt.Fprintln(c.stdout, "No tasks found.")
					return err
				}
				tb := newTable(c.stdout, "ID", "EXECUTION", "KIND", "NAME", "STATE", "QUEUE", "ATTEMPT", "WORKER")
				for _, t := range res.Tasks {
					tb.row(strconv.FormatInt(t.ID, 10), t.ExecutionID.String(), t.Kind, t.Name, c.state(t.State), t.Queue,
						fmt.Sprintf("%d/%d", t.Attempt, t.MaxAttempts), orDash(t.LeaseOwner))
				}
				if err := tb.flush(); err != nil {
					return err
				}
				if res.Next != nil {
					_, err := fmt.Fprintf(c.stdout, "More: stent tasks list --after %d\n", *res.Next)
					return err
				}
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVarP(&state, "state", "s", "", "only this state: pending, running, waiting, completed, failed, cancelled")
	f.StringVarP(&queue, "queue", "q", "", "only this queue")
	f.StringVar(&name, "name", "", "only this function or step name")
	f.StringVar(&kind, "kind", "", "only this kind: workflow, activity, step, sleep, signal")
	f.StringVar(&execution, "execution", "", "only the tasks of this execution")
	f.StringVar(&worker, "worker", "", "only tasks leased by this worker")
	f.IntVarP(&limit, "limit", "n", 20, "tasks per page (at most 5000)")
	f.Int64Var(&after, "after", 0, "continue after this task id (printed at the end of the previous page)")
	return cmd
}

// taskShowResult is what tasks show reports: the task and what holds it back.
type taskShowResult struct {
	taskRow
	Blockers []blockerJSON `json:"blockers"`
}

func (c *cli) tasksShowCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "show <task-id>",
		Short:   "Show a task: its attempts, lease, timing, error and what holds it back",
		Example: `  stent tasks show 42`,
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
			if err != nil {
				return notFound(err, fmt.Sprintf("task %d", id))
			}
			blockers, err := client.TaskBlockers(ctx, id)
			if err != nil {
				return notFound(err, fmt.Sprintf("task %d", id))
			}
			res := taskShowResult{taskRow: newTaskRow(task), Blockers: newBlockersResult(task, blockers).Blockers}
			return c.print(res, func() error {
				var w strings.Builder
				t := res.taskRow
				fmt.Fprintf(&w, "%s %d (%s %s)\n", c.paint(ansiBold, "Task"), t.ID, t.Kind, t.Name)
				field := func(name, value string) { fmt.Fprintf(&w, "  %-12s %s\n", name+":", value) }
				field("Execution", t.ExecutionID.String())
				if t.ParentID != nil {
					field("Parent", fmt.Sprintf("task %d, call %d", *t.ParentID, *t.Seq))
				}
				field("State", c.state(t.State))
				field("Queue", fmt.Sprintf("%s (priority %d)", t.Queue, t.Priority))
				field("Attempt", fmt.Sprintf("%d of %d", t.Attempt, t.MaxAttempts))
				field("Created", formatTime(t.CreatedAt))
				field("Run at", formatTime(t.RunAt))
				if t.StartedAt != nil {
					field("Started", formatTime(*t.StartedAt))
				}
				if t.FinishedAt != nil {
					field("Finished", fmt.Sprintf("%s (took %s)", formatTime(*t.FinishedAt), elapsed(t.StartedAt, t.FinishedAt, t.CreatedAt)))
				}
				if t.LeaseOwner != "" {
					field("Worker", t.LeaseOwner)
					if t.LeaseExpiresAt != nil {
						field("Lease until", formatTime(*t.LeaseExpiresAt))
					}
				}
				if string(t.Output) != "null" {
					field("Output", truncate(string(t.Output), 200))
				}
				if t.Error != nil {
					field("Error", c.paint(ansiRed, t.Error.Kind+": "+t.Error.Message))
					for _, line := range strings.Split(strings.TrimRight(t.Error.Stack, "\n"), "\n") {
						if line != "" {
							fmt.Fprintf(&w, "      %s\n", line)
						}
					}
				}
				if len(res.Blockers) > 0 {
					fmt.Fprintf(&w, "\n%s\n", c.paint(ansiBold, "Held back by"))
					tb := newTable(&w, "  REASON", "DETAIL")
					for _, b := range res.Blockers {
						detail := b.Detail
						if b.Until != nil {
							detail += "; until " + formatTime(*b.Until)
						}
						if len(b.Holders) > 0 {
							detail += "; held by " + strings.Join(b.Holders, ", ")
						}
						tb.row("  "+b.Reason, detail)
					}
					_ = tb.flush()
				}
				_, err := fmt.Fprint(c.stdout, w.String())
				return err
			})
		},
	}
}

package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/stentdev/stent/stent"
)

// reasonRow is one row of stent.explain.
type reasonRow struct {
	TaskID    int64      `json:"task_id"`
	TaskName  string     `json:"task_name"`
	TaskKind  string     `json:"task_kind"`
	TaskState string     `json:"task_state"`
	Reason    string     `json:"reason"`
	Detail    string     `json:"detail"`
	Until     *time.Time `json:"until"`
	WorkerID  string     `json:"worker_id,omitempty"`
	Holders   []string   `json:"holders"`
}

// explainRows reads stent.explain for an execution.
func explainRows(ctx context.Context, client *stent.Client, id uuid.UUID) ([]reasonRow, error) {
	reasons, err := client.Explain(ctx, id)
	if err != nil {
		return nil, err
	}
	rows := make([]reasonRow, len(reasons))
	for i, r := range reasons {
		rows[i] = reasonRow{TaskID: r.TaskID, TaskName: r.TaskName, TaskKind: r.TaskKind, TaskState: r.TaskState,
			Reason: r.Reason, Detail: r.Detail, Until: utcPtr(r.Until), WorkerID: r.WorkerID, Holders: r.Holders}
		if rows[i].Holders == nil {
			rows[i].Holders = []string{}
		}
	}
	return rows, nil
}

// writeReasons writes explain rows as aligned lines: task, reason, detail (until), holders.
func writeReasons(w *strings.Builder, rows []reasonRow) {
	t := newTable(w, "  TASK", "REASON", "DETAIL")
	for _, r := range rows {
		detail := r.Detail
		if r.Until != nil {
			detail += "; until " + formatTime(*r.Until)
		}
		if len(r.Holders) > 0 {
			detail += "; held by " + strings.Join(r.Holders, ", ")
		}
		t.row(fmt.Sprintf("  #%d %s (%s)", r.TaskID, r.TaskName, r.TaskState), r.Reason, detail)
	}
	_ = t.flush()
}

func (c *cli) explainCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "explain <execution-id>",
		Short: "Explain why an execution is not running or not finished yet",
		Long: `Explain why an execution is not running or not finished yet: one row per reason and task
(stent.explain in SQL). Reasons: queued, scheduled, backing_off, paused_queue, paused_function,
backoff, concurrency_limit, key_concurrency_limit, rate_limited, key_rate_limited, no_worker,
leased, lease_expired, sleeping, waiting_signal, waiting_child, waiting_cache; a finished
execution has the single reason finished.`,
		Example: `  stent explain 0193c5d2-6a4e-7b1c-9f00-2a1b3c4d5e6f
  stent explain 0193c5d2-6a4e-7b1c-9f00-2a1b3c4d5e6f -o json | jq -r '.[].reason'`,
		Args: executionIDArg(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			id, _ := parseExecutionID(args[0])
			client, done, err := c.client(ctx)
			if err != nil {
				return err
			}
			defer done()
			rows, err := explainRows(ctx, client, id)
			if err != nil {
				return notFound(err, "execution "+id.String())
			}
			return c.print(rows, func() error {
				var w strings.Builder
				fmt.Fprintf(&w, "Execution %s:\n", id)
				writeReasons(&w, rows)
				_, err := fmt.Fprint(c.stdout, w.String())
				return err
			})
		},
	}
}

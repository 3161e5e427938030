package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// workerRow is one worker as workers reports it.
type workerRow struct {
	ID                  string    `json:"id"`
	Hostname            string    `json:"hostname"`
	PID                 int       `json:"pid"`
	State               string    `json:"state"`
	Live                bool      `json:"live"`
	Queues              []string  `json:"queues"`
	Functions           []string  `json:"functions"`
	Concurrency         int       `json:"concurrency"`
	Held                int       `json:"held"`
	StartedAt           time.Time `json:"started_at"`
	HeartbeatAt         time.Time `json:"heartbeat_at"`
	HeartbeatAgeSeconds float64   `json:"heartbeat_age_seconds"`
}

func (c *cli) workersCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "workers",
		Short: "List workers: heartbeats, queues, and the tasks each holds",
		Long: `List the registered worker processes with their last heartbeat, the queues they serve and
how many tasks each holds a lease on. A worker whose heartbeat is older than 2 minutes is shown
as stale: its tasks are rescued once their leases expire.`,
		Example: `  stent workers
  stent workers -o json | jq '.[] | select(.live | not)'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			client, done, err := c.client(ctx)
			if err != nil {
				return err
			}
			defer done()
			ws, err := client.ListWorkers(ctx)
			if err != nil {
				return cliError(err)
			}
			now, err := client.Now(ctx)
			if err != nil {
				return cliError(err)
			}
			rows := make([]workerRow, len(ws))
			for i, w := range ws {
				rows[i] = workerRow{ID: w.ID, Hostname: w.Hostname, PID: w.PID, State: w.State, Live: w.Live,
					Queues: w.Queues, Functions: w.Functions, Concurrency: w.Concurrency, Held: w.Held,
					StartedAt: w.StartedAt.UTC(), HeartbeatAt: w.HeartbeatAt.UTC(),
					HeartbeatAgeSeconds: now.Sub(w.HeartbeatAt).Seconds()}
			}
			return c.print(rows, func() error {
				if len(rows) == 0 {
					_, err := fmt.Fprintln(c.stdout, "No workers.")
					return err
				}
				t := newTable(c.stdout, "ID", "HOST", "PID", "STATE", "HEARTBEAT", "HELD", "QUEUES")
				for _, r := range rows {
					state := r.State
					if !r.Live {
						state = c.paint(ansiRed, "stale")
					}
					t.row(r.ID, r.Hostname, fmt.Sprint(r.PID), state,
						humanDuration(time.Duration(r.HeartbeatAgeSeconds*float64(time.Second)))+" ago",
						fmt.Sprintf("%d/%d", r.Held, r.Concurrency), strings.Join(r.Queues, ","))
				}
				return t.flush()
			})
		},
	}
}

package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/stentdev/stent/stent"
)

// executionRow is one execution as list reports it.
type executionRow struct {
	ID             uuid.UUID  `json:"id"`
	Workflow       string     `json:"workflow"`
	State          string     `json:"state"`
	Queue          string     `json:"queue"`
	Priority       int        `json:"priority"`
	Tags           []string   `json:"tags"`
	IdempotencyKey string     `json:"idempotency_key,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	StartedAt      *time.Time `json:"started_at"`
	FinishedAt     *time.Time `json:"finished_at"`
}

func newExecutionRow(e *stent.Execution) executionRow {
	tags := e.Tags
	if tags == nil {
		tags = []string{}
	}
	return executionRow{ID: e.ID, Workflow: e.Workflow, State: string(e.State), Queue: e.Queue, Priority: e.Priority,
		Tags: tags, IdempotencyKey: e.IdempotencyKey, CreatedAt: e.CreatedAt.UTC(), StartedAt: utcPtr(e.StartedAt),
		FinishedAt: utcPtr(e.FinishedAt)}
}

// listResult is what list reports: a page of executions and the cursor of the next one.
type listResult struct {
	Executions []executionRow `json:"executions"`
	Next       string         `json:"next"` // pass to --after; empty on the last page
}

func (c *cli) listCommand() *cobra.Command {
	var state, workflow, queue, tag, since, after string
	var limit int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List executions, newest first, with filters and paging",
		Long: `List executions, newest first. Filters combine; paging is by keyset (--after takes the
cursor the previous page printed), so pages stay stable while new executions arrive.`,
		Example: `  stent list --state failed --since 2h
  stent list --workflow shop.checkout --tag eu --limit 50
  stent list -o json --after "$(stent list -o json | jq -r .next)"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if limit < 1 || limit > 10000 {
				return fmt.Errorf("invalid --limit %d: must be within [1, 10000]", limit)
			}
			p := stent.ListParams{State: stent.ExecutionState(state), Workflow: workflow, Queue: queue, Tag: tag, Limit: limit}
			if after != "" {
				cur, err := decodeCursor(after)
				if err != nil {
					return err
				}
				p.Cursor = cur
			}
			client, done, err := c.client(ctx)
			if err != nil {
				return err
			}
			defer done()
			if since != "" {
				now, err := client.Now(ctx)
				if err != nil {
					return cliError(err)
				}
				if p.Since, err = parseSince(since, now); err != nil {
					return err
				}
			}
			page, err := client.List(ctx, p)
			if err != nil {
				return cliError(err)
			}
			res := listResult{Executions: make([]executionRow, len(page.Executions))}
			for i, e := range page.Executions {
				res.Executions[i] = newExecutionRow(e)
			}
			if page.Next != nil {
				res.Next = encodeCursor(page.Next)
			}
			// Running executions show how long they have run, by the database's clock.
			var now time.Time
			for _, e := range res.Executions {
				if e.StartedAt != nil && e.FinishedAt == nil && c.output != outputJSON {
					if now, err = client.Now(ctx); err != nil {
						return cliError(err)
					}
					break
				}
			}
			return c.print(res, func() error {
				if len(res.Executions) == 0 {
					_, err := fmt.Fprintln(c.stdout, "No executions found.")
					return err
				}
				t := newTable(c.stdout, "ID", "WORKFLOW", "STATE", "QUEUE", "CREATED", "DURATION")
				for _, e := range res.Executions {
					t.row(e.ID.String(), e.Workflow, c.state(e.State), e.Queue, formatTime(e.CreatedAt),
						elapsed(e.StartedAt, e.FinishedAt, now))
				}
				if err := t.flush(); err != nil {
					return err
				}
				if res.Next != "" {
					_, err := fmt.Fprintf(c.stdout, "More: stent list --after %s\n", res.Next)
					return err
				}
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVarP(&state, "state", "s", "", "only this state: pending, running, completed, failed, cancelled, timed_out")
	f.StringVarP(&workflow, "workflow", "w", "", "only this workflow (function) name")
	f.StringVarP(&queue, "queue", "q", "", "only this queue")
	f.StringVarP(&tag, "tag", "t", "", "only executions with this tag")
	f.StringVar(&since, "since", "", "only executions created since: a duration back from now (2h, 7d) or an RFC 3339 time")
	f.IntVarP(&limit, "limit", "n", 20, "executions per page (at most 10000)")
	f.StringVar(&after, "after", "", "continue after this cursor (printed at the end of the previous page)")
	return cmd
}

// encodeCursor writes a list cursor as an opaque token.
func encodeCursor(c *stent.ListCursor) string {
	raw := c.CreatedAt.UTC().Format(time.RFC3339Nano) + "/" + c.ID.String()
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

func decodeCursor(s string) (*stent.ListCursor, error) {
	bad := usageErrorf("invalid --after cursor %q: pass the cursor a previous page printed", s)
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, bad
	}
	ts, id, ok := strings.Cut(string(raw), "/")
	if !ok {
		return nil, bad
	}
	t, err1 := time.Parse(time.RFC3339Nano, ts)
	u, err2 := uuid.Parse(id)
	if err1 != nil || err2 != nil {
		return nil, bad
	}
	return &stent.ListCursor{CreatedAt: t, ID: u}, nil
}

// rawJSON returns b as JSON, or null when empty.
func rawJSON(b []byte) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage("null")
	}
	return json.RawMessage(b)
}

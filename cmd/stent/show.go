package main

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/stentdev/stent/stent"
)

// errorJSON is a stored attempt error.
type errorJSON struct {
	Kind      string `json:"kind"`
	Message   string `json:"message"`
	Stack     string `json:"stack,omitempty"`
	Retryable bool   `json:"retryable"`
	Attempt   int    `json:"attempt,omitempty"`
}

func newErrorJSON(e *stent.TaskError) *errorJSON {
	if e == nil {
		return nil
	}
	return &errorJSON{Kind: e.Kind, Message: e.Message, Stack: e.Stack, Retryable: e.Retryable, Attempt: e.Attempt}
}

// taskRow is one task as show, tasks list and tasks show report it.
type taskRow struct {
	ID             int64           `json:"id"`
	ExecutionID    uuid.UUID       `json:"execution_id"`
	ParentID       *int64          `json:"parent_id"`
	Seq            *int            `json:"seq"`
	Kind           string          `json:"kind"`
	Name           string          `json:"name"`
	State          string          `json:"state"`
	Queue          string          `json:"queue"`
	Priority       int             `json:"priority"`
	Attempt        int             `json:"attempt"`
	MaxAttempts    int             `json:"max_attempts"`
	RunAt          time.Time       `json:"run_at"`
	LeaseOwner     string          `json:"lease_owner,omitempty"`
	LeaseExpiresAt *time.Time      `json:"lease_expires_at"`
	CreatedAt      time.Time       `json:"created_at"`
	StartedAt      *time.Time      `json:"started_at"`
	FinishedAt     *time.Time      `json:"finished_at"`
	Output         json.RawMessage `json:"output"`
	Error          *errorJSON      `json:"error"`
}

func newTaskRow(t *stent.Task) taskRow {
	return taskRow{ID: t.ID, ExecutionID: t.ExecutionID, ParentID: t.ParentID, Seq: t.Seq, Kind: t.Kind, Name: t.Name,
		State: t.State, Queue: t.Queue, Priority: t.Priority, Attempt: t.Attempt, MaxAttempts: t.MaxAttempts,
		RunAt: t.RunAt.UTC(), LeaseOwner: t.LeaseOwner, LeaseExpiresAt: utcPtr(t.LeaseExpiresAt),
		CreatedAt: t.CreatedAt.UTC(), StartedAt: utcPtr(t.StartedAt), FinishedAt: utcPtr(t.FinishedAt),
		Output: rawJSON(t.Output), Error: newErrorJSON(t.Error)}
}

// progressRow is one progress entry.
type progressRow struct {
	TaskID    int64           `json:"task_id"`
	Message   string          `json:"message"`
	Detail    json.RawMessage `json:"detail"`
	CreatedAt time.Time       `json:"created_at"`
}

// showResult is what show reports: the execution and everything recorded about it.
type showResult struct {
	executionRow
	Input    json.RawMessage            `json:"input"`
	Output   json.RawMessage            `json:"output"`
	Error    *errorJSON                 `json:"error"`
	Tasks    []taskRow                  `json:"tasks"`
	Progress []progressRow              `json:"progress"`
	Counters map[string]float64         `json:"counters"`
	State    map[string]json.RawMessage `json:"custom_state"`
	// Explain holds why it is not running (stent.explain), for an unfinished execution whose
	// root task is not running; null otherwise.
	Explain []reasonRow `json:"explain"`
}

func newShowResult(e *stent.Execution) showResult {
	res := showResult{executionRow: newExecutionRow(e), Input: rawJSON(e.Input), Output: rawJSON(e.Output),
		Error: newErrorJSON(e.Error), Tasks: make([]taskRow, len(e.Tasks)), Progress: []progressRow{},
		Counters: e.Counters, State: e.CustomState}
	for i, t := range e.Tasks {
		res.Tasks[i] = newTaskRow(t)
	}
	for _, p := range e.Progress {
		res.Progress = append(res.Progress, progressRow{TaskID: p.TaskID, Message: p.Message, Detail: rawJSON(p.Detail),
			CreatedAt: p.CreatedAt.UTC()})
	}
	if res.Counters == nil {
		res.Counters = map[string]float64{}
	}
	if res.State == nil {
		res.State = map[string]json.RawMessage{}
	}
	return res
}

// stuck reports whether the execution is unfinished and its root task not running: the case
// where explain says why.
func (r *showResult) stuck() bool {
	if stent.ExecutionState(r.executionRow.State).Terminal() {
		return false
	}
	return len(r.Tasks) == 0 || r.Tasks[0].State != "running"
}

func (c *cli) showCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "show <execution-id>",
		Short: "Show an execution: its steps, timeline, attempts, errors, progress and result",
		Long: `Show an execution with everything recorded about it: its step tree (each durable call,
with its attempts), a timeline of when each step was created, started and finished, errors
with their stacks, progress entries, counters, custom state, its input and its result. An
unfinished execution that is not running also shows why (the rows of stent.explain).`,
		Example: `  stent show 0193c5d2-6a4e-7b1c-9f00-2a1b3c4d5e6f
  stent show 0193c5d2-6a4e-7b1c-9f00-2a1b3c4d5e6f -o json | jq .tasks`,
		Args: executionIDArg(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			id, _ := parseExecutionID(args[0])
			client, done, err := c.client(ctx)
			if err != nil {
				return err
			}
			defer done()
			res, err := c.loadShow(ctx, client, id)
			if err != nil {
				return err
			}
			return c.print(res, func() error { return c.printShow(res) })
		},
	}
}

// loadShow reads an execution for show (and the dashboard's detail view).
func (c *cli) loadShow(ctx context.Context, client *stent.Client, id uuid.UUID) (*showResult, error) {
	e, err := client.Get(ctx, id)
	if err != nil {
		return nil, notFound(err, "execution "+id.String())
	}
	res := newShowResult(e)
	if res.stuck() {
		if res.Explain, err = explainRows(ctx, client, id); err != nil {
			return nil, notFound(err, "execution "+id.String())
		}
	}
	return &res, nil
}

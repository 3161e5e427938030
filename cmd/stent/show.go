package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
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

func (c *cli) printShow(r *showResult) error {
	_, err := fmt.Fprint(c.stdout, c.renderShow(r))
	return err
}

// renderShow writes show's text for people.
func (c *cli) renderShow(r *showResult) string {
	w := &strings.Builder{}
	fmt.Fprintf(w, "%s %s (%s)\n", c.paint(ansiBold, "Execution"), r.ID, r.Workflow)
	field := func(name, value string) { fmt.Fprintf(w, "  %-10s %s\n", name+":", value) }
	field("State", c.state(r.executionRow.State))
	field("Queue", fmt.Sprintf("%s (priority %d)", r.Queue, r.Priority))
	if len(r.Tags) > 0 {
		field("Tags", strings.Join(r.Tags, ", "))
	}
	if r.IdempotencyKey != "" {
		field("Key", r.IdempotencyKey)
	}
	field("Created", formatTime(r.CreatedAt))
	if r.StartedAt != nil {
		field("Started", formatTime(*r.StartedAt))
	}
	if r.FinishedAt != nil {
		field("Finished", fmt.Sprintf("%s (took %s)", formatTime(*r.FinishedAt), elapsed(r.StartedAt, r.FinishedAt, time.Time{})))
	}
	field("Input", truncate(string(r.Input), 200))
	switch {
	case r.Error != nil:
		field("Error", c.paint(ansiRed, r.Error.Kind+": "+r.Error.Message))
	case r.FinishedAt != nil:
		field("Result", truncate(string(r.Output), 200))
	}

	if len(r.Explain) > 0 {
		fmt.Fprintf(w, "\n%s\n", c.paint(ansiBold, "Why it is not running"))
		writeReasons(w, r.Explain)
	}

	fmt.Fprintf(w, "\n%s\n", c.paint(ansiBold, "Steps"))
	c.writeTaskTree(w, r)

	fmt.Fprintf(w, "\n%s\n", c.paint(ansiBold, "Timeline"))
	writeTimeline(w, r)

	var failed []taskRow
	for _, t := range r.Tasks {
		if t.Error != nil {
			failed = append(failed, t)
		}
	}
	if len(failed) > 0 {
		fmt.Fprintf(w, "\n%s\n", c.paint(ansiBold, "Errors"))
		for _, t := range failed {
			fmt.Fprintf(w, "  #%d %s, attempt %d/%d: %s\n", t.ID, t.Name, max(t.Error.Attempt, t.Attempt), t.MaxAttempts,
				c.paint(ansiRed, t.Error.Kind+": "+t.Error.Message))
			for _, line := range strings.Split(strings.TrimRight(t.Error.Stack, "\n"), "\n") {
				if line != "" {
					fmt.Fprintf(w, "      %s\n", line)
				}
			}
		}
	}
	if len(r.Progress) > 0 {
		fmt.Fprintf(w, "\n%s\n", c.paint(ansiBold, "Progress"))
		for _, p := range r.Progress {
			line := fmt.Sprintf("  %-8s %s", offset(r.CreatedAt, p.CreatedAt), p.Message)
			if d := string(p.Detail); d != "null" {
				line += "  " + c.paint(ansiDim, truncate(d, 120))
			}
			fmt.Fprintln(w, line)
		}
	}
	if len(r.Counters) > 0 {
		fmt.Fprintf(w, "\n%s\n", c.paint(ansiBold, "Counters"))
		for _, k := range sortedKeys(r.Counters) {
			fmt.Fprintf(w, "  %s: %v\n", k, r.Counters[k])
		}
	}
	if len(r.State) > 0 {
		fmt.Fprintf(w, "\n%s\n", c.paint(ansiBold, "State"))
		for _, k := range sortedKeys(r.State) {
			fmt.Fprintf(w, "  %s: %s\n", k, truncate(string(r.State[k]), 200))
		}
	}
	return w.String()
}

// writeTaskTree draws the tasks as a tree under the root, children in call order. The root's
// duration is the execution's: a workflow task's started_at is its latest (re)start.
func (c *cli) writeTaskTree(w *strings.Builder, r *showResult) {
	tasks := r.Tasks
	children := map[int64][]taskRow{}
	var roots []taskRow
	for _, t := range tasks {
		if t.ParentID == nil {
			roots = append(roots, t)
		} else {
			children[*t.ParentID] = append(children[*t.ParentID], t)
		}
	}
	var walk func(t taskRow, prefix, branch string)
	walk = func(t taskRow, prefix, branch string) {
		label := fmt.Sprintf("#%d %s %s", t.ID, t.Kind, t.Name)
		if t.Seq != nil {
			label = fmt.Sprintf("[%d] %s", *t.Seq, label)
		}
		info := []string{c.state(t.State)}
		if t.Kind == "workflow" || t.Kind == "activity" {
			info = append(info, fmt.Sprintf("attempt %d/%d", t.Attempt, t.MaxAttempts))
		}
		started := t.StartedAt
		if t.ParentID == nil && r.StartedAt != nil {
			started = r.StartedAt
		}
		if d := elapsed(started, t.FinishedAt, time.Time{}); d != "-" {
			info = append(info, d)
		}
		if t.State == "running" && t.LeaseOwner != "" {
			info = append(info, "on "+t.LeaseOwner)
		}
		fmt.Fprintf(w, "  %s%s%s  %s\n", prefix, branch, label, strings.Join(info, "  "))
		kids := children[t.ID]
		slices.SortFunc(kids, func(a, b taskRow) int { return *a.Seq - *b.Seq })
		next := prefix
		switch branch {
		case "├─ ":
			next += "│  "
		case "└─ ":
			next += "   "
		}
		for i, k := range kids {
			b := "├─ "
			if i == len(kids)-1 {
				b = "└─ "
			}
			walk(k, next, b)
		}
	}
	for _, root := range roots {
		walk(root, "", "")
	}
}

// timelineEvent is one moment in an execution's life.
type timelineEvent struct {
	at   time.Time
	what string
}

// writeTimeline lists when each task was created, started and finished, as offsets from the
// execution's creation. At equal times a parent's finish comes after its children's events.
func writeTimeline(w *strings.Builder, r *showResult) {
	parents := map[int64]bool{}
	for _, t := range r.Tasks {
		if t.ParentID != nil {
			parents[*t.ParentID] = true
		}
	}
	var events, parentEnds []timelineEvent
	for _, t := range r.Tasks {
		name := fmt.Sprintf("#%d %s", t.ID, t.Name)
		events = append(events, timelineEvent{t.CreatedAt, "created   " + name})
		if t.StartedAt != nil {
			events = append(events, timelineEvent{*t.StartedAt, "started   " + name})
		}
		switch {
		case t.FinishedAt != nil && parents[t.ID]:
			parentEnds = append([]timelineEvent{{*t.FinishedAt, fmt.Sprintf("%-9s %s", t.State, name)}}, parentEnds...)
		case t.FinishedAt != nil:
			events = append(events, timelineEvent{*t.FinishedAt, fmt.Sprintf("%-9s %s", t.State, name)})
		case t.State == "pending" && t.RunAt.After(t.CreatedAt):
			events = append(events, timelineEvent{t.RunAt, "due       " + name})
		}
	}
	events = append(events, parentEnds...)
	slices.SortStableFunc(events, func(a, b timelineEvent) int { return a.at.Compare(b.at) })
	for _, e := range events {
		fmt.Fprintf(w, "  %-8s %s\n", offset(r.CreatedAt, e.at), e.what)
	}
}

// offset writes t as an offset from base: +0s, +1.2s, +3m20s.
func offset(base, t time.Time) string {
	d := t.Sub(base)
	if d < 0 {
		return "-" + humanDuration(-d)
	}
	return "+" + humanDuration(d)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

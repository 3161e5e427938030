package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

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

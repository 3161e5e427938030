package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/muesli/termenv"

	"github.com/stentdev/stent/stent"
)

// watchView renders the dashboard into exactly width × height cells. Styles apply only when
// colour is on; otherwise the frame is plain text (what tests compare).
type watchView struct {
	plain    bool
	styles   map[string]lipgloss.Style
	showText func(*showResult) string // the detail view's text (show's, uncoloured)
	source   string                   // how refreshes come: "notify + 2s poll"
}

func newWatchView(out io.Writer, color bool, showText func(*showResult) string, source string) *watchView {
	v := &watchView{plain: !color, showText: showText, source: source}
	r := lipgloss.NewRenderer(out)
	if color {
		r.SetColorProfile(termenv.ANSI)
	}
	c := func(code string) lipgloss.Style { return r.NewStyle().Foreground(lipgloss.Color(code)) }
	v.styles = map[string]lipgloss.Style{
		"title":    r.NewStyle().Bold(true).Foreground(lipgloss.Color("6")),
		"header":   r.NewStyle().Bold(true),
		"selected": r.NewStyle().Reverse(true),
		"dim":      r.NewStyle().Faint(true),
		"error":    c("1"),
		"pending":  c("3"), "running": c("4"), "waiting": c("6"), "completed": c("2"),
		"failed": c("1"), "timed_out": c("1"), "cancelled": r.NewStyle().Faint(true), "✗": c("1"), "✓": c("2"),
	}
	return v
}

// style renders s in the named style (plain: unchanged).
func (v *watchView) style(name, s string) string {
	st, ok := v.styles[name]
	if v.plain || !ok {
		return s
	}
	return st.Render(s)
}

// line is one row of the frame: its plain text, the style of the whole row, and the style of
// a state word inside it.
type line struct {
	text  string
	style string
}

// fit cuts or pads s (which may hold colour escapes) to exactly w cells.
func fit(s string, w int) string {
	if ansi.StringWidth(s) > w {
		s = ansi.Truncate(s, w, "")
	}
	return s + strings.Repeat(" ", max(0, w-ansi.StringWidth(s)))
}

// stateCell pads a state to width and colours it, except on the selected row (whose reverse
// video an inner colour would end).
func (v *watchView) stateCell(state string, width int, selected bool) string {
	cell := fmt.Sprintf("%-*s", width, state)
	if selected {
		return cell
	}
	return v.style(state, cell)
}

func (v *watchView) render(m *watchModel, w, h int) string {
	var lines []line
	if m.detailID != nil {
		lines = v.detail(m, w, h)
	} else {
		lines = v.overview(m, w, h)
	}
	for len(lines) < h {
		lines = append(lines, line{})
	}
	out := make([]string, h)
	for i, l := range lines[:h] {
		out[i] = v.style(l.style, fit(l.text, w))
	}
	return strings.Join(out, "\n")
}

// section is a titled block of the overview.
type section struct {
	title    string
	rows     []line
	selected int // index in rows of the selected row, -1 if none
	want     int
}

func (v *watchView) overview(m *watchModel, w, h int) []line {
	header := []line{{text: "STENT WATCH", style: "title"}}
	d := m.data
	if d == nil {
		if m.err != nil {
			return append(header, line{text: "error: " + m.err.Error(), style: "error"})
		}
		return append(header, line{text: "Loading…"})
	}
	s := d.Stats
	header[0].text = fmt.Sprintf("STENT WATCH %s  ● %d pending  ▶ %d running  ✓ %d done  ✗ %d failed  † %d dead",
		s.Now.UTC().Format("15:04:05"), s.Executions[stent.StatePending], s.Executions[stent.StateRunning],
		s.Executions[stent.StateCompleted], s.Executions[stent.StateFailed]+s.Executions[stent.StateTimedOut], s.DeadLetters)
	second := line{text: fmt.Sprintf("last %s: %.1f/min, error rate %.1f%% (%d ok, %d failed, %d cancelled)",
		formatDuration(s.Window), s.Throughput, s.ErrorRate*100, s.Completed, s.Failed, s.Cancelled)}
	if m.err != nil {
		second = line{text: "error: " + m.err.Error(), style: "error"}
	}
	footer := line{text: fmt.Sprintf("↑/↓ select  enter open  r refresh  q quit · %s · %s", v.source,
		humanDuration(d.LoadedIn.Round(time.Millisecond))), style: "dim"}

	sections := []*section{v.activeSection(m, w), v.runningSection(d), v.recentSection(m), v.queueSection(d), v.deadSection(d)}
	budget := h - 3 - len(sections)
	for _, sec := range sections {
		sec.want = max(1, len(sec.rows))
	}
	// Share the rows round-robin, so every section shows something and the longest get the
	// rest.
	alloc := make([]int, len(sections))
	for budget > 0 {
		gave := false
		for i, sec := range sections {
			if budget > 0 && alloc[i] < sec.want {
				alloc[i]++
				budget--
				gave = true
			}
		}
		if !gave {
			break
		}
	}
	lines := append(header, second)
	for i, sec := range sections {
		if h-3-len(lines) < 1 {
			break
		}
		lines = append(lines, line{text: sec.title, style: "header"})
		if len(sec.rows) == 0 {
			if alloc[i] > 0 {
				lines = append(lines, line{text: "  (none)", style: "dim"})
			}
			continue
		}
		// Scroll the section so that its selected row stays visible.
		start := 0
		if sec.selected >= alloc[i] {
			start = sec.selected - alloc[i] + 1
		}
		end := min(len(sec.rows), start+alloc[i])
		lines = append(lines, sec.rows[start:end]...)
	}
	for len(lines) < h-1 {
		lines = append(lines, line{})
	}
	return append(lines[:h-1], footer)
}

// marker is the selection mark of an overview row.
func marker(selected bool) (string, string) {
	if selected {
		return "> ", "selected"
	}
	return "  ", ""
}

func (v *watchView) activeSection(m *watchModel, w int) *section {
	d := m.data
	sec := &section{title: fmt.Sprintf("ACTIVE EXECUTIONS (%d)", len(d.Active)), selected: -1}
	barWidth := 10
	if w >= 100 {
		barWidth = 20
	}
	for i, a := range d.Active {
		mark, style := marker(m.cursor == i)
		if m.cursor == i {
			sec.selected = i
		}
		run := "queued"
		if a.StartedAt != nil {
			run = humanDuration(d.Stats.Now.Sub(*a.StartedAt))
		}
		done, total := a.FinishedTasks, a.Tasks
		if total > 1 {
			total-- // the root task finishes last: count the calls it made
		}
		bar := renderCells(done, total, barWidth)
		text := fmt.Sprintf("%s%-8s %-24s %s %s %7s %7s", mark, a.ID.String()[:8], truncate(a.Workflow, 24),
			v.stateCell(string(a.State), 8, m.cursor == i), bar, fmt.Sprintf("%d/%d", done, total), run)
		sec.rows = append(sec.rows, line{text: text, style: style})
	}
	return sec
}

// renderCells draws a bar of width cells, done of total full.
func renderCells(done, total, width int) string {
	full := 0
	if total > 0 {
		full = min(width, done*width/total)
	}
	return strings.Repeat("█", full) + strings.Repeat("░", width-full)
}

func (v *watchView) runningSection(d *dashboard) *section {
	live, slots := 0, 0
	for _, w := range d.Workers {
		if w.Live {
			live++
			slots += w.Concurrency
		}
	}
	sec := &section{title: fmt.Sprintf("RUNNING TASKS (%d) · %d live worker(s), %d slots", d.Stats.Tasks["running"], live, slots),
		selected: -1}
	tasks := slices.Clone(d.Running)
	slices.SortStableFunc(tasks, func(a, b *stent.Task) int { return strings.Compare(a.LeaseOwner, b.LeaseOwner) })
	for _, t := range tasks {
		run := "-"
		if t.StartedAt != nil {
			run = humanDuration(d.Stats.Now.Sub(*t.StartedAt))
		}
		sec.rows = append(sec.rows, line{text: fmt.Sprintf("  %-16s %-8s #%-7d %-26s %7s", truncate(t.LeaseOwner, 16),
			t.ExecutionID.String()[:8], t.ID, truncate(t.Name, 26), run)})
	}
	return sec
}

func (v *watchView) recentSection(m *watchModel) *section {
	d := m.data
	sec := &section{title: "RECENT COMPLETIONS", selected: -1}
	for i, e := range d.Recent {
		idx := len(d.Active) + i
		mark, style := marker(m.cursor == idx)
		if m.cursor == idx {
			sec.selected = i
		}
		icon := v.stateCell("✗", 1, m.cursor == idx)
		if e.State == stent.StateCompleted {
			icon = v.stateCell("✓", 1, m.cursor == idx)
		}
		finished := "-"
		if e.FinishedAt != nil {
			finished = e.FinishedAt.UTC().Format("15:04:05")
		}
		sec.rows = append(sec.rows, line{text: fmt.Sprintf("%s%s %-8s %-24s %s %7s  %s", mark, icon, e.ID.String()[:8],
			truncate(e.Workflow, 24), v.stateCell(string(e.State), 9, m.cursor == idx), elapsed(e.StartedAt, e.FinishedAt, time.Time{}),
			finished), style: style})
	}
	return sec
}

func (v *watchView) queueSection(d *dashboard) *section {
	sec := &section{title: "QUEUES", selected: -1}
	var most int64 = 1
	for _, q := range d.Stats.Queues {
		most = max(most, q.Pending)
	}
	for _, q := range d.Stats.Queues {
		sec.rows = append(sec.rows, line{text: fmt.Sprintf("  %-16s %6d pending %6d due %5d running  %s", truncate(q.Queue, 16),
			q.Pending, q.Due, q.Running, strings.Repeat("█", int((q.Pending*12+most-1)/most)))})
	}
	return sec
}

func (v *watchView) deadSection(d *dashboard) *section {
	sec := &section{title: fmt.Sprintf("DEAD LETTERS (%d)", d.Stats.DeadLetters), selected: -1}
	for _, dl := range d.DeadLetters {
		msg := ""
		if dl.Error != nil {
			msg = dl.Error.Kind + ": " + dl.Error.Message
		}
		sec.rows = append(sec.rows, line{text: fmt.Sprintf("  #%-5d %-24s %s  %s", dl.ID, truncate(dl.Name, 24),
			dl.CreatedAt.UTC().Format("15:04:05"), strings.ReplaceAll(msg, "\n", " "))})
	}
	return sec
}

// detail renders the open execution as show does, scrolled.
func (v *watchView) detail(m *watchModel, w, h int) []line {
	lines := []line{{text: fmt.Sprintf("STENT WATCH › execution %s", *m.detailID), style: "title"}}
	footer := line{text: "esc back  ↑/↓ scroll  r refresh  q quit", style: "dim"}
	var body []string
	switch {
	case m.detailErr != nil:
		body = []string{"error: " + m.detailErr.Error()}
	case m.detail == nil:
		body = []string{"Loading…"}
	default:
		body = strings.Split(strings.TrimRight(v.showText(m.detail), "\n"), "\n")
	}
	room := max(0, h-2)
	m.detailScroll = max(0, min(m.detailScroll, len(body)-room))
	for _, b := range body[m.detailScroll:min(len(body), m.detailScroll+room)] {
		lines = append(lines, line{text: b})
	}
	for len(lines) < h-1 {
		lines = append(lines, line{})
	}
	return append(lines[:max(0, h-1)], footer)
}

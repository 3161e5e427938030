package main

import (
	"context"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/google/uuid"
)

// watchModel is the bubbletea model of `stent watch`. It knows nothing of the database: it
// gets its data through load and loadDetail, so tests drive it with real loaders or any
// other, and rendering (watch_view.go) is a pure function of its fields.
type watchModel struct {
	ctx        context.Context
	load       func(context.Context) (*dashboard, error)
	loadDetail func(context.Context, uuid.UUID) (*showResult, error)
	changes    <-chan struct{} // notifications (nil: poll only)
	interval   time.Duration   // polling fallback
	minGap     time.Duration   // least time between the end of a load and a reload for notifications
	view       *watchView

	width, height int
	data          *dashboard
	err           error
	loading       bool // a load is in flight
	dirty         bool // something changed while it was: load again when it ends

	cursor       int        // selected row of the overview (active then recent executions)
	detailID     *uuid.UUID // the execution open in the detail view; nil on the overview
	detail       *showResult
	detailErr    error
	detailScroll int

	interrupted bool // quit with Ctrl-C
}

// Messages of the model.
type (
	dataMsg struct {
		d   *dashboard
		err error
	}
	detailMsg struct {
		id  uuid.UUID
		r   *showResult
		err error
	}
	tickMsg    struct{}
	changeMsg  struct{}
	refreshMsg struct{}
)

func (m *watchModel) Init() tea.Cmd {
	return tea.Batch(m.startLoad(), m.tick(), m.waitChange())
}

// startLoad loads a snapshot unless one is in flight (then it marks the model dirty).
func (m *watchModel) startLoad() tea.Cmd {
	if m.loading {
		m.dirty = true
		return nil
	}
	m.loading = true
	cmds := []tea.Cmd{func() tea.Msg {
		d, err := m.load(m.ctx)
		return dataMsg{d, err}
	}}
	if m.detailID != nil {
		cmds = append(cmds, m.startDetail(*m.detailID))
	}
	return tea.Batch(cmds...)
}

func (m *watchModel) startDetail(id uuid.UUID) tea.Cmd {
	return func() tea.Msg {
		r, err := m.loadDetail(m.ctx, id)
		return detailMsg{id, r, err}
	}
}

func (m *watchModel) tick() tea.Cmd {
	if m.interval <= 0 {
		return nil
	}
	// Not tea.Tick: its timer cannot be abandoned, and a quit must not leave it behind.
	return func() tea.Msg {
		timer := time.NewTimer(m.interval)
		defer timer.Stop()
		select {
		case <-timer.C:
			return tickMsg{}
		case <-m.ctx.Done():
			return nil
		}
	}
}

// after delivers msg once d has passed (at once for 0), unless the command ends first.
func (m *watchModel) after(d time.Duration, msg tea.Msg) tea.Cmd {
	return func() tea.Msg {
		if d <= 0 {
			return msg
		}
		timer := time.NewTimer(d)
		defer timer.Stop()
		select {
		case <-timer.C:
			return msg
		case <-m.ctx.Done():
			return nil
		}
	}
}

// waitChange waits for the next notification.
func (m *watchModel) waitChange() tea.Cmd {
	if m.changes == nil {
		return nil
	}
	return func() tea.Msg {
		select {
		case _, ok := <-m.changes:
			if !ok {
				return nil
			}
			return changeMsg{}
		case <-m.ctx.Done():
			return nil
		}
	}
}

func (m *watchModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
	case tea.KeyMsg:
		return m, m.key(msg)
	case dataMsg:
		m.loading = false
		m.err = msg.err
		if msg.err == nil {
			m.data = msg.d
			m.cursor = min(m.cursor, max(0, len(m.selectable())-1))
		}
		if m.dirty {
			// Something changed during the load: load again, but not back to back, so a busy
			// system's stream of notifications costs at most one snapshot per minGap.
			m.dirty = false
			m.loading = true
			return m, m.after(m.minGap, refreshMsg{})
		}
	case refreshMsg:
		m.loading = false
		return m, m.startLoad()
	case detailMsg:
		if m.detailID != nil && *m.detailID == msg.id {
			m.detail, m.detailErr = msg.r, msg.err
		}
	case tickMsg:
		return m, tea.Batch(m.startLoad(), m.tick())
	case changeMsg:
		// Notifications come in bursts: load at most once per burst (a load in flight marks the
		// model dirty instead), and wait for the next one.
		return m, tea.Batch(m.startLoad(), m.waitChange())
	}
	return m, nil
}

// key handles a key press.
func (m *watchModel) key(k tea.KeyMsg) tea.Cmd {
	switch k.String() {
	case "ctrl+c":
		m.interrupted = true
		return tea.Quit
	case "q":
		return tea.Quit
	}
	if m.detailID != nil {
		switch k.String() {
		case "esc", "backspace", "left", "h":
			m.detailID, m.detail, m.detailErr, m.detailScroll = nil, nil, nil, 0
		case "up", "k":
			m.detailScroll = max(0, m.detailScroll-1)
		case "down", "j":
			m.detailScroll++
		case "pgup":
			m.detailScroll = max(0, m.detailScroll-10)
		case "pgdown", " ":
			m.detailScroll += 10
		case "r":
			return m.startDetail(*m.detailID)
		}
		return nil
	}
	rows := m.selectable()
	switch k.String() {
	case "up", "k":
		m.cursor = max(0, m.cursor-1)
	case "down", "j":
		m.cursor = min(max(0, len(rows)-1), m.cursor+1)
	case "home", "g":
		m.cursor = 0
	case "end", "G":
		m.cursor = max(0, len(rows)-1)
	case "enter", "right", "l":
		if m.cursor < len(rows) {
			id := rows[m.cursor]
			m.detailID, m.detail, m.detailErr, m.detailScroll = &id, nil, nil, 0
			return m.startDetail(id)
		}
	case "r":
		return m.startLoad()
	}
	return nil
}

// selectable is the ids of the overview's selectable rows, in display order.
func (m *watchModel) selectable() []uuid.UUID {
	if m.data == nil {
		return nil
	}
	ids := make([]uuid.UUID, 0, len(m.data.Active)+len(m.data.Recent))
	for _, a := range m.data.Active {
		ids = append(ids, a.ID)
	}
	for _, e := range m.data.Recent {
		ids = append(ids, e.ID)
	}
	return ids
}

func (m *watchModel) View() string {
	w, h := m.width, m.height
	if w <= 0 || h <= 0 {
		w, h = 80, 24
	}
	return m.view.render(m, w, h)
}

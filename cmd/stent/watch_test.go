package main

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
	"github.com/creack/pty"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stent"
)

// screen is what a command wrote to its pseudo-terminal.
type screen struct {
	t    *testing.T
	out  syncBuffer
	keys *os.File
}

// waitFor waits until the output after offset from contains s, and returns the new offset.
func (s *screen) waitFor(from int, want string) int {
	s.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for time.Now().Before(deadline) {
		all := s.out.String()
		if i := strings.Index(all[min(from, len(all)):], want); i >= 0 {
			return from + i + len(want)
		}
		time.Sleep(pollInterval)
	}
	s.t.Fatalf("the terminal never showed %q; it shows:\n%s", want, s.out.String()[min(from, len(s.out.String())):])
	return 0
}

// press types keys; it returns the offset of the output before them.
func (s *screen) press(keys string) int {
	s.t.Helper()
	n := len(s.out.String())
	_, err := s.keys.WriteString(keys)
	require.NoError(s.t, err)
	return n
}

// startWatch runs `stent watch` in an 80×24 pseudo-terminal.
func startWatch(t *testing.T, b *opsBundle, ctx context.Context, args ...string) (*screen, <-chan result) {
	t.Helper()
	ptmx, tty, err := pty.Open()
	require.NoError(t, err)
	require.NoError(t, pty.Setsize(ptmx, &pty.Winsize{Rows: 24, Cols: 80}))
	s := &screen{t: t, keys: ptmx}
	copied := make(chan struct{})
	go func() {
		_, _ = io.Copy(&s.out, ptmx)
		close(copied)
	}()
	done := make(chan result, 1)
	go func() {
		var stderr strings.Builder
		c := &cli{stdin: tty, stdout: tty, stderr: &stderr, getenv: func(string) string { return "" }}
		code := c.run(ctx, append([]string{"--database-url", fakeNowURL(b.dbURL, b.clock.Now()), "watch"}, args...))
		done <- result{code: code, stderr: stderr.String()}
	}()
	t.Cleanup(func() {
		_ = tty.Close()
		_ = ptmx.Close()
		<-copied
	})
	return s, done
}

// TestWatchInTerminal drives the dashboard in a pseudo-terminal: the first frame, a refresh
// on NOTIFY (polling is an hour apart), opening executions, going back, and quitting.
func TestWatchInTerminal(t *testing.T) {
	t.Parallel()
	b := setupOps(t)
	b.seedOps(t)
	s, done := startWatch(t, b, t.Context(), "--interval", "1h")

	at := s.waitFor(0, "STENT WATCH")
	at = s.waitFor(at, "ACTIVE EXECUTIONS (2)")
	s.waitFor(at, "DEAD LETTERS (2)")

	// A dispatch notifies stent_tasks: the dashboard shows the new execution at once.
	id, err := b.client.Dispatch(t.Context(), "shop.checkout", "order-5", stent.WithQueue("slow"))
	require.NoError(t, err)
	at = s.waitFor(at, "ACTIVE EXECUTIONS (3)")
	at = s.waitFor(at, id.String()[:8])

	// The newest active execution is selected: open it.
	at = s.waitFor(s.press("\r"), "execution "+id.String())
	at = s.waitFor(at, "no_worker")
	// Back, down to the next one (order-3), open it.
	at = s.waitFor(s.press("\x1b"), "ACTIVE EXECUTIONS (3)")
	time.Sleep(50 * time.Millisecond) // let the escape key stand alone before the next keys
	s.press("j")
	at = s.waitFor(s.press("\r"), "execution "+b.ids[opsPending].String())
	s.waitFor(at, "Why it is not running")
	s.press("q")
	res := <-done
	require.Equal(t, exitOK, res.code, res.stderr)
}

// TestWatchCtrlC quits the dashboard with Ctrl-C (raw mode: a key, not a signal): exit 130.
func TestWatchCtrlC(t *testing.T) {
	t.Parallel()
	b := setupOps(t)
	b.seedOps(t)
	s, done := startWatch(t, b, t.Context())
	s.waitFor(0, "ACTIVE EXECUTIONS (2)")
	s.press("\x03")
	res := <-done
	require.Equal(t, exitInterrupted, res.code, res.stderr)
	require.Equal(t, "stent: interrupted\n", res.stderr)
}

// TestWatchModel drives the model directly with a fixed snapshot: rendering fits the
// terminal exactly, navigation moves the selection and opens the right execution, and
// loads in flight coalesce.
func TestWatchModel(t *testing.T) {
	t.Parallel()
	ids := []uuid.UUID{uuid.New(), uuid.New(), uuid.New()}
	started := t0.Add(-time.Minute)
	d := &dashboard{
		Stats: &stent.Stats{Now: t0, Window: 5 * time.Minute, Executions: map[stent.ExecutionState]int64{"running": 2, "completed": 1},
			Tasks: map[string]int64{"running": 1}, Queues: []stent.QueueDepth{{Queue: "default", Pending: 4, Due: 3, Running: 1}}},
		Active: []stent.ActiveExecution{
			{ID: ids[0], Workflow: "a.flow", State: "running", StartedAt: &started, Tasks: 5, FinishedTasks: 2},
			{ID: ids[1], Workflow: "b.flow", State: "running", StartedAt: &started, Tasks: 1},
		},
		Recent: []*stent.Execution{{ID: ids[2], Workflow: "c.flow", State: stent.StateCompleted, StartedAt: &started, FinishedAt: &t0}},
	}
	loads := 0
	var opened []uuid.UUID
	m := &watchModel{
		ctx:  t.Context(),
		load: func(context.Context) (*dashboard, error) { loads++; return d, nil },
		loadDetail: func(_ context.Context, id uuid.UUID) (*showResult, error) {
			opened = append(opened, id)
			return &showResult{executionRow: executionRow{ID: id, Workflow: "x", State: "running"}}, nil
		},
		interval: 0, // no polling: the test drives every load
		view:     newWatchView(io.Discard, false, func(r *showResult) string { return "detail of " + r.ID.String() + "\n" }, "test"),
	}
	// drive runs a command and feeds its messages back to the model, as the program does.
	var drive func(cmd tea.Cmd)
	drive = func(cmd tea.Cmd) {
		if cmd == nil {
			return
		}
		msg := cmd()
		if batch, ok := msg.(tea.BatchMsg); ok {
			for _, c := range batch {
				drive(c)
			}
			return
		}
		_, next := m.Update(msg)
		drive(next)
	}
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	drive(m.startLoad())
	require.Equal(t, 1, loads)

	frame := m.View()
	lines := strings.Split(frame, "\n")
	require.Len(t, lines, 24)
	for _, l := range lines {
		require.Equal(t, 80, len([]rune(l)), "%q", l)
	}
	require.Contains(t, frame, "> "+ids[0].String()[:8]+" a.flow")
	require.Contains(t, frame, "running  █████░░░░░     2/4    1m0s")
	require.Contains(t, frame, "✓ "+ids[2].String()[:8]+" c.flow")

	// Down twice reaches the recent completion; a third stays there.
	for range 3 {
		m.Update(tea.KeyMsg{Type: tea.KeyDown})
	}
	require.Contains(t, m.View(), "> ✓ "+ids[2].String()[:8])
	_, cmd := m.Update(tea.KeyMsg{Type: tea.KeyEnter})
	drive(cmd)
	require.Equal(t, []uuid.UUID{ids[2]}, opened)
	require.Contains(t, m.View(), "detail of "+ids[2].String())
	m.Update(tea.KeyMsg{Type: tea.KeyEsc})
	require.Contains(t, m.View(), "RECENT COMPLETIONS")
	m.Update(tea.KeyMsg{Type: tea.KeyUp})
	require.Contains(t, m.View(), "> "+ids[1].String()[:8])

	// A notification while a load is in flight loads once more when it ends, not twice.
	m.loading = true
	require.Nil(t, m.startLoad())
	require.True(t, m.dirty)
	_, cmd = m.Update(dataMsg{d: d})
	require.NotNil(t, cmd, "the dirty model loads again")
	require.False(t, m.dirty)
	require.True(t, m.loading, "no other load starts before the reload")
	before := loads
	drive(cmd)
	require.Equal(t, before+1, loads)
	require.False(t, m.loading)

	// In colour, states are coloured and every line still fills the width exactly.
	m.view = newWatchView(io.Discard, true, m.view.showText, "test")
	colored := m.View()
	require.Contains(t, colored, "\x1b[34mrunning ")
	for _, l := range strings.Split(colored, "\n") {
		require.Equal(t, 80, ansi.StringWidth(l), "%q", l)
	}

	// Tiny terminals still get exactly their size.
	m.Update(tea.WindowSizeMsg{Width: 30, Height: 8})
	lines = strings.Split(m.View(), "\n")
	require.Len(t, lines, 8)
	_, cmd = m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{'q'}})
	require.IsType(t, tea.QuitMsg{}, cmd())
	require.False(t, m.interrupted)
}

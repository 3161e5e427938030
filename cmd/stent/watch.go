package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/stentdev/stent/stent"
)

// errInterrupted ends a command the user interrupted from inside it (Ctrl-C in the
// dashboard, where the terminal is in raw mode and no SIGINT is sent); it exits with 130.
var errInterrupted = errors.New("interrupted")

// watchMinGap is the least time between two snapshots of the dashboard when notifications
// keep coming: each snapshot runs aggregate queries over whole tables.
const watchMinGap = 500 * time.Millisecond

func (c *cli) watchCommand() *cobra.Command {
	var interval, window time.Duration
	var once bool
	var width, height int
	cmd := &cobra.Command{
		Use:   "watch",
		Short: "Live dashboard: active executions, running tasks, queues, dead letters, throughput",
		Long: `A live full-screen dashboard: active executions with progress bars, running tasks by worker,
recent completions, queue depths, dead letters, and the throughput and error rate over
--window. It refreshes when the database notifies a change (LISTEN on Stent's channels) and
polls every --interval in case a notification is lost. Works in an 80×24 terminal.

Keys: ↑/↓ (or k/j) select an execution, enter opens it (the same as stent show), esc goes
back, r refreshes, q quits (Ctrl-C quits with exit code 130).

--once prints a single frame of --width × --height and exits, for scripts and terminals
that cannot run a full-screen program.`,
		Example: `  stent watch
  stent watch --interval 5s --window 15m
  stent watch --once --width 120 --height 40`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if interval < 100*time.Millisecond {
				return usageErrorf("--interval must be at least 100ms, got %s", interval)
			}
			if width < 20 || height < 8 {
				return usageErrorf("--width and --height must be at least 20 and 8")
			}
			c.poolSize = 4 // the listener holds one connection; loads use the others
			client, done, err := c.client(ctx)
			if err != nil {
				return err
			}
			defer done()
			plain := *c
			plain.noColor = true
			// The model's own context ends with the command, so its pending waits (the poll
			// timer, the next notification) end with it.
			mctx, cancel := context.WithCancel(ctx)
			defer cancel()
			m := &watchModel{
				ctx:        mctx,
				load:       func(ctx context.Context) (*dashboard, error) { return loadDashboard(ctx, client, window) },
				loadDetail: func(ctx context.Context, id uuid.UUID) (*showResult, error) { return c.loadShow(ctx, client, id) },
				interval:   interval,
				minGap:     watchMinGap,
				width:      width,
				height:     height,
			}
			if once {
				m.view = newWatchView(c.stdout, false, plain.renderShow, "snapshot")
				d, err := m.load(ctx)
				if err != nil {
					return cliError(err)
				}
				m.data = d
				var frame strings.Builder
				for _, l := range strings.Split(m.View(), "\n") {
					frame.WriteString(strings.TrimRight(l, " ") + "\n")
				}
				_, err = fmt.Fprint(c.stdout, frame.String())
				return err
			}
			if !isTerminal(c.stdout) || !isTerminal(c.stdin) {
				return errors.New("watch needs a terminal (use --once to print one frame)")
			}
			changes, stop, err := client.Changes(ctx)
			if err != nil {
				return cliError(err)
			}
			defer stop()
			m.changes = changes
			m.view = newWatchView(c.stdout, c.colorEnabled(), plain.renderShow,
				fmt.Sprintf("notify + %s poll", formatDuration(interval)))
			p := tea.NewProgram(m, tea.WithContext(ctx), tea.WithInput(c.stdin), tea.WithOutput(c.stdout),
				tea.WithAltScreen(), tea.WithoutSignalHandler())
			if _, err := p.Run(); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return err
			}
			if m.interrupted {
				return errInterrupted
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.DurationVarP(&interval, "interval", "i", 2*time.Second, "poll at least this often, notifications or not")
	f.DurationVarP(&window, "window", "w", stent.DefaultStatsWindow, "throughput and error-rate window")
	f.BoolVar(&once, "once", false, "print one frame and exit")
	f.IntVar(&width, "width", 80, "frame width with --once (the terminal's size otherwise)")
	f.IntVar(&height, "height", 24, "frame height with --once")
	return cmd
}

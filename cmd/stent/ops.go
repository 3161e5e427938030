package main

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/stentdev/stent/stent"
)

// opsCommands are the commands that inspect and steer executions, tasks, dead letters and
// workers (issue 5), each group in a file of its own.
func (c *cli) opsCommands() []*cobra.Command {
	return []*cobra.Command{c.listCommand(), c.showCommand(), c.tasksCommand(), c.statsCommand(),
		c.dlqCommand(), c.signalCommand(), c.cancelCommand(), c.retryCommand(), c.purgeCommand(),
		c.explainCommand(), c.workersCommand(), c.devCommand(), c.watchCommand()}
}

// parseExecutionID parses an execution id argument.
func parseExecutionID(s string) (uuid.UUID, error) {
	id, err := uuid.Parse(s)
	if err != nil {
		return uuid.Nil, usageErrorf("execution id must be a UUID, got %q", s)
	}
	return id, nil
}

// executionIDArg validates that a command got one execution id (plus up to extra arguments).
func executionIDArg(minArgs, maxArgs int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.RangeArgs(minArgs, maxArgs)(cmd, args); err != nil {
			return err
		}
		_, err := parseExecutionID(args[0])
		return err
	}
}

// notFound turns ErrNotFound into a short message naming what was not found.
func notFound(err error, what string) error {
	if errors.Is(err, stent.ErrNotFound) {
		return fmt.Errorf("%s not found", what)
	}
	return cliError(err)
}

// parseAge parses a duration for --older-than and --since: a Go duration (90m, 1h30m) or a
// number of days (30d, also 1d12h).
func parseAge(flag, s string) (time.Duration, error) {
	in := strings.TrimSpace(s)
	var days time.Duration
	if d, rest, ok := strings.Cut(in, "d"); ok {
		n, err := strconv.ParseUint(d, 10, 32)
		if err != nil {
			return 0, usageErrorf("invalid %s %q: want a duration such as 30d, 12h or 90m", flag, s)
		}
		days, in = time.Duration(n)*24*time.Hour, rest
		if in == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(in)
	if err != nil || d < 0 {
		return 0, usageErrorf("invalid %s %q: want a duration such as 30d, 12h or 90m", flag, s)
	}
	return days + d, nil
}

// parseSince parses --since: an RFC 3339 time, or an age (30m, 2d) counted back from now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := parseAge("--since", s)
	if err != nil {
		return time.Time{}, usageErrorf("invalid --since %q: want a duration such as 30m or 2d, or a time such as 2030-01-02T03:04:05Z", s)
	}
	return now.Add(-d), nil
}

// humanDuration writes d for people: 850ms, 12.5s, 3m20s, 2h5m, 3d4h.
func humanDuration(d time.Duration) string {
	switch {
	case d < 0:
		return "-" + humanDuration(-d)
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return strconv.FormatFloat(math.Floor(d.Seconds()*10)/10, 'f', -1, 64) + "s"
	case d < time.Hour:
		return fmt.Sprintf("%dm%ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
}

// elapsed is how long something ran: until finished, or until now while it runs; "-" before
// it started.
func elapsed(started, finished *time.Time, now time.Time) string {
	switch {
	case started == nil:
		return "-"
	case finished != nil:
		return humanDuration(finished.Sub(*started))
	case now.IsZero():
		return "-"
	}
	return humanDuration(now.Sub(*started))
}

// utcPtr returns t in UTC, or nil.
func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// orDash writes s, or "-" when it is empty.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// truncate cuts s to n characters, ending with … when cut.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	if n <= 1 {
		return string(r[:n])
	}
	return string(r[:n-1]) + "…"
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stent"
)

func TestSignalCommand(t *testing.T) {
	t.Parallel()
	b := setupOps(t)
	b.seedOps(t)
	pending, done := b.ids[opsPending].String(), b.ids[opsCompleted].String()

	require.Equal(t, result{code: exitOK, stdout: "Sent signal approval to execution " + pending + ".\n"},
		b.cli(t, "signal", pending, "approval", `{"by": "ana"}`))
	res := b.cli(t, "-o", "json", "signal", pending, "wake")
	require.Equal(t, exitOK, res.code, res.stderr)
	require.JSONEq(t, fmt.Sprintf(`{"execution_id": %q, "name": "wake", "payload": null, "sent": true}`, pending), res.stdout)
	var names []string
	var payloads []string
	rows, err := b.pool.Query(t.Context(), `select name, payload::text from stent.signals where execution_id = $1 order by id`, b.ids[opsPending])
	require.NoError(t, err)
	for rows.Next() {
		var n, p string
		require.NoError(t, rows.Scan(&n, &p))
		names, payloads = append(names, n), append(payloads, p)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{"approval", "wake"}, names)
	require.Equal(t, []string{`{"by": "ana"}`, "null"}, payloads)

	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"signal", pending, "approval", "{not json"}, exitFailure, "stent: invalid JSON payload \"{not json\" (quote strings: '\"text\"')\n"},
		{[]string{"signal", done, "approval"}, exitFailure, "stent: execution " + done + " is finished: signals go to running executions\n"},
		{[]string{"signal", uuid.Nil.String(), "approval"}, exitFailure, "stent: execution 00000000-0000-0000-0000-000000000000 not found\n"},
		{[]string{"signal", pending, "no spaces"}, exitFailure, ""},
		{[]string{"signal", "not-a-uuid", "x"}, exitUsage, "stent: execution id must be a UUID, got \"not-a-uuid\"\n"},
		{[]string{"signal", pending}, exitUsage, "stent: accepts between 2 and 3 arg(s), received 1\n"},
	} {
		res := b.cli(t, tc.args...)
		require.Equal(t, tc.code, res.code, "%v: %s", tc.args, res.stderr)
		require.Empty(t, res.stdout)
		require.Contains(t, res.stderr, tc.stderr, tc.args)
	}
	var count int
	require.NoError(t, b.pool.QueryRow(t.Context(), `select count(*) from stent.signals`).Scan(&count))
	require.Equal(t, 2, count, "failed commands sent nothing")
}

func TestCancelCommand(t *testing.T) {
	t.Parallel()
	b := setupOps(t)
	b.seedOps(t)
	pending, done := b.ids[opsPending].String(), b.ids[opsCompleted].String()
	state := func() stent.ExecutionState {
		e, err := b.client.Get(t.Context(), b.ids[opsPending])
		require.NoError(t, err)
		return e.State
	}

	res := b.cli(t, "cancel", pending)
	require.Equal(t, result{code: exitFailure,
		stderr: "stent: refusing to continue without confirmation: stdin is not a terminal (pass --yes to confirm)\n"}, res)
	res = b.cliIn(t, t.Context(), &terminal{strings.NewReader("n\n")}, "cancel", pending)
	require.Equal(t, result{code: exitFailure, stderr: "Cancel execution " + pending + " (shop.checkout, pending)? [y/N] stent: aborted\n"}, res)
	require.Equal(t, stent.StatePending, state(), "nothing cancelled without confirmation")

	res = b.cliIn(t, t.Context(), &terminal{strings.NewReader("y\n")}, "cancel", pending)
	require.Equal(t, exitOK, res.code, res.stderr)
	require.Equal(t, "Execution "+pending+" is cancelled.\n", res.stdout)
	require.Equal(t, stent.StateCancelled, state())

	require.Equal(t, result{code: exitOK, stdout: "Execution " + done + " is already completed; nothing to cancel.\n"},
		b.cli(t, "cancel", done))
	res = b.cli(t, "-o", "json", "cancel", b.ids[opsRunning].String(), "--yes")
	require.Equal(t, exitOK, res.code, res.stderr)
	require.JSONEq(t, fmt.Sprintf(`{"execution_id": %q, "state": "cancelled"}`, b.ids[opsRunning]), res.stdout)
	require.Equal(t, result{code: exitFailure, stderr: "stent: execution " + uuid.Nil.String() + " not found\n"},
		b.cli(t, "cancel", uuid.Nil.String(), "--yes"))
}

// TestConfirmInterrupted interrupts a command waiting at its confirmation prompt: it exits
// with 130 and changes nothing.
func TestConfirmInterrupted(t *testing.T) {
	t.Parallel()
	b := setupOps(t)
	b.seedOps(t)
	stdin, pipe, answer := newPipeTerminal()
	defer answer.Close()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan result, 1)
	go func() { done <- b.cliIn(t, ctx, stdin, "purge", "--older-than", "0s") }()
	require.Eventually(t, pipe.waiting.Load, waitTimeout, pollInterval, "the prompt waits for an answer")
	cancel()
	res := <-done
	require.Equal(t, exitInterrupted, res.code, res.stderr)
	require.True(t, strings.HasSuffix(res.stderr, "[y/N] \nstent: interrupted\n"), res.stderr)
	list, err := b.client.List(t.Context(), stent.ListParams{})
	require.NoError(t, err)
	require.Len(t, list.Executions, 5, "nothing purged")
}

func TestRetryCommand(t *testing.T) {
	t.Parallel()
	b := setupOps(t)
	b.seedOps(t)
	crashed, done := b.ids[opsCrashed].String(), b.ids[opsCompleted].String()

	res := b.cli(t, "retry", crashed)
	require.Equal(t, result{code: exitOK, stdout: "Execution " + crashed + " is pending again; finished steps keep their results.\n"}, res)
	e, err := b.client.Get(t.Context(), b.ids[opsCrashed])
	require.NoError(t, err)
	require.Equal(t, stent.StatePending, e.State)
	dls, err := b.client.ListDeadLetters(t.Context(), stent.DeadLetterListParams{})
	require.NoError(t, err)
	require.Len(t, dls, 1, "its dead letter is gone")

	require.Equal(t, result{code: exitFailure, stderr: "stent: execution " + done +
		" is completed: only failed, cancelled or timed-out executions can be retried\n"}, b.cli(t, "retry", done))
	require.Equal(t, result{code: exitFailure, stderr: "stent: execution " + uuid.Nil.String() + " not found\n"},
		b.cli(t, "retry", uuid.Nil.String()))
	res = b.cli(t, "-o", "json", "retry", b.ids[opsFailed].String())
	require.Equal(t, exitOK, res.code, res.stderr)
	require.JSONEq(t, fmt.Sprintf(`{"execution_id": %q, "state": "pending"}`, b.ids[opsFailed]), res.stdout)
}

func TestListPaging(t *testing.T) {
	t.Parallel()
	b := setupOps(t)
	b.seedOps(t)
	var all []string
	after := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 5)
		args := []string{"-o", "json", "list", "--limit", "2"}
		if after != "" {
			args = append(args, "--after", after)
		}
		res := b.cli(t, args...)
		require.Equal(t, exitOK, res.code, res.stderr)
		var page listResult
		require.NoError(t, json.Unmarshal([]byte(res.stdout), &page))
		for _, e := range page.Executions {
			all = append(all, e.ID.String())
		}
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	want := make([]string, len(b.ids))
	for i, id := range b.ids {
		want[len(b.ids)-1-i] = id.String()
	}
	require.Equal(t, want, all, "every execution once, newest first")

	res := b.cli(t, "list", "--limit", "2")
	require.Equal(t, exitOK, res.code)
	require.Contains(t, res.stdout, "More: stent list --after ")
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"list", "--after", "garbage"}, exitUsage, `invalid --after cursor "garbage"`},
		{[]string{"list", "--state", "sleeping"}, exitFailure, "stent: invalid state: unknown state sleeping\n"},
		{[]string{"list", "--since", "yesterday"}, exitUsage, `invalid --since "yesterday"`},
		{[]string{"list", "--limit", "0"}, exitFailure, "stent: invalid --limit 0: must be within [1, 10000]\n"},
		{[]string{"list", "extra"}, exitUsage, `unknown command "extra" for "stent list"`},
		{[]string{"tasks", "list", "--kind", "job"}, exitFailure, "stent: invalid task kind: unknown kind job\n"},
		{[]string{"tasks", "list", "--execution", "x"}, exitUsage, `--execution must be a UUID, got "x"`},
		{[]string{"tasks", "show", "4242"}, exitFailure, "stent: task 4242 not found\n"},
		{[]string{"show", uuid.Nil.String()}, exitFailure, "stent: execution 00000000-0000-0000-0000-000000000000 not found\n"},
		{[]string{"show", "123"}, exitUsage, `execution id must be a UUID, got "123"`},
		{[]string{"explain", uuid.Nil.String()}, exitFailure, "stent: execution 00000000-0000-0000-0000-000000000000 not found\n"},
		{[]string{"stats", "--window", "10ms"}, exitFailure, "stent: invalid stats window: must be at least 1s, got 10ms\n"},
		{[]string{"watch", "--interval", "1ms"}, exitUsage, "--interval must be at least 100ms"},
		{[]string{"watch"}, exitFailure, "stent: watch needs a terminal (use --once to print one frame)\n"},
		{[]string{"dlq"}, exitUsage, "stent dlq needs a command: discard, list, purge, replay, replay-all, show"},
		{[]string{"tasks"}, exitUsage, "stent tasks needs a command: list, show"},
		{[]string{"list", "-o", "yaml"}, exitUsage, `invalid argument "yaml" for "-o, --output" flag: must be table or json (text is an alias of table)`},
	} {
		res := b.cli(t, tc.args...)
		require.Equal(t, tc.code, res.code, "%v: %s", tc.args, res.stderr)
		require.Empty(t, res.stdout, tc.args)
		require.Contains(t, res.stderr, tc.stderr, tc.args)
	}
}

// TestColor: state words are coloured on a terminal only, and never with --no-color or
// $NO_COLOR.
func TestColor(t *testing.T) {
	t.Parallel()
	b := setupOps(t)
	b.seedOps(t)
	run := func(env map[string]string, args ...string) string {
		var stdout fakeTerminalWriter
		var stderr strings.Builder
		c := &cli{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, getenv: func(k string) string { return env[k] }}
		code := c.run(t.Context(), append([]string{"--database-url", fakeNowURL(b.dbURL, b.clock.Now())}, args...))
		require.Equal(t, exitOK, code, stderr.String())
		return stdout.String()
	}
	colored := run(nil, "list")
	require.Contains(t, colored, ansiGreen+"completed"+ansiReset)
	require.Contains(t, colored, ansiRed+"failed"+ansiReset)
	// Columns stay aligned: the escapes take no room.
	lines := strings.Split(colored, "\n")
	require.Equal(t, strings.Index(lines[0], "QUEUE"), strings.Index(ansiEscape.ReplaceAllString(lines[1], ""), "slow"))
	require.NotContains(t, run(nil, "--no-color", "list"), "\x1b[")
	require.NotContains(t, run(map[string]string{"NO_COLOR": "1"}, "list"), "\x1b[")
	require.NotContains(t, b.cli(t, "list").stdout, "\x1b[", "not a terminal")
}

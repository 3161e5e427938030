package main

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/stenttest"
	"github.com/stentdev/stent/worker"
)

func TestPauseResume(t *testing.T) {
	t.Parallel()
	b := setupFlow(t)

	require.Equal(t, result{code: exitOK, stdout: "Nothing is paused.\n"}, b.stent(t, "pauses"))
	require.Equal(t, result{code: exitOK, stdout: "[]\n"}, b.stent(t, "pause", "list", "-o", "json"))

	paused := "Paused queue billing: its pending tasks are not claimed until `stent resume queue billing`; running ones finish.\n"
	require.Equal(t, result{code: exitOK, stdout: paused}, b.stent(t, "pause", "queue", "billing"))
	require.Equal(t, result{code: exitOK, stdout: paused}, b.stent(t, "pause", "queue", "billing"), "pausing twice is harmless")
	res := b.stent(t, "-o", "json", "pause", "function", "billing.charge")
	require.Equal(t, exitOK, res.code, res.stderr)
	require.JSONEq(t, `{"kind": "function", "name": "billing.charge", "paused": true}`, res.stdout)

	pauses, err := b.client.ListPauses(t.Context())
	require.NoError(t, err)
	require.Equal(t, []stent.Pause{{Kind: "function", Name: "billing.charge", PausedAt: t0},
		{Kind: "queue", Name: "billing", PausedAt: t0}}, utcPauses(pauses))

	list := "KIND      NAME            PAUSED AT\n" +
		"function  billing.charge  2030-01-02T03:04:05Z\n" +
		"queue     billing         2030-01-02T03:04:05Z\n"
	require.Equal(t, result{code: exitOK, stdout: list}, b.stent(t, "pauses"))
	require.Equal(t, result{code: exitOK, stdout: list}, b.stent(t, "pause", "list"))
	res = b.stent(t, "pauses", "-o", "json")
	require.Equal(t, exitOK, res.code, res.stderr)
	require.JSONEq(t, `[{"kind": "function", "name": "billing.charge", "paused_at": "2030-01-02T03:04:05Z"},
		{"kind": "queue", "name": "billing", "paused_at": "2030-01-02T03:04:05Z"}]`, res.stdout)

	require.Equal(t, result{code: exitOK, stdout: "Resumed queue billing.\n"}, b.stent(t, "resume", "queue", "billing"))
	require.Equal(t, result{code: exitFailure, stderr: "stent: queue billing is not paused\n"}, b.stent(t, "resume", "queue", "billing"))
	res = b.stent(t, "resume", "function", "billing.charge", "-o", "json")
	require.Equal(t, exitOK, res.code, res.stderr)
	require.JSONEq(t, `{"kind": "function", "name": "billing.charge", "paused": false}`, res.stdout)
	require.Equal(t, result{code: exitFailure, stderr: "stent: function billing.charge is not paused\n"},
		b.stent(t, "resume", "function", "billing.charge"))

	pauses, err = b.client.ListPauses(t.Context())
	require.NoError(t, err)
	require.Empty(t, pauses)
	require.Equal(t, result{code: exitOK, stdout: "Nothing is paused.\n"}, b.stent(t, "pause", "list"))
}

func utcPauses(ps []stent.Pause) []stent.Pause {
	for i := range ps {
		ps[i].PausedAt = ps[i].PausedAt.UTC()
	}
	return ps
}

func TestPauseBadInput(t *testing.T) {
	t.Parallel()
	b := setupFlow(t)
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"pause", "queue", "no spaces"}, exitFailure,
			"stent: invalid queue: \"no spaces\" must be 1-128 characters of letters, digits and _ . : / -\n"},
		{[]string{"pause", "function", "-x"}, exitUsage, "stent: unknown shorthand flag: 'x' in -x\n"},
		{[]string{"pause"}, exitUsage, "stent: stent pause needs a command: function, list, queue\n"},
		{[]string{"pause", "table", "t"}, exitUsage, "stent: unknown command \"table\" for \"stent pause\"\n"},
		{[]string{"pause", "queue"}, exitUsage, "stent: accepts 1 arg(s), received 0\n"},
		{[]string{"pause", "list", "x"}, exitUsage, "stent: unknown command \"x\" for \"stent pause list\"\n"},
		{[]string{"resume"}, exitUsage, "stent: stent resume needs a command: function, queue\n"},
		{[]string{"resume", "function", "never.paused"}, exitFailure, "stent: function never.paused is not paused\n"},
		{[]string{"resume", "queue", "no spaces"}, exitFailure,
			"stent: invalid queue: \"no spaces\" must be 1-128 characters of letters, digits and _ . : / -\n"},
	} {
		res := b.stent(t, tc.args...)
		require.Equal(t, tc.code, res.code, "%v: %s", tc.args, res.stderr)
		require.Empty(t, res.stdout, tc.args)
		if tc.code == exitUsage {
			require.Contains(t, res.stderr, tc.stderr[:len(tc.stderr)-1], tc.args)
		} else {
			require.Equal(t, tc.stderr, res.stderr, tc.args)
		}
	}
	pauses, err := b.client.ListPauses(t.Context())
	require.NoError(t, err)
	require.Empty(t, pauses, "nothing was paused")
}

// TestPauseHoldsWorkUntilResume pauses a function with the command while a real worker runs:
// a task dispatched then stays pending, held back by the pause, and runs once it is resumed.
func TestPauseHoldsWorkUntilResume(t *testing.T) {
	t.Parallel()
	dbURL := stenttest.DB(t)
	b := &testBundle{dbURL: dbURL, pool: stenttest.Pool(t, stenttest.WithURL(dbURL), stenttest.WithMaxConns(8))}
	reg := stent.NewRegistry()
	echo := stent.NewActivity("cli.echo", func(_ context.Context, s string) (string, error) { return "echo " + s, nil },
		stent.InRegistry(reg))
	client := stenttest.Client(t, b.pool, stent.Config{Registry: reg})
	stenttest.StartWorker(t, client, worker.Config{Concurrency: 2})

	require.Equal(t, exitOK, b.stent(t, "pause", "function", "cli.echo").code)
	id, err := echo.Dispatch(t.Context(), client, "hi")
	require.NoError(t, err)
	exec, err := client.Get(t.Context(), id)
	require.NoError(t, err)
	taskID := exec.Tasks[0].ID

	// The pause was in place before the task existed, so no claim can have taken it.
	require.Equal(t, result{code: exitOK, stdout: fmt.Sprintf("Task %d (cli.echo, queue default) is pending, held back by:\n"+
		"  paused_function  function cli.echo paused\n", taskID)}, b.stent(t, "blockers", fmt.Sprint(taskID)))

	require.Equal(t, exitOK, b.stent(t, "resume", "function", "cli.echo").code)
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	out, err := echo.Wait(ctx, client, id)
	require.NoError(t, err)
	require.Equal(t, "echo hi", out)
	require.Equal(t, result{code: exitOK, stdout: fmt.Sprintf("Task %d (cli.echo, queue default) is completed: finished, so nothing holds it back.\n", taskID)},
		b.stent(t, "blockers", fmt.Sprint(taskID)))
}

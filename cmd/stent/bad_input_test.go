package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBadInput runs every command with malformed ids, names, numbers and durations: each
// exits 2 (a malformed command line) or 1 (a well-formed but invalid value) with a message
// naming the problem, and the database is unchanged.
func TestBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	counts := func() string {
		var s string
		require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT concat_ws(',',
			(SELECT count(*) FROM stent.executions), (SELECT count(*) FROM stent.tasks), (SELECT count(*) FROM stent.limits),
			(SELECT count(*) FROM stent.pauses), (SELECT max(version) FROM public.stent_schema_version))`).Scan(&s))
		return s
	}
	before := counts()
	long := strings.Repeat("n", 201)
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string // prefix
	}{
		{[]string{"blockers", "abc"}, exitUsage, `stent: task id must be a whole number from 1, got "abc"`},
		{[]string{"blockers", "0"}, exitUsage, `stent: task id must be a whole number from 1, got "0"`},
		{[]string{"blockers", "99999999999999999999"}, exitUsage, "stent: task id must be a whole number"},
		{[]string{"blockers", "12345"}, exitFailure, "stent: task 12345 not found"},
		{[]string{"migrate", "down", "-1", "--yes"}, exitUsage, "stent: unknown shorthand flag: '1' in -1"},
		{[]string{"migrate", "down", "x1", "--yes"}, exitUsage, `stent: version must be a whole number from 0, got "x1"`},
		{[]string{"pause", "queue", "a b"}, exitFailure, `stent: invalid queue: "a b" must be 1-128 characters`},
		{[]string{"pause", "queue", ""}, exitFailure, `stent: invalid queue: "" must be 1-128 characters`},
		{[]string{"pause", "function", "tab\there"}, exitFailure, `stent: invalid function name: "tab\there"`},
		{[]string{"pause", "function", long}, exitFailure, "stent: invalid function name"},
		{[]string{"resume", "queue", "bell\a"}, exitFailure, `stent: invalid queue: "bell\a"`},
		{[]string{"limits", "set", "a b", "--max-concurrent", "1"}, exitFailure, "stent: invalid function name"},
		{[]string{"limits", "set", "f", "--max-concurrent", "-1"}, exitFailure, `stent: invalid --max-concurrent "-1"`},
		{[]string{"limits", "set", "f", "--max-concurrent", "1e9"}, exitFailure, `stent: invalid --max-concurrent "1e9"`},
		{[]string{"limits", "set", "f", "--rate", "5/-1s"}, exitFailure, `stent: invalid --rate "5/-1s"`},
		{[]string{"limits", "set", "f", "--rate", "5/0s"}, exitFailure, `stent: invalid --rate "5/0s"`},
		{[]string{"limits", "set", "f", "--rate", "x/s"}, exitFailure, `stent: invalid --rate "x/s"`},
		{[]string{"limits", "reset", "bad\x00name"}, exitFailure, "stent: invalid function name"},
		{[]string{"doctor", "--grace", "-5m"}, exitFailure, "stent: invalid DoctorOptions.Grace: must not be negative, got -5m0s"},
		{[]string{"doctor", "--grace", "5 minutes"}, exitUsage, `stent: invalid argument "5 minutes" for "--grace" flag`},
		{[]string{"doctor", "--bloat-ratio", "NaN"}, exitFailure, "stent: invalid DoctorOptions.BloatRatio"},
		{[]string{"doctor", "--xmin-age", "ten"}, exitUsage, `stent: invalid argument "ten" for "--xmin-age" flag`},
		{[]string{"-o", "yaml", "doctor"}, exitUsage, `stent: invalid argument "yaml" for "-o, --output" flag: must be table or json`},
	} {
		res := b.stent(t, tc.args...)
		require.Equal(t, tc.code, res.code, "%q: %s", tc.args, res.stderr)
		require.True(t, strings.HasPrefix(res.stderr, tc.stderr), "%q: %q", tc.args, res.stderr)
		require.Empty(t, res.stdout, "%q", tc.args)
	}
	require.Equal(t, before, counts())
}

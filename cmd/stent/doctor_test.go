package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDoctor: a healthy database passes; seeded violations (one repairable, one not) are
// listed with exit 1 as text and JSON; --fix refuses without a terminal or a yes and then
// changes nothing; --fix --yes repairs the repairable one and still exits 1 for the other.
func TestDoctor(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.Equal(t, result{code: exitOK, stdout: "No problems found.\n"}, b.stent(t, "doctor"))
	require.Equal(t, result{code: exitOK, stdout: "[]\n"}, b.stent(t, "doctor", "-o", "json"))

	// An attempt whose lease expired 5 minutes ago and a task at attempt 9 of 3.
	var expired, exceeded int64
	_, err := b.pool.Exec(t.Context(), `INSERT INTO stent.executions (id, workflow, state, queue, created_at)
		VALUES ('00000000-0000-0000-0000-00000000d0c1', 'wf', 'running', 'default', now())`)
	require.NoError(t, err)
	insert := `INSERT INTO stent.tasks (execution_id, kind, name, state, queue, max_attempts, retry_initial_delay,
		retry_backoff_factor, retry_max_delay, retry_jitter, run_at, created_at, attempt, lease_owner, lease_expires_at)
		VALUES ('00000000-0000-0000-0000-00000000d0c1', 'activity', $1, $2, 'default', 3, '1s', 2, '1m', 0, now(), now(), $3,
		        $4, now() - interval '5 minutes') RETURNING id`
	require.NoError(t, b.pool.QueryRow(t.Context(), insert, "a", "running", 1, "ghost").Scan(&expired))
	require.NoError(t, b.pool.QueryRow(t.Context(), insert, "b", "pending", 9, nil).Scan(&exceeded))
	state := func() string {
		var s string
		require.NoError(t, b.pool.QueryRow(t.Context(), "SELECT state FROM stent.tasks WHERE id = $1", expired).Scan(&s))
		return s
	}

	res := b.stent(t, "doctor")
	require.Equal(t, exitFailure, res.code)
	require.Equal(t, "stent: 2 problems found (2 errors, 0 warnings)\n", res.stderr)
	lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
	require.Len(t, lines, 3, res.stdout)
	require.Regexp(t, `^SEVERITY\s+CHECK\s+EXECUTION\s+TASK\s+FIXABLE\s+DETAIL$`, lines[0])
	require.Regexp(t, `^error\s+attempts_exceeded\s+00000000-0000-0000-0000-00000000d0c1\s+\d+\s+no\s+activity b is at attempt 9 of at most 3`, lines[1])
	require.Regexp(t, `^error\s+expired_lease\s+00000000-0000-0000-0000-00000000d0c1\s+\d+\s+yes\s+activity a attempt 1: lease of worker ghost expired`, lines[2])

	res = b.stent(t, "doctor", "-o", "json")
	require.Equal(t, exitFailure, res.code)
	var fs []finding
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &fs))
	require.Len(t, fs, 2)
	require.Equal(t, finding{Check: "expired_lease", Severity: "error", ExecutionID: "00000000-0000-0000-0000-00000000d0c1",
		TaskID: expired, Detail: fs[1].Detail, Fixable: true}, fs[1])

	// --fix without a terminal or --yes, or answered no: the dry run only.
	res = b.stent(t, "doctor", "--fix")
	require.Equal(t, exitFailure, res.code)
	require.Contains(t, res.stdout, "expired_lease")
	require.Contains(t, res.stderr, "pass --yes to confirm")
	require.Equal(t, "running", state())
	res = runCLI(t, t.Context(), terminal{strings.NewReader("n\n")}, "--database-url", b.dbURL, "doctor", "--fix")
	require.Equal(t, exitFailure, res.code)
	require.Contains(t, res.stderr, "Repair 1 of 2 findings? [y/N] stent: aborted\n")
	require.Equal(t, "running", state())

	// Confirmed at the prompt: repaired; the unrepairable finding keeps the exit code at 1.
	res = runCLI(t, t.Context(), terminal{strings.NewReader("y\n")}, "--database-url", b.dbURL, "doctor", "--fix")
	require.Equal(t, exitFailure, res.code, res.stderr)
	require.Contains(t, res.stdout, "ACTION")
	require.Contains(t, res.stdout, "lease ended and task rescued (now pending)")
	require.Equal(t, "stent: 1 problem found (1 errors, 0 warnings)\n", strings.TrimPrefix(res.stderr, "Repair 1 of 2 findings? [y/N] "))
	require.Equal(t, "pending", state())

	res = b.stent(t, "doctor", "--fix", "--yes", "-o", "json")
	require.Equal(t, exitFailure, res.code)
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &fs))
	require.Len(t, fs, 1)
	require.Equal(t, "attempts_exceeded", fs[0].Check)
	require.Empty(t, fs[0].Action)

	_, err = b.pool.Exec(t.Context(), "UPDATE stent.tasks SET attempt = 1 WHERE id = $1", exceeded)
	require.NoError(t, err)
	require.Equal(t, result{code: exitOK, stdout: "No problems found.\n"}, b.stent(t, "doctor", "--fix", "--yes"))
}

// TestDoctorBadInput: malformed flags are usage errors, bad thresholds invalid input; neither
// touches the database.
func TestDoctorBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"doctor", "extra"}, exitUsage, "stent: unknown command \"extra\" for \"stent doctor\"\n"},
		{[]string{"doctor", "--grace", "soon"}, exitUsage, "stent: invalid argument \"soon\" for \"--grace\" flag: time: invalid duration \"soon\"\n"},
		{[]string{"doctor", "--grace", "-1s"}, exitFailure, "stent: invalid DoctorOptions.Grace: must not be negative, got -1s\n"},
		{[]string{"doctor", "--bloat-ratio", "2"}, exitFailure, "stent: invalid DoctorOptions.BloatRatio: must be within (0, 1], got 2\n"},
		{[]string{"doctor", "--xmin-age", "-5"}, exitFailure, "stent: invalid DoctorOptions.XminAge: must not be negative\n"},
	} {
		res := b.stent(t, tc.args...)
		require.Equal(t, tc.code, res.code, "%v: %s", tc.args, res.stderr)
		require.True(t, strings.HasPrefix(res.stderr, tc.stderr), "%v: %q", tc.args, res.stderr)
	}
}

package main

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args   []string
		stderr string
		helpOn string // the command whose --help the message points to
	}{
		{nil, "stent needs a command: blockers, cancel, dev, dlq, doctor, explain, limits, list, migrate, pause, pauses, purge, resume, retry, show, signal, stats, tasks, version, watch, workers", "stent"},
		{[]string{"bogus"}, `unknown command "bogus" for "stent"`, "stent"},
		{[]string{"migrte"}, `(did you mean migrate?)`, "stent"},
		{[]string{"--no-such-flag"}, "unknown flag: --no-such-flag", "stent"},
		{[]string{"migrate"}, "stent migrate needs a command: down, status, up", "stent migrate"},
		{[]string{"migrate", "sideways"}, `unknown command "sideways" for "stent migrate"`, "stent migrate"},
		{[]string{"migrate", "up", "now"}, `unknown command "now" for "stent migrate up"`, "stent migrate up"},
		{[]string{"migrate", "down"}, "accepts 1 arg(s), received 0", "stent migrate down"},
		{[]string{"migrate", "down", "abc"}, `version must be a whole number from 0, got "abc"`, "stent migrate down"},
		{[]string{"migrate", "down", "--", "-1"}, `got "-1"`, "stent migrate down"},
		{[]string{"migrate", "status", "-o", "yaml"}, `invalid argument "yaml" for "-o, --output" flag: must be table or json (text is an alias of table)`, "stent migrate status"},
		{[]string{"version", "--yes"}, "unknown flag: --yes", "stent version"},
	} {
		name := strings.Join(tc.args, "_")
		if name == "" {
			name = "NoArgs"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			res := runCLI(t, t.Context(), nil, tc.args...)
			require.Equal(t, exitUsage, res.code, res.stderr)
			require.Empty(t, res.stdout)
			require.Contains(t, res.stderr, tc.stderr)
			require.True(t, strings.HasPrefix(res.stderr, "stent: "), res.stderr)
			require.True(t, strings.HasSuffix(res.stderr, "\nRun '"+tc.helpOn+" --help' for usage.\n"), res.stderr)
		})
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	res := runCLI(t, t.Context(), nil, "--help")
	require.Equal(t, exitOK, res.code)
	for _, want := range []string{"migrate", "version", "--database-url", "$DATABASE_URL", "-o, --output", "130 interrupted"} {
		require.Contains(t, res.stdout, want)
	}
	for _, args := range [][]string{{"migrate", "--help"}, {"help", "migrate"}} {
		res := runCLI(t, t.Context(), nil, args...)
		require.Equal(t, exitOK, res.code)
		require.Contains(t, res.stdout, "stent_schema_version")
		for _, sub := range []string{"up ", "down ", "status "} {
			require.Contains(t, res.stdout, "\n  "+sub, "lists %s", sub)
		}
	}
}

func TestDatabaseURL(t *testing.T) {
	t.Parallel()

	t.Run("Missing", func(t *testing.T) {
		t.Parallel()
		res := runCLI(t, t.Context(), nil, "migrate", "status")
		require.Equal(t, exitFailure, res.code)
		require.Equal(t, "stent: no database: pass --database-url or set DATABASE_URL\n", res.stderr)
	})

	t.Run("FromEnvironment", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var stdout, stderr strings.Builder
		c := &cli{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr,
			getenv: func(k string) string { return map[string]string{envDatabaseURL: b.dbURL}[k] }}
		require.Equal(t, exitOK, c.run(t.Context(), []string{"migrate", "status"}), stderr.String())
		require.Contains(t, stdout.String(), "up to date")
	})

	t.Run("FlagOverridesEnvironment", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var stdout, stderr strings.Builder
		c := &cli{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr,
			getenv: func(string) string { return b.dbURL }}
		code := c.run(t.Context(), []string{"--database-url", "postgres://nobody@127.0.0.1:1/none?connect_timeout=5", "migrate", "status"})
		require.Equal(t, exitFailure, code)
		require.Contains(t, stderr.String(), "stent: connecting to the database:")
		require.Empty(t, stdout.String())
	})

	t.Run("Invalid", func(t *testing.T) {
		t.Parallel()
		res := runCLI(t, t.Context(), nil, "--database-url", "postgres://h:notaport/db", "migrate", "up")
		require.Equal(t, exitFailure, res.code)
		require.Contains(t, res.stderr, "stent: invalid database URL:")
	})
}

// ternLockKey is the advisory lock tern (and so stent.Migrate) takes around migrations.
const ternLockKey = int64(9628173550095224)

// holdMigrationLock takes the migration lock on the bundle's database until the test ends, so
// that a migrate command blocks, and returns a function reporting whether a session waits on it.
func (b *testBundle) holdMigrationLock(t *testing.T) func() bool {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), b.dbURL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	_, err = conn.Exec(t.Context(), "select pg_advisory_lock($1)", ternLockKey)
	require.NoError(t, err)
	return func() bool {
		var waiting int
		require.NoError(t, b.pool.QueryRow(t.Context(), `select count(*) from pg_stat_activity
			where datname = current_database() and wait_event_type = 'Lock' and wait_event = 'advisory'`).Scan(&waiting))
		return waiting > 0
	}
}

func TestInterrupted(t *testing.T) {
	t.Parallel()
	b := setup(t)
	blocked := b.holdMigrationLock(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan result, 1)
	go func() { done <- runCLI(t, ctx, nil, "--database-url", b.dbURL, "migrate", "up") }()

	require.Eventually(t, blocked, waitTimeout, pollInterval, "migrate up waits for the migration lock")
	cancel()
	res := <-done
	require.Equal(t, exitInterrupted, res.code, res.stderr)
	require.Equal(t, "stent: interrupted\n", res.stderr)
	require.Empty(t, res.stdout)
}

// TestInterruptedBySIGINT runs the real main in a child process and interrupts it.
func TestInterruptedBySIGINT(t *testing.T) {
	t.Parallel()
	b := setup(t)
	blocked := b.holdMigrationLock(t)
	cmd := exec.CommandContext(t.Context(), os.Args[0], "--database-url", b.dbURL, "migrate", "up")
	cmd.Env = append(os.Environ(), envRunMain+"=1")
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start())

	require.Eventually(t, blocked, waitTimeout, pollInterval, "stent migrate up waits for the migration lock")
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	err := cmd.Wait()
	var exitErr *exec.ExitError
	require.ErrorAs(t, err, &exitErr, stderr.String())
	require.Equal(t, exitInterrupted, exitErr.ExitCode(), stderr.String())
	require.Equal(t, "stent: interrupted\n", stderr.String())
	require.Empty(t, stdout.String())
}

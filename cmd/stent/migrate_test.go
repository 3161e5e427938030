package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stent"
)

// statusText is the text of migrate status for a database at version v with functions code.
func statusText(v, code int32, status string) string {
	return fmt.Sprintf("Schema version:    %d (expected %d)\nFunctions version: %d (expected %d)\nStatus:            %s\n",
		v, stent.SchemaVersion, code, stent.CodeVersion, status)
}

// TestMigrateDownStatusUp walks a database from the latest version to none and back.
func TestMigrateDownStatusUp(t *testing.T) {
	t.Parallel()
	b := setup(t)
	latest := stent.SchemaVersion

	res := b.stent(t, "migrate", "status")
	require.Equal(t, result{code: exitOK, stdout: statusText(latest, stent.CodeVersion, "up to date")}, res)

	res = b.stent(t, "migrate", "down", fmt.Sprint(latest), "--yes")
	require.Equal(t, result{code: exitOK, stdout: fmt.Sprintf("Schema already at version %d; nothing to do.\n", latest)}, res)

	res = b.stent(t, "migrate", "down", "0", "--yes")
	require.Equal(t, result{code: exitOK, stdout: fmt.Sprintf("Migrated down from version %d to 0.\n", latest)}, res)
	require.False(t, b.schemaExists(t))

	res = b.stent(t, "migrate", "status")
	require.Equal(t, result{code: exitOK, stdout: statusText(0, 0, "not installed; run `stent migrate up`")}, res)

	res = b.stent(t, "migrate", "status", "-o", "json")
	require.Equal(t, exitOK, res.code, res.stderr)
	var st migrationStatus
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &st))
	require.Equal(t, migrationStatus{Version: 0, ExpectedVersion: latest, CodeVersion: 0, ExpectedCodeVersion: stent.CodeVersion}, st)

	res = b.stent(t, "migrate", "down", "1", "--yes")
	require.Equal(t, exitFailure, res.code)
	require.Equal(t, "stent: the schema is at version 0, below 1: use `stent migrate up` to go up\n", res.stderr)

	res = b.stent(t, "migrate", "up")
	require.Equal(t, result{code: exitOK,
		stdout: fmt.Sprintf("Migrated up from version 0 to %d; functions version %d installed.\n", latest, stent.CodeVersion)}, res)
	require.True(t, b.schemaExists(t))
	require.NoError(t, stent.CheckSchema(t.Context(), b.pool))

	res = b.stent(t, "migrate", "up")
	require.Equal(t, result{code: exitOK,
		stdout: fmt.Sprintf("Schema already at version %d; functions version %d installed.\n", latest, stent.CodeVersion)}, res)

	res = b.stent(t, "-o", "json", "migrate", "up")
	require.Equal(t, exitOK, res.code, res.stderr)
	require.JSONEq(t, fmt.Sprintf(`{"previous_version": %d, "version": %d, "code_version": %d}`,
		latest, latest, stent.CodeVersion), res.stdout)

	res = b.stent(t, "migrate", "status", "-o", "json")
	require.JSONEq(t, fmt.Sprintf(`{"version": %d, "expected_version": %d, "code_version": %d,
		"expected_code_version": %d, "up_to_date": true}`, latest, latest, stent.CodeVersion, stent.CodeVersion), res.stdout)
}

func TestMigrateDownRejectsUnknownVersion(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res := b.stent(t, "migrate", "down", fmt.Sprint(stent.SchemaVersion+1), "--yes")
	require.Equal(t, exitFailure, res.code)
	require.Equal(t, fmt.Sprintf("stent: version %d does not exist: this build knows versions 0 to %d\n",
		stent.SchemaVersion+1, stent.SchemaVersion), res.stderr)
	require.True(t, b.schemaExists(t))
}

// TestMigrateDownConfirmation checks the question migrate down asks without --yes.
func TestMigrateDownConfirmation(t *testing.T) {
	t.Parallel()

	t.Run("NotATerminal", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		// Even a "y" on stdin does not count: only a terminal can answer.
		res := runCLI(t, t.Context(), strings.NewReader("y\n"), "--database-url", b.dbURL, "migrate", "down", "0")
		require.Equal(t, exitFailure, res.code)
		require.Equal(t, "stent: refusing to continue without confirmation: stdin is not a terminal (pass --yes to confirm)\n", res.stderr)
		require.True(t, b.schemaExists(t))
	})

	for _, answer := range []string{"y", "YES", "n", "", "whatever"} {
		t.Run("Answer_"+answer, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			stdin := terminal{strings.NewReader(answer + "\n")}
			res := runCLI(t, t.Context(), stdin, "--database-url", b.dbURL, "migrate", "down", "0")
			question := fmt.Sprintf("Migrate schema stent down from version %d to 0? This drops what those migrations "+
				"created, data included (at version 0, all of schema stent). [y/N] ", stent.SchemaVersion)
			require.True(t, strings.HasPrefix(res.stderr, question), res.stderr)
			yes := answer == "y" || answer == "YES"
			if yes {
				require.Equal(t, result{code: exitOK, stdout: fmt.Sprintf("Migrated down from version %d to 0.\n", stent.SchemaVersion),
					stderr: question}, res)
			} else {
				require.Equal(t, result{code: exitFailure, stderr: question + "stent: aborted\n"}, res)
			}
			require.Equal(t, !yes, b.schemaExists(t))
		})
	}

	t.Run("InterruptedAtPrompt", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		pr, pw := io.Pipe() // the user never answers
		t.Cleanup(func() { _ = pw.Close() })
		ctx, cancel := context.WithCancel(t.Context())
		var stdout, stderr syncBuffer
		c := &cli{stdin: terminal{pr}, stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }}
		done := make(chan int, 1)
		go func() { done <- c.run(ctx, []string{"--database-url", b.dbURL, "migrate", "down", "0"}) }()

		require.Eventually(t, func() bool { return strings.HasSuffix(stderr.String(), "[y/N] ") },
			waitTimeout, pollInterval, "the question is asked")
		cancel()
		require.Equal(t, exitInterrupted, <-done)
		require.True(t, strings.HasSuffix(stderr.String(), "[y/N] \nstent: interrupted\n"), stderr.String())
		require.Empty(t, stdout.String())
		require.True(t, b.schemaExists(t))
	})
}

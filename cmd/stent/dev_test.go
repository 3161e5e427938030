package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stent"
)

// TestDev starts `stent dev`, uses the database it prints, and stops it by cancelling the
// context as Ctrl-C does: the server is gone and its directory deleted.
func TestDev(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stdout, stderr syncBuffer
	c := &cli{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }}
	done := make(chan int, 1)
	go func() { done <- c.run(ctx, []string{"-o", "json", "dev"}) }()

	deadline := time.After(2 * time.Minute)
	for !strings.HasSuffix(stdout.String(), "}\n") {
		select {
		case code := <-done:
			t.Fatalf("stent dev ended with %d: %s", code, stderr.String())
		case <-deadline:
			t.Fatalf("stent dev printed no URL: %s", stderr.String())
		case <-time.After(pollInterval):
		}
	}
	var res devResult
	require.NoError(t, json.Unmarshal([]byte(stdout.String()), &res))
	require.Equal(t, stent.SchemaVersion, res.SchemaVersion)
	require.DirExists(t, res.DataDir)

	pool, err := pgxpool.New(ctx, res.URL)
	require.NoError(t, err)
	require.NoError(t, stent.CheckSchema(ctx, pool), "migrated")
	pool.Close()
	res2 := runCLI(t, ctx, nil, "--database-url", res.URL, "stats")
	require.Equal(t, exitOK, res2.code, res2.stderr)
	require.Contains(t, res2.stdout, "Executions:    0")

	cancel()
	require.Equal(t, exitOK, <-done, stderr.String())
	require.Equal(t, "Starting a throwaway PostgreSQL...\nStopped PostgreSQL and deleted its data.\n", stderr.String())
	_, err = os.Stat(res.DataDir)
	require.ErrorIs(t, err, os.ErrNotExist)
	connCtx, connCancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer connCancel()
	conn, err := pgx.Connect(connCtx, res.URL)
	if err == nil {
		_ = conn.Close(connCtx)
	}
	require.Error(t, err, "the server is stopped")
}

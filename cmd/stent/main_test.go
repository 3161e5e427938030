package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/stentdev/stent/stenttest"
)

// envRunMain makes the test binary behave as the stent command itself (main), so a test can
// run it as a child process and send it signals.
const envRunMain = "STENT_CLI_TEST_RUN_MAIN"

// waitTimeout bounds every wait for something asynchronous.
const waitTimeout = 30 * time.Second

// pollInterval is how often a test polls the database while it waits.
const pollInterval = 10 * time.Millisecond

// TestMain starts one throwaway PostgreSQL cluster for the package and checks for leaked
// goroutines once every test passed, or runs main when the binary is started as the command.
func TestMain(m *testing.M) {
	if os.Getenv(envRunMain) == "1" {
		main()
		return
	}
	code := stenttest.Run(m)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// testBundle is a fresh migrated database and a pool on it for checking what commands did.
type testBundle struct {
	dbURL string
	pool  *pgxpool.Pool
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	dbURL := stenttest.DB(t)
	return &testBundle{dbURL: dbURL, pool: stenttest.Pool(t, stenttest.WithURL(dbURL), stenttest.WithMaxConns(2))}
}

// result is the outcome of one command.
type result struct {
	code           int
	stdout, stderr string
}

// stent runs a command against the bundle's database.
func (b *testBundle) stent(t *testing.T, args ...string) result {
	t.Helper()
	return runCLI(t, t.Context(), nil, append([]string{"--database-url", b.dbURL}, args...)...)
}

// runCLI runs a command in-process, the way main does, with stdin as its input (nil: empty)
// and an environment without DATABASE_URL.
func runCLI(t *testing.T, ctx context.Context, stdin io.Reader, args ...string) result {
	t.Helper()
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	var stdout, stderr bytes.Buffer
	c := &cli{stdin: stdin, stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }}
	code := c.run(ctx, args)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// schemaExists reports whether schema stent exists in the bundle's database.
func (b *testBundle) schemaExists(t *testing.T) bool {
	t.Helper()
	var exists bool
	require.NoError(t, b.pool.QueryRow(t.Context(), "select to_regnamespace('stent') is not null").Scan(&exists))
	return exists
}

// terminal is a stdin that claims to be an interactive terminal, to play the user at a prompt.
type terminal struct{ io.Reader }

func (terminal) IsTerminal() bool { return true }

// syncBuffer is an output stream that a test reads while a command is still writing to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

package pglaunch

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// startCluster starts a cluster for one test and stops it at cleanup.
func startCluster(t *testing.T, opts Options) *Cluster {
	t.Helper()
	c, err := Start(t.Context(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Stop()) })
	return c
}

// connect opens a connection to url, closed at cleanup.
func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// show returns the value of a server setting.
func show(t *testing.T, conn *pgx.Conn, name string) string {
	t.Helper()
	var v string
	require.NoError(t, conn.QueryRow(t.Context(), "select current_setting($1)", name).Scan(&v))
	return v
}

// sharedTempDir makes a directory under os.TempDir() that the postgres system
// user can traverse when the tests run as root (t.TempDir's parent is 0700).
func sharedTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pglaunch-test-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o755))
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

func TestStartStop(t *testing.T) {
	t.Parallel()
	c, err := Start(t.Context(), Options{})
	require.NoError(t, err)
	dir := filepath.Dir(c.DataDir())

	conn, err := pgx.Connect(t.Context(), c.URL("postgres"))
	require.NoError(t, err)
	require.Equal(t, "300", show(t, conn, "max_connections"))
	require.Equal(t, "on", show(t, conn, "fsync"))
	require.Equal(t, "127.0.0.1", show(t, conn, "listen_addresses"))
	require.Equal(t, "warning", show(t, conn, "log_min_messages"))
	require.Equal(t, "pg_stat_statements", show(t, conn, "shared_preload_libraries"))
	require.Equal(t, "postgres", show(t, conn, "session_authorization"))
	require.Equal(t, strconv.Itoa(c.Port()), show(t, conn, "port"))
	require.NoError(t, conn.Close(t.Context()))

	require.FileExists(t, filepath.Join(c.DataDir(), "PG_VERSION"))
	owner, ok := readPID(filepath.Join(dir, ownerFile))
	require.True(t, ok)
	require.Equal(t, os.Getpid(), owner)
	require.Equal(t, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/app?sslmode=disable", c.Port()), c.URL("app"))

	require.NoError(t, c.Stop())
	require.NoDirExists(t, dir)
	_, err = pgx.Connect(t.Context(), c.URL("postgres"))
	require.Error(t, err)
	require.NoError(t, c.Stop(), "second Stop is a no-op")
	require.Error(t, c.Restart(t.Context(), "fast"))
}

func TestRestartKeepsData(t *testing.T) {
	t.Parallel()
	c := startCluster(t, Options{})
	port := c.Port()

	exec := func(sql string) {
		t.Helper()
		conn, err := pgx.Connect(t.Context(), c.URL("postgres"))
		require.NoError(t, err)
		defer conn.Close(t.Context())
		_, err = conn.Exec(t.Context(), sql)
		require.NoError(t, err)
	}
	count := func() int {
		t.Helper()
		conn, err := pgx.Connect(t.Context(), c.URL("postgres"))
		require.NoError(t, err)
		defer conn.Close(t.Context())
		var n int
		require.NoError(t, conn.QueryRow(t.Context(), "select count(*) from kept").Scan(&n))
		return n
	}

	exec("create table kept (id int primary key); insert into kept values (1)")
	require.NoError(t, c.Restart(t.Context(), "fast"))
	require.Equal(t, port, c.Port())
	require.Equal(t, 1, count())

	// An open session is cut by an immediate shutdown; its committed rows
	// survive crash recovery.
	held := connect(t, c.URL("postgres"))
	_, err := held.Exec(t.Context(), "insert into kept values (2)")
	require.NoError(t, err)
	require.NoError(t, c.Restart(t.Context(), "immediate"))
	require.Equal(t, 2, count())
	require.Error(t, held.Ping(t.Context()), "sessions do not survive a restart")

	require.ErrorContains(t, c.Restart(t.Context(), "sideways"), "unknown shutdown mode")
	require.Equal(t, 2, count(), "a bad mode leaves the server running")
}

// syncBuffer is a bytes.Buffer safe for the server's log writer and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestOptions(t *testing.T) {
	t.Parallel()
	port, err := freePort()
	require.NoError(t, err)
	var log syncBuffer
	dir := filepath.Join(sharedTempDir(t), "cluster")
	c, err := Start(t.Context(), Options{
		Dir:      dir,
		Port:     port,
		Settings: map[string]string{"work_mem": "7MB", "max_connections": "50"},
		Logger:   &log,
	})
	require.NoError(t, err)
	require.Equal(t, filepath.Join(dir, "data"), c.DataDir())
	require.Equal(t, port, c.Port())

	conn := connect(t, c.URL("postgres"))
	require.Equal(t, "7MB", show(t, conn, "work_mem"))
	require.Equal(t, "50", show(t, conn, "max_connections"), "Settings override the defaults")
	require.NoError(t, conn.Close(t.Context()))

	require.NoError(t, c.Stop())
	require.Contains(t, log.String(), "ready to accept connections")
	require.NoDirExists(t, dir, "Start created Dir, so Stop removes it")
}

func TestLongDirFallsBackToTCP(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(sharedTempDir(t), strings.Repeat("d", maxSocketPath))
	c := startCluster(t, Options{Dir: dir})
	conn := connect(t, c.URL("postgres"))
	require.Equal(t, "", show(t, conn, "unix_socket_directories"), "the socket path would be too long")
}

func TestReuseExistingDir(t *testing.T) {
	t.Parallel()
	dir := sharedTempDir(t)

	c, err := Start(t.Context(), Options{Dir: dir})
	require.NoError(t, err)
	conn, err := pgx.Connect(t.Context(), c.URL("postgres"))
	require.NoError(t, err)
	_, err = conn.Exec(t.Context(), "create table kept (id int)")
	require.NoError(t, err)
	require.NoError(t, conn.Close(t.Context()))
	require.NoError(t, c.Stop())
	require.FileExists(t, filepath.Join(dir, "data", "PG_VERSION"), "a Dir the caller made is kept")
	require.NoFileExists(t, filepath.Join(dir, ownerFile))

	c = startCluster(t, Options{Dir: dir})
	conn = connect(t, c.URL("postgres"))
	_, err = conn.Exec(t.Context(), "select * from kept")
	require.NoError(t, err, "the existing data directory is reused")
}

func TestPortInUse(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port

	dir := filepath.Join(sharedTempDir(t), "cluster")
	_, err = Start(t.Context(), Options{Dir: dir, Port: port})
	require.ErrorIs(t, err, errPortInUse)
	require.ErrorContains(t, err, "could not bind")
	require.NoDirExists(t, dir, "a failed Start cleans up")
}

func TestFindBinDir(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	fake := func(version string, programs ...string) string {
		dir := filepath.Join(root, version, "bin")
		require.NoError(t, os.MkdirAll(dir, 0o755))
		for _, p := range programs {
			require.NoError(t, os.WriteFile(filepath.Join(dir, p), []byte("#!/bin/sh\n"), 0o755))
		}
		return dir
	}
	fake("9.6", requiredPrograms...)
	want := fake("15", requiredPrograms...)
	fake("16", "initdb", "pg_ctl") // incomplete: no server
	noPgConfig := func() string { return "" }

	dir, err := findBinDir(noPgConfig, []string{filepath.Join(root, "*", "bin")})
	require.NoError(t, err)
	require.Equal(t, want, dir, "newest complete install wins, 15 > 9.6")

	dir, err = findBinDir(func() string { return want }, nil)
	require.NoError(t, err)
	require.Equal(t, want, dir, "pg_config --bindir is preferred")

	_, err = findBinDir(func() string { return filepath.Join(root, "16", "bin") }, []string{filepath.Join(root, "none", "*")})
	require.ErrorIs(t, err, ErrNoPostgres)
	for _, hint := range []string{"apt-get install postgresql", "brew install postgresql@15", "STENT_TEST_DATABASE_URL", "DATABASE_URL"} {
		require.True(t, strings.Contains(err.Error(), hint), "error %q lacks %q", err, hint)
	}
}

package pglaunch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// maxSocketPath is the longest unix socket path PostgreSQL accepts
// (sizeof(sun_path) - 1 on Linux; macOS is shorter still, 103).
const maxSocketPath = 103

// initdb creates the data directory, unless Dir already holds one (a reused
// Options.Dir). -N skips initdb's final fsync of the fresh files: it only
// matters for an operating-system crash during the first seconds of a
// throwaway cluster, and it halves initdb's run time. The server itself runs
// with fsync on.
func (c *Cluster) initdb(ctx context.Context) error {
	if _, err := os.Stat(filepath.Join(c.DataDir(), "PG_VERSION")); err == nil {
		return nil
	}
	cmd := c.acct.command(c.dir, filepath.Join(c.binDir, "initdb"),
		"-D", c.DataDir(),
		"-U", "postgres",
		"-A", "trust",
		"-E", "UTF8",
		"--locale=C",
		"-N",
	)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := runContext(ctx, cmd); err != nil {
		return fmt.Errorf("pglaunch: initdb in %s: %w\n%s", c.dir, err, strings.TrimSpace(out.String()))
	}
	return nil
}

// defaultSettings are the -c settings every launch uses, before
// Options.Settings are applied on top.
func (c *Cluster) defaultSettings() map[string]string {
	s := map[string]string{
		"listen_addresses":        "127.0.0.1",
		"unix_socket_directories": c.dir,
		"max_connections":         "300",
		"log_min_messages":        "warning",
	}
	// "/.s.PGSQL.65535" is 15 bytes. Past the limit postgres refuses to
	// start, so fall back to TCP only: the URL never uses the socket.
	if len(c.dir)+15 > maxSocketPath {
		s["unix_socket_directories"] = ""
	}
	if c.hasLibrary("pg_stat_statements") {
		s["shared_preload_libraries"] = "pg_stat_statements"
	}
	return s
}

// hasLibrary reports whether the server's package library directory holds the
// shared library name, so that preloading it cannot stop the server from
// starting on an installation without the contrib modules.
func (c *Cluster) hasLibrary(name string) bool {
	libDir := filepath.Join(filepath.Dir(c.binDir), "lib")
	if out, err := c.acct.command(c.dir, filepath.Join(c.binDir, "pg_config"), "--pkglibdir").Output(); err == nil {
		libDir = strings.TrimSpace(string(out))
	}
	for _, ext := range []string{".so", ".dylib"} {
		if _, err := os.Stat(filepath.Join(libDir, name+ext)); err == nil {
			return true
		}
	}
	return false
}

// runContext runs cmd, killing it if ctx ends first. exec.CommandContext is
// not used because commands are built before the context is known.
func runContext(ctx context.Context, cmd *exec.Cmd) error {
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		return errors.Join(ctx.Err(), <-done)
	}
}

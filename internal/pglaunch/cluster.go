package pglaunch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sync"
)

// Options configure Start. The zero value is ready to use.
type Options struct {
	// Dir holds the whole cluster: the data directory (Dir/data), the unix
	// socket, the default server log and the owner pid file. Default: a new
	// directory under os.TempDir(), removed by Stop. A Dir that Start did not
	// create is left in place by Stop, and if it already holds a data
	// directory Start reuses it instead of running initdb. When running as
	// root, Start hands Dir to the postgres system user.
	Dir string

	// Port is the TCP port the server listens on at 127.0.0.1. Default: a free
	// port, chosen again if another process takes it first.
	Port int

	// Settings are extra server settings, passed as -c name=value. They
	// override the defaults listed on Start.
	Settings map[string]string

	// Logger receives the server's log output. Default: the file postgres.log
	// in Dir.
	Logger io.Writer
}

// Cluster is a running throwaway PostgreSQL server started by Start. Its
// methods are safe for concurrent use.
type Cluster struct {
	binDir     string
	acct       account
	dir        string
	createdDir bool
	port       int
	settings   map[string]string
	logger     io.Writer

	mu      sync.Mutex
	pm      *postmaster // nil while stopped
	stopped bool        // Stop was called; the cluster is gone
}

// Start creates a cluster with initdb (superuser "postgres", trust
// authentication, UTF8, C locale), starts postgres and returns once it
// accepts connections, or when ctx ends (a context without a deadline gets
// one minute).
//
// Defaults, tuned for tests but durable (fsync stays on):
// listen_addresses=127.0.0.1, the unix socket in Dir, max_connections=300,
// log_min_messages=warning, and shared_preload_libraries=pg_stat_statements
// when the server has that library (CREATE EXTENSION is the caller's job).
//
// Start returns an error wrapping ErrNoPostgres when no server binaries are
// installed. A typical cold start (initdb plus startup) takes well under a
// second on a developer machine.
func Start(ctx context.Context, opts Options) (_ *Cluster, err error) {
	binDir, err := serverBinDir()
	if err != nil {
		return nil, err
	}
	acct, err := serverAccount()
	if err != nil {
		return nil, err
	}
	c := &Cluster{binDir: binDir, acct: acct, port: opts.Port, logger: opts.Logger}
	if err := c.prepareDir(opts.Dir); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			c.removeDir()
		}
	}()
	if err := writeOwner(c.dir); err != nil {
		return nil, err
	}
	if err := c.initdb(ctx); err != nil {
		return nil, err
	}
	c.settings = c.defaultSettings()
	for name, value := range opts.Settings {
		c.settings[name] = value
	}
	pm, err := c.launchOnFreePort(ctx, opts.Port == 0)
	if err != nil {
		return nil, err
	}
	c.pm = pm
	return c, nil
}

// prepareDir creates (or adopts) the cluster directory and gives it to the
// account the server runs as.
func (c *Cluster) prepareDir(dir string) error {
	if dir == "" {
		d, err := os.MkdirTemp("", "pglaunch-")
		if err != nil {
			return fmt.Errorf("pglaunch: create cluster directory: %w", err)
		}
		c.dir, c.createdDir = d, true
	} else {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return fmt.Errorf("pglaunch: resolve cluster directory %s: %w", dir, err)
		}
		if _, err := os.Stat(abs); errors.Is(err, os.ErrNotExist) {
			c.createdDir = true
		}
		if err := os.MkdirAll(abs, 0o700); err != nil {
			return fmt.Errorf("pglaunch: create cluster directory: %w", err)
		}
		c.dir = abs
	}
	return c.acct.chown(c.dir)
}

// URL returns a connection URL for database dbname as the superuser
// postgres, over TCP: postgres://postgres@127.0.0.1:PORT/dbname?sslmode=disable.
func (c *Cluster) URL(dbname string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, url.PathEscape(dbname))
}

// Port returns the TCP port the server listens on.
func (c *Cluster) Port() int { return c.port }

// DataDir returns the server's data directory (PGDATA).
func (c *Cluster) DataDir() string { return filepath.Join(c.dir, "data") }

// Stop shuts the server down the way `pg_ctl stop -m fast` does (open
// sessions are disconnected, a shutdown checkpoint is written) and removes
// Dir if Start created it. Calling Stop again is a no-op.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return nil
	}
	c.stopped = true
	var err error
	if c.pm != nil {
		err = c.pm.shutdown("fast")
		c.pm = nil
	}
	if rmErr := c.removeDir(); rmErr != nil {
		err = errors.Join(err, rmErr)
	}
	return err
}

// Restart stops the server with the given pg_ctl shutdown mode and starts it
// again on the same port and data directory. Mode "fast" is a clean shutdown;
// "immediate" aborts every process like a crash, so the restart runs crash
// recovery, which is what chaos tests want. Committed data survives both.
func (c *Cluster) Restart(ctx context.Context, mode string) error {
	if _, err := shutdownSignal(mode); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return errors.New("pglaunch: restart of a stopped cluster")
	}
	if c.pm != nil {
		pm := c.pm
		c.pm = nil
		if err := pm.shutdown(mode); err != nil {
			return fmt.Errorf("pglaunch: restart: %w", err)
		}
	}
	pm, err := c.launch(ctx)
	if err != nil {
		return fmt.Errorf("pglaunch: restart: %w", err)
	}
	c.pm = pm
	return nil
}

// removeDir deletes the cluster directory if Start created it, and otherwise
// only the owner file, so that CleanupStale leaves the directory alone.
func (c *Cluster) removeDir() error {
	var err error
	if c.createdDir {
		err = os.RemoveAll(c.dir)
	} else {
		err = os.Remove(filepath.Join(c.dir, ownerFile))
		if errors.Is(err, os.ErrNotExist) {
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("pglaunch: remove cluster directory: %w", err)
	}
	return nil
}

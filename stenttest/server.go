package stenttest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stentdev/stent/internal/pglaunch"
)

// EnvDatabaseURL names the environment variable that points stenttest at an
// existing server instead of starting a cluster. Its user must be allowed to
// create databases; stenttest creates and drops databases named
// stent_template_* and stent_test_* there.
const EnvDatabaseURL = "STENT_TEST_DATABASE_URL"

// setupTimeout bounds starting the cluster and migrating the template.
const setupTimeout = 2 * time.Minute

// server is the PostgreSQL server of this test binary and its template.
type server struct {
	adminURL   string            // a database to run CREATE/DROP DATABASE from
	cluster    *pglaunch.Cluster // nil on an EnvDatabaseURL server
	clusterDir string
	template   string // name of the migrated template database

	cloneMu sync.Mutex // PostgreSQL refuses to clone a template in use
}

var (
	serverMu   sync.Mutex
	theServer  *server
	setupError error
	setupDone  bool
)

// clustersRoot holds the clusters of all test binaries on this machine, so
// that each start can remove the ones abandoned by dead binaries.
func clustersRoot() string { return filepath.Join(os.TempDir(), "stenttest-clusters") }

// getServer returns the binary's server, starting it and migrating the
// template on first use. A setup failure is remembered and reported to every
// later caller rather than retried.
func getServer(t testing.TB) *server {
	t.Helper()
	serverMu.Lock()
	defer serverMu.Unlock()
	if !setupDone {
		setupDone = true
		theServer, setupError = setup()
	}
	if setupError != nil {
		t.Fatalf("stenttest: %v", setupError)
	}
	return theServer
}

// setup connects to EnvDatabaseURL or starts a cluster, then builds the
// template database.
func setup() (*server, error) {
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	s := &server{}
	if url := os.Getenv(EnvDatabaseURL); url != "" {
		s.adminURL = url
	} else if err := s.startCluster(ctx); err != nil {
		return nil, err
	}
	if err := s.createTemplate(ctx); err != nil {
		return nil, errors.Join(err, s.shutdown())
	}
	return s, nil
}

// startCluster starts this binary's cluster under clustersRoot, after
// removing clusters abandoned there by earlier binaries.
func (s *server) startCluster(ctx context.Context) error {
	root := clustersRoot()
	if err := os.Mkdir(root, 0o755); err == nil {
		// World-writable and sticky like /tmp: every user's test binaries
		// share it, and the postgres system user must traverse it.
		_ = os.Chmod(root, os.ModeSticky|0o777)
	} else if !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("create %s: %w", root, err)
	}
	pglaunch.CleanupStale(root)
	dir, err := os.MkdirTemp(root, "cluster-")
	if err != nil {
		return fmt.Errorf("create cluster directory: %w", err)
	}
	c, err := pglaunch.Start(ctx, pglaunch.Options{Dir: dir})
	if err != nil {
		_ = os.RemoveAll(dir)
		return fmt.Errorf("start PostgreSQL (or set %s to use a running server): %w", EnvDatabaseURL, err)
	}
	s.cluster, s.clusterDir, s.adminURL = c, dir, c.URL("postgres")
	return nil
}

// shutdown drops the template on a shared server, or stops and deletes the
// cluster.
func (s *server) shutdown() error {
	if s.cluster == nil {
		if s.template == "" {
			return nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		return s.dropDatabase(ctx, s.template)
	}
	err := s.cluster.Stop()
	if rmErr := os.RemoveAll(s.clusterDir); rmErr != nil {
		err = errors.Join(err, rmErr)
	}
	return err
}

// Run runs the tests, then stops the cluster (or, on an EnvDatabaseURL
// server, drops the template database) and returns the exit code for
// os.Exit. Use it when TestMain does more than Main, for example:
//
//	func TestMain(m *testing.M) {
//		code := stenttest.Run(m)
//		if code == 0 {
//			if err := goleak.Find(); err != nil { fmt.Println(err); code = 1 }
//		}
//		os.Exit(code)
//	}
func Run(m *testing.M) int {
	code := m.Run()
	serverMu.Lock()
	defer serverMu.Unlock()
	if theServer != nil {
		if err := theServer.shutdown(); err != nil {
			fmt.Fprintln(os.Stderr, "stenttest: stopping the test server:", err)
			if code == 0 {
				code = 1
			}
		}
	}
	theServer, setupDone = nil, true
	setupError = errors.New("the test server was stopped by stenttest.Run")
	return code
}

// Main runs the tests, stops the test server and exits. Call it from
// TestMain: func TestMain(m *testing.M) { stenttest.Main(m) }.
func Main(m *testing.M) {
	os.Exit(Run(m))
}

// Package pglaunch starts throwaway PostgreSQL clusters from the server
// binaries installed on the local machine (initdb, pg_ctl, postgres).
//
// It exists so that Stent's tests, and the tests of programs that use Stent,
// run against a real PostgreSQL without Docker or a shared server: Start runs
// initdb into a fresh directory, launches postgres on a free port of 127.0.0.1
// with trust authentication, and waits until it accepts connections.
//
// The clusters are tuned for tests but stay durable (fsync is on), so crash
// tests that restart the server with Restart(ctx, "immediate") observe the
// same recovery behaviour as production.
//
// initdb and postgres refuse to run as root. When the calling process is root
// (CI containers), every PostgreSQL program is run as the unprivileged
// "postgres" system user, which owns the cluster directory.
//
// A cluster directory records its owning process in a file named
// stent-owner.pid. When a test binary dies without stopping its cluster (a
// crash, SIGKILL, a test timeout), CleanupStale finds and removes the cluster
// on the next run.
package pglaunch

// Package stenttest provides test helpers for Stent and for programs that use
// it: a real, throwaway PostgreSQL per test binary, a fresh migrated database
// per test, and a fake clock that Stent's SQL obeys.
//
// Databases come from one cluster per test binary, started on first use from
// the local PostgreSQL binaries (see internal/pglaunch), or from the server
// named by STENT_TEST_DATABASE_URL when it is set. A template database is
// migrated once with stent.Migrate, and every DB or Pool call clones it, so
// tests are isolated from each other and can run with t.Parallel.
//
// Call Main from TestMain so that the cluster is stopped when the tests end:
//
//	func TestMain(m *testing.M) { stenttest.Main(m) }
//
// A cluster left running by a binary that did not stop it (no TestMain, a
// crash, a test timeout) is removed by the next test binary that starts one.
//
// Time-dependent behaviour is tested with a Clock instead of sleeps:
//
//	clock := stenttest.NewClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
//	pool := stenttest.Pool(t, stenttest.WithClock(clock))
//	clock.Advance(25 * time.Hour) // every connection's stent.current_time() moves
package stenttest

package stenttest

import (
	"context"
	"strings"
	"testing"
	"time"
)

// dbTimeout bounds creating or dropping one test database.
const dbTimeout = time.Minute

// DB creates a database for this test, cloned from the migrated template
// (about as fast as CREATE DATABASE gets: tens of milliseconds), and returns
// its connection URL. The database is dropped when the test ends, with
// FORCE, so sessions still open then do not keep it alive.
func DB(t testing.TB) string {
	t.Helper()
	s := getServer(t)
	name := databaseName(t.Name())
	ctx, cancel := context.WithTimeout(t.Context(), dbTimeout)
	defer cancel()
	if err := s.clone(ctx, name); err != nil {
		t.Fatalf("stenttest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), dbTimeout)
		defer cancel()
		if err := s.dropDatabase(ctx, name); err != nil {
			t.Errorf("stenttest: %v", err)
		}
	})
	return databaseURL(s.adminURL, name)
}

// databaseName builds a unique database name that still says which test it
// belongs to, within PostgreSQL's 63-byte identifier limit:
// stent_test_<test name, lower case, up to 32 bytes>_<8 hex digits>.
func databaseName(testName string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(testName) {
		if b.Len() == 32 {
			break
		}
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return "stent_test_" + b.String() + "_" + randomSuffix()
}

package stent_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/stenttest"
)

// ternVersion is the tern release whose CLI must produce the same database as stent.Migrate.
const ternVersion = "v2.3.4"

// TestMigrateTernCLIMatchesMigrate checks the documented way to migrate without Go (the tern
// CLI, see sql/functions/install.sql) against stent.Migrate: from an empty database each,
// both must leave the same catalog and the same version row.
func TestMigrateTernCLIMatchesMigrate(t *testing.T) {
	t.Parallel()
	tern := ternBinary(t)
	viaTern, viaGo := emptyDB(t), emptyDB(t)

	runProgram(t, tern, "migrate", "--migrations", "../sql/schema",
		"--version-table", stent.VersionTable, "--conn-string", viaTern)
	runProgram(t, tern, "code", "install", "../sql/functions", "--conn-string", viaTern)
	require.NoError(t, stent.Migrate(t.Context(), stenttest.Pool(t, stenttest.WithURL(viaGo))))

	want := catalogDump(t, viaGo)
	require.Contains(t, want, "CREATE TABLE stent.tasks (", "the dump holds the tables")
	require.Contains(t, want, "CREATE FUNCTION stent.claim_tasks(", "the dump holds the functions")
	require.Equal(t, want, catalogDump(t, viaTern))

	st, err := stent.GetMigrationStatus(t.Context(), stenttest.Pool(t, stenttest.WithURL(viaTern)))
	require.NoError(t, err)
	require.Equal(t, stent.MigrationStatus{Version: stent.SchemaVersion, Expected: stent.SchemaVersion, CodeVersion: stent.CodeVersion}, st)
}

// TestMigrateConcurrently starts several processes' worth of stent.Migrate on one empty
// database at once, as a fleet of workers deploying together would: tern's advisory lock must
// serialize them into one migration.
func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	const processes = 5
	dbURL := emptyDB(t)
	pools := make([]*pgxpool.Pool, processes)
	for i := range pools {
		pools[i] = stenttest.Pool(t, stenttest.WithURL(dbURL), stenttest.WithMaxConns(1))
	}

	start := make(chan struct{})
	errs := make([]error, processes)
	var wg sync.WaitGroup
	for i, pool := range pools {
		wg.Go(func() {
			<-start
			errs[i] = stent.Migrate(t.Context(), pool)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "migration %d", i)
	}

	pool := pools[0]
	require.NoError(t, stent.CheckSchema(t.Context(), pool))
	require.Equal(t, []int32{stent.SchemaVersion}, versionRows(t, pool), "one version row")
	var codeVersion, copies int
	require.NoError(t, pool.QueryRow(t.Context(), `select stent.code_version(),
		(select count(*) from pg_proc where pronamespace = 'stent'::regnamespace and proname = 'code_version')`).
		Scan(&codeVersion, &copies))
	require.Equal(t, stent.CodeVersion, codeVersion)
	require.Equal(t, 1, copies)
	// stenttest's template was migrated once, by one process.
	require.Equal(t, catalogDump(t, stenttest.DB(t)), catalogDump(t, dbURL))
}

// TestMigrateDownAndUp removes Stent with MigrateTo(0) and brings it back with Migrate,
// checking what GetMigrationStatus and CheckSchema report on the way.
func TestMigrateDownAndUp(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := stenttest.Pool(t)
	current := stent.MigrationStatus{Version: stent.SchemaVersion, Expected: stent.SchemaVersion, CodeVersion: stent.CodeVersion}

	st, err := stent.GetMigrationStatus(ctx, pool)
	require.NoError(t, err)
	require.Equal(t, current, st)
	require.True(t, st.Current())
	require.NoError(t, stent.CheckSchema(ctx, pool))

	require.NoError(t, stent.MigrateTo(ctx, pool, 0))
	require.False(t, schemaExists(t, pool), "schema stent is dropped")
	require.Equal(t, []int32{0}, versionRows(t, pool), "the version table stays, at 0")
	st, err = stent.GetMigrationStatus(ctx, pool)
	require.NoError(t, err)
	require.Equal(t, stent.MigrationStatus{Version: 0, Expected: stent.SchemaVersion, CodeVersion: 0}, st)
	require.False(t, st.Current())

	err = stent.CheckSchema(ctx, pool)
	var sve *stent.SchemaVersionError
	require.ErrorAs(t, err, &sve)
	require.Equal(t, stent.SchemaVersionError{Have: 0, Want: stent.SchemaVersion, HaveCode: 0, WantCode: stent.CodeVersion}, *sve)
	require.Contains(t, err.Error(), "at version 0")
	require.Contains(t, err.Error(), fmt.Sprintf("expects version %d", stent.SchemaVersion))
	require.Contains(t, err.Error(), "stent migrate up")

	require.NoError(t, stent.Migrate(ctx, pool))
	require.True(t, schemaExists(t, pool))
	require.Equal(t, []int32{stent.SchemaVersion}, versionRows(t, pool))
	require.NoError(t, stent.CheckSchema(ctx, pool))
	require.NoError(t, stent.Migrate(ctx, pool), "migrating an up-to-date database is a no-op")
	st, err = stent.GetMigrationStatus(ctx, pool)
	require.NoError(t, err)
	require.Equal(t, current, st)
	require.Equal(t, catalogDump(t, stenttest.DB(t)), catalogDump(t, pool.Config().ConnString()))

	for _, v := range []int32{-1, stent.SchemaVersion + 1} {
		var iae *stent.InvalidArgumentError
		require.ErrorAs(t, stent.MigrateTo(ctx, pool, v), &iae, "version %d", v)
	}
	require.Equal(t, []int32{stent.SchemaVersion}, versionRows(t, pool), "a rejected version changes nothing")
}

// TestMigrateBesideApplicationTern checks that Stent's version table is its own: an
// application that migrates the same database with tern's default table keeps its version.
func TestMigrateBesideApplicationTern(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := stenttest.Pool(t, stenttest.WithURL(emptyDB(t)))
	_, err := pool.Exec(ctx, `create table public.schema_version (version int4 not null);
		insert into public.schema_version values (7)`)
	require.NoError(t, err)

	st, err := stent.GetMigrationStatus(ctx, pool)
	require.NoError(t, err)
	require.Equal(t, stent.MigrationStatus{Version: 0, Expected: stent.SchemaVersion}, st, "Stent is absent")

	require.NoError(t, stent.Migrate(ctx, pool))
	require.NoError(t, stent.CheckSchema(ctx, pool))
	var appVersion int32
	require.NoError(t, pool.QueryRow(ctx, "select version from public.schema_version").Scan(&appVersion))
	require.EqualValues(t, 7, appVersion)
}

// emptyDB creates a database without Stent (stenttest's databases are already migrated) on
// the test server, dropped at cleanup, and returns its URL.
func emptyDB(t *testing.T) string {
	t.Helper()
	base := stenttest.DB(t) // dropped after this one: cleanups run last-in first-out
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := "stent_empty_" + hex.EncodeToString(b[:])
	admin := func(ctx context.Context, sql string) error {
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		_, err = conn.Exec(ctx, sql)
		return err
	}
	// template0 is pristine and never has sessions, so parallel creations cannot collide.
	require.NoError(t, admin(t.Context(), "create database "+name+" template template0"))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		require.NoError(t, admin(ctx, "drop database if exists "+name+" with (force)"))
	})
	return withDatabase(base, name)
}

// withDatabase returns dbURL (a URL or a keyword/value string) naming database name instead.
func withDatabase(dbURL, name string) string {
	if u, err := url.Parse(dbURL); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		u.Path, u.RawPath = "/"+name, ""
		return u.String()
	}
	return dbURL + " dbname=" + name
}

func schemaExists(t *testing.T, pool *pgxpool.Pool) bool {
	t.Helper()
	var exists bool
	require.NoError(t, pool.QueryRow(t.Context(), "select to_regnamespace('stent') is not null").Scan(&exists))
	return exists
}

// versionRows returns the rows of Stent's version table (tern keeps exactly one).
func versionRows(t *testing.T, pool *pgxpool.Pool) []int32 {
	t.Helper()
	rows, err := pool.Query(t.Context(), "select version from "+stent.VersionTable)
	require.NoError(t, err)
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	require.NoError(t, err)
	return versions
}

// catalogDump returns pg_dump's definition of schema stent followed by the version table and
// its row, without the lines that differ between any two dumps (versions, random keys).
func catalogDump(t *testing.T, dbURL string) string {
	t.Helper()
	pgDump := pgDumpBinary(t)
	dump := runProgram(t, pgDump, "--schema-only", "--schema=stent", "--no-owner", dbURL) +
		runProgram(t, pgDump, "--table="+stent.VersionTable, "--no-owner", dbURL)
	var kept []string
	for _, line := range strings.Split(dump, "\n") {
		if strings.HasPrefix(line, `\restrict `) || strings.HasPrefix(line, `\unrestrict `) ||
			strings.HasPrefix(line, "-- Dumped ") {
			continue
		}
		kept = append(kept, line)
	}
	return strings.Join(kept, "\n")
}

// runProgram runs a program to completion and returns its standard output.
func runProgram(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), name, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "%s %s\n%s", filepath.Base(name), args[0], stderr.String())
	return string(out)
}

// pgDumpBinary finds pg_dump the way stenttest finds the server: pg_config --bindir, then the
// newest Debian install, then PATH.
func pgDumpBinary(t *testing.T) string {
	t.Helper()
	var dirs []string
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dirs = append(dirs, strings.TrimSpace(string(out)))
	}
	debian, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(debian, func(i, j int) bool { return pgMajorOf(debian[i]) > pgMajorOf(debian[j]) })
	for _, dir := range append(dirs, debian...) {
		if fi, err := os.Stat(filepath.Join(dir, "pg_dump")); err == nil && fi.Mode().IsRegular() {
			return filepath.Join(dir, "pg_dump")
		}
	}
	p, err := exec.LookPath("pg_dump")
	require.NoError(t, err, "pg_dump is needed to compare catalogs (Debian: apt-get install postgresql-client)")
	return p
}

func pgMajorOf(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

var ternCLI struct {
	once sync.Once
	path string
	err  error
}

// ternBinary returns a tern CLI of ternVersion: on PATH, in $(go env GOPATH)/bin, or else
// installed once per machine into a cache directory under the system temp dir.
func ternBinary(t *testing.T) string {
	t.Helper()
	ternCLI.once.Do(func() { ternCLI.path, ternCLI.err = findTern() })
	require.NoError(t, ternCLI.err)
	return ternCLI.path
}

func findTern() (string, error) {
	var candidates []string
	if p, err := exec.LookPath("tern"); err == nil {
		candidates = append(candidates, p)
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
			candidates = append(candidates, filepath.Join(dir, "bin", "tern"))
		}
	}
	cache := filepath.Join(os.TempDir(), "stent-tern-"+ternVersion)
	candidates = append(candidates, filepath.Join(cache, "tern"))
	for _, p := range candidates {
		if out, err := exec.Command(p, "version").Output(); err == nil && strings.TrimSpace(string(out)) == "tern "+ternVersion {
			return p, nil
		}
	}
	cmd := exec.Command("go", "install", "github.com/jackc/tern/v2@"+ternVersion)
	cmd.Dir = os.TempDir() // outside this module: pkg@version needs no go.mod
	cmd.Env = append(os.Environ(), "GOBIN="+cache)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("installing tern %s: %w\n%s", ternVersion, err, out)
	}
	return filepath.Join(cache, "tern"), nil
}

package stenttest

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// connect opens a connection to url, closed at cleanup.
func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// databaseExists reports whether the test server has database name.
func databaseExists(t *testing.T, name string) bool {
	t.Helper()
	conn := connect(t, getServer(t).adminURL)
	var exists bool
	require.NoError(t, conn.QueryRow(t.Context(),
		"select exists (select from pg_database where datname = $1)", name).Scan(&exists))
	return exists
}

// testIsolation is the body of two parallel tests that create the same table
// in their own databases; sharing a database would make one of them fail.
func testIsolation(t *testing.T) {
	t.Parallel()
	conn := connect(t, DB(t))
	_, err := conn.Exec(t.Context(), "create table isolated (owner text primary key)")
	require.NoError(t, err)
	_, err = conn.Exec(t.Context(), "insert into isolated values ($1)", t.Name())
	require.NoError(t, err)
	var owners []string
	rows, err := conn.Query(t.Context(), "select owner from isolated")
	require.NoError(t, err)
	owners, err = pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Equal(t, []string{t.Name()}, owners)
}

func TestDBIsolationA(t *testing.T) { testIsolation(t) }
func TestDBIsolationB(t *testing.T) { testIsolation(t) }

func TestDBIsMigratedClone(t *testing.T) {
	t.Parallel()
	conn := connect(t, DB(t))
	var versionTable, dbName string
	require.NoError(t, conn.QueryRow(t.Context(),
		"select coalesce(to_regclass('public.stent_schema_version')::text, ''), current_database()").
		Scan(&versionTable, &dbName))
	require.NotEmpty(t, versionTable, "the template was migrated by stent.Migrate")
	require.True(t, strings.HasPrefix(dbName, "stent_test_testdbismigratedclone_"), dbName)

	if getServer(t).cluster != nil {
		var ext bool
		require.NoError(t, conn.QueryRow(t.Context(),
			"select exists (select from pg_extension where extname = 'pg_stat_statements')").Scan(&ext))
		require.True(t, ext, "pg_stat_statements is created in the template")
	}
}

func TestDBDroppedAtCleanup(t *testing.T) {
	t.Parallel()
	var name string
	var held *pgx.Conn
	t.Run("inner", func(t *testing.T) {
		url := DB(t)
		var err error
		// Left open on purpose: the drop must force it out.
		held, err = pgx.Connect(t.Context(), url)
		require.NoError(t, err)
		require.NoError(t, held.QueryRow(t.Context(), "select current_database()").Scan(&name))
		require.True(t, databaseExists(t, name))
	})
	defer held.Close(context.Background())
	require.NotEmpty(t, name)
	require.False(t, databaseExists(t, name), "the database is dropped when its test ends")
	require.Error(t, held.Ping(t.Context()), "sessions are terminated by DROP ... WITH (FORCE)")
}

func TestPoolOptions(t *testing.T) {
	t.Parallel()
	url := DB(t)
	pool := Pool(t, WithURL(url), WithMaxConns(3))
	require.EqualValues(t, 3, pool.Config().MaxConns)
	var a, b string
	require.NoError(t, pool.QueryRow(t.Context(), "select current_database()").Scan(&a))
	require.NoError(t, connect(t, url).QueryRow(t.Context(), "select current_database()").Scan(&b))
	require.Equal(t, b, a, "WithURL uses the given database")

	other := Pool(t)
	require.NoError(t, other.QueryRow(t.Context(), "select current_database()").Scan(&b))
	require.NotEqual(t, a, b, "without WithURL each pool gets a fresh database")
}

func TestDatabaseURL(t *testing.T) {
	t.Parallel()
	require.Equal(t, "postgres://u:p@h:5/other?sslmode=disable",
		databaseURL("postgres://u:p@h:5/postgres?sslmode=disable", "other"))
	require.Equal(t, "postgresql://h/other", databaseURL("postgresql://h", "other"))
	require.Equal(t, "host=h dbname=postgres dbname=other", databaseURL("host=h dbname=postgres", "other"))

	name := databaseName("TestSomething/with spaces and a very long subtest name indeed")
	require.LessOrEqual(t, len(name), 63)
	require.Regexp(t, `^stent_test_testsomething_with_spaces_and_a__[0-9a-f]{8}$`, name)
}

// BenchmarkDB measures what each test pays for its database: a clone of
// the template and its drop.
func BenchmarkDB(b *testing.B) {
	s := getServer(b)
	for b.Loop() {
		name := databaseName(b.Name())
		require.NoError(b, s.clone(b.Context(), name))
		require.NoError(b, s.dropDatabase(b.Context(), name))
	}
}

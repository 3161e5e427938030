package stent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/tern/v2/migrate"

	"github.com/stentdev/stent/internal/store"
	stentsql "github.com/stentdev/stent/sql"
)

// VersionTable is the table in which Stent records its migration version. It is not tern's
// default (public.schema_version), so Stent can share a database with an application that uses
// tern for its own migrations. Pass it to the tern CLI with --version-table.
const VersionTable = "public.stent_schema_version"

// SchemaVersion is the migration version this build of Stent expects.
var SchemaVersion = func() int32 {
	names, err := migrate.FindMigrations(schemaFS())
	if err != nil {
		panic(fmt.Sprintf("stent: embedded migrations: %v", err))
	}
	return int32(len(names))
}()

// CodeVersion is the version of the PL/pgSQL function package this build expects
// (stent.code_version() in the database).
const CodeVersion = 6

func schemaFS() fs.FS {
	sub, err := fs.Sub(stentsql.Schema, "schema")
	if err != nil {
		panic(err)
	}
	return sub
}

func functionsFS() fs.FS {
	sub, err := fs.Sub(stentsql.Functions, "functions")
	if err != nil {
		panic(err)
	}
	return sub
}

// Migrate brings the database to the schema this build expects: it applies the embedded
// migrations, then installs the PL/pgSQL functions, both under tern's advisory lock, so
// processes starting together migrate once, one after the other.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	return MigrateTo(ctx, pool, SchemaVersion)
}

// MigrateTo migrates up or down to version (0 removes Stent entirely). The functions are
// installed whenever the result is the latest version.
func MigrateTo(ctx context.Context, pool *pgxpool.Pool, version int32) error {
	if version < 0 || version > SchemaVersion {
		return &InvalidArgumentError{Arg: "version", Reason: fmt.Sprintf("must be between 0 and %d, got %d", SchemaVersion, version)}
	}
	return withMigrator(ctx, pool, func(conn *pgx.Conn, m *migrate.Migrator) error {
		if err := m.MigrateTo(ctx, version); err != nil {
			return fmt.Errorf("stent: migrating to version %d: %w", version, err)
		}
		if version != SchemaVersion {
			return nil
		}
		pkg, err := migrate.LoadCodePackage(functionsFS())
		if err != nil {
			return fmt.Errorf("stent: loading functions: %w", err)
		}
		if err := migrate.InstallCodePackage(ctx, conn, nil, pkg); err != nil {
			return fmt.Errorf("stent: installing functions: %w", err)
		}
		return nil
	})
}

// MigrationStatus reports the database's migration version and the installed function
// package version (0 when absent).
type MigrationStatus struct {
	Version     int32 // applied migration version
	Expected    int32 // SchemaVersion of this build
	CodeVersion int32 // stent.code_version(), 0 when the functions are not installed
}

// Current reports whether the database is exactly at the version this build expects.
func (s MigrationStatus) Current() bool {
	return s.Version == s.Expected && s.CodeVersion == CodeVersion
}

// GetMigrationStatus reads the schema version of the database.
func GetMigrationStatus(ctx context.Context, pool *pgxpool.Pool) (MigrationStatus, error) {
	st := MigrationStatus{Expected: SchemaVersion}
	// Creating a tern migrator creates its version table; a status check must not write.
	exists, err := store.New(pool).RelationExists(ctx, VersionTable)
	if err != nil || !exists {
		return st, err
	}
	err = withMigrator(ctx, pool, func(conn *pgx.Conn, m *migrate.Migrator) error {
		v, err := m.GetCurrentVersion(ctx)
		if err != nil {
			return fmt.Errorf("stent: reading schema version: %w", err)
		}
		st.Version = v
		return nil
	})
	if err != nil {
		return st, err
	}
	if st.Version > 0 {
		cv, err := store.New(pool).CodeVersion(ctx)
		if err != nil && !errors.Is(err, ErrSchemaMissing) {
			return st, err
		}
		st.CodeVersion = cv
	}
	return st, nil
}

// CheckSchema returns a *SchemaVersionError when the database's schema is older (or newer)
// than this build expects, naming both versions and the command that fixes it.
func CheckSchema(ctx context.Context, pool *pgxpool.Pool) error {
	st, err := GetMigrationStatus(ctx, pool)
	if err != nil {
		return err
	}
	if !st.Current() {
		return &SchemaVersionError{Have: st.Version, Want: st.Expected, HaveCode: st.CodeVersion, WantCode: CodeVersion}
	}
	return nil
}

func withMigrator(ctx context.Context, pool *pgxpool.Pool, fn func(*pgx.Conn, *migrate.Migrator) error) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("stent: acquiring a connection for migrations: %w", err)
	}
	defer conn.Release()
	m, err := migrate.NewMigrator(ctx, conn.Conn(), VersionTable)
	if err != nil {
		return fmt.Errorf("stent: preparing migrator: %w", err)
	}
	if err := m.LoadMigrations(schemaFS()); err != nil {
		return fmt.Errorf("stent: loading migrations: %w", err)
	}
	return fn(conn.Conn(), m)
}

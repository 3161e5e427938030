package stenttest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stentdev/stent/stent"
)

// createTemplate creates the template database and migrates it once, so that
// each test only pays for a clone.
func (s *server) createTemplate(ctx context.Context) error {
	name := "stent_template_" + randomSuffix()
	if err := s.admin(ctx, "create database "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("create template database: %w", err)
	}
	s.template = name
	if err := migrateTemplate(ctx, databaseURL(s.adminURL, name)); err != nil {
		return fmt.Errorf("migrate template database %s: %w", name, err)
	}
	return nil
}

// migrateTemplate runs stent.Migrate on the template. The pool is closed
// before returning: a template with open sessions cannot be cloned.
func migrateTemplate(ctx context.Context, url string) error {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return err
	}
	cfg.MaxConns = 2
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	// Best effort: a server without the contrib modules lacks it, and
	// nothing in Stent requires it.
	_, _ = pool.Exec(ctx, "create extension if not exists pg_stat_statements")
	return stent.Migrate(ctx, pool)
}

// clone creates database name as a copy of the template.
func (s *server) clone(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, s.adminURL)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", redact(s.adminURL), err)
	}
	defer conn.Close(context.Background())
	s.cloneMu.Lock()
	defer s.cloneMu.Unlock()
	_, err = conn.Exec(ctx, fmt.Sprintf("create database %s template %s",
		pgx.Identifier{name}.Sanitize(), pgx.Identifier{s.template}.Sanitize()))
	if err != nil {
		return fmt.Errorf("clone template %s: %w", s.template, err)
	}
	return nil
}

// dropDatabase drops database name, disconnecting its sessions first.
func (s *server) dropDatabase(ctx context.Context, name string) error {
	err := s.admin(ctx, "drop database if exists "+pgx.Identifier{name}.Sanitize()+" with (force)")
	if err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

// admin runs one statement on the admin database over a short-lived
// connection, which leaves no pool goroutines behind between tests.
func (s *server) admin(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, s.adminURL)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", redact(s.adminURL), err)
	}
	_, err = conn.Exec(ctx, sql)
	return errors.Join(err, conn.Close(context.Background()))
}

// databaseURL returns base with its database replaced by name. base is a
// postgres:// URL or a keyword/value connection string.
func databaseURL(base, name string) string {
	if u, err := url.Parse(base); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		u.Path, u.RawPath = "/"+name, ""
		return u.String()
	}
	// In keyword/value form a later keyword overrides an earlier one.
	return strings.TrimSpace(base) + " dbname=" + name
}

// redact removes the password from a URL for error messages.
func redact(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		return u.Redacted()
	}
	return "the test server"
}

// randomSuffix returns 8 random hex digits for database names.
func randomSuffix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

package main

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/stentdev/stent/stent"
)

// migrateCommand is the migrate group: up, down and status, all through the migrations and
// functions embedded in this binary (the same as stent.Migrate in a Go program).
func (c *cli) migrateCommand() *cobra.Command {
	cmd := groupCommand(&cobra.Command{
		Use:   "migrate",
		Short: "Apply, revert or inspect Stent's schema migrations",
		Long: fmt.Sprintf(`Apply, revert or inspect Stent's schema migrations.

Stent keeps its tables and functions in schema stent and records its migration version in
%s, apart from any version table of the application.`, stent.VersionTable),
	})
	cmd.AddCommand(c.migrateUpCommand(), c.migrateDownCommand(), c.migrateStatusCommand())
	return cmd
}

// migrationResult is what migrate up and migrate down report.
type migrationResult struct {
	PreviousVersion int32 `json:"previous_version"`
	Version         int32 `json:"version"`
	CodeVersion     int32 `json:"code_version"`
}

func (c *cli) migrateUpCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "up",
		Short: "Migrate to the latest schema and install the functions",
		Long: `Migrate to the latest schema version and (re)install Stent's PL/pgSQL functions.

Safe to run at any time and from several processes at once: migrations take an advisory lock
and run one after the other.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			pool, err := c.connect(ctx)
			if err != nil {
				return err
			}
			defer pool.Close()
			before, err := stent.GetMigrationStatus(ctx, pool)
			if err != nil {
				return err
			}
			if err := stent.Migrate(ctx, pool); err != nil {
				return err
			}
			after, err := stent.GetMigrationStatus(ctx, pool)
			if err != nil {
				return err
			}
			res := migrationResult{PreviousVersion: before.Version, Version: after.Version, CodeVersion: after.CodeVersion}
			return c.print(res, func() error {
				if before.Version == after.Version {
					_, err := fmt.Fprintf(c.stdout, "Schema already at version %d; functions version %d installed.\n",
						after.Version, after.CodeVersion)
					return err
				}
				_, err := fmt.Fprintf(c.stdout, "Migrated up from version %d to %d; functions version %d installed.\n",
					before.Version, after.Version, after.CodeVersion)
				return err
			})
		},
	}
}

func (c *cli) migrateDownCommand() *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "down <version>",
		Short: "Migrate down to an older schema version (0 removes Stent)",
		Long: `Migrate down to an older schema version. Each migration reverted drops what it created,
with its data; version 0 drops schema stent entirely.

Asks for confirmation on a terminal; without a terminal it refuses unless --yes is given.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if err := cobra.ExactArgs(1)(cmd, args); err != nil {
				return err
			}
			if _, err := parseVersion(args[0]); err != nil {
				return err
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			target, _ := parseVersion(args[0])
			if target > stent.SchemaVersion {
				return fmt.Errorf("version %d does not exist: this build knows versions 0 to %d", target, stent.SchemaVersion)
			}
			pool, err := c.connect(ctx)
			if err != nil {
				return err
			}
			defer pool.Close()
			before, err := stent.GetMigrationStatus(ctx, pool)
			if err != nil {
				return err
			}
			switch {
			case before.Version < target:
				return fmt.Errorf("the schema is at version %d, below %d: use `stent migrate up` to go up", before.Version, target)
			case before.Version > target && !yes:
				question := fmt.Sprintf("Migrate schema stent down from version %d to %d? This drops what those migrations created, data included%s.",
					before.Version, target, map[bool]string{true: " (at version 0, all of schema stent)"}[target == 0])
				if err := c.confirm(ctx, question); err != nil {
					return err
				}
			}
			if before.Version > target {
				if err := stent.MigrateTo(ctx, pool, target); err != nil {
					return err
				}
			}
			after, err := stent.GetMigrationStatus(ctx, pool)
			if err != nil {
				return err
			}
			res := migrationResult{PreviousVersion: before.Version, Version: after.Version, CodeVersion: after.CodeVersion}
			return c.print(res, func() error {
				if before.Version == after.Version {
					_, err := fmt.Fprintf(c.stdout, "Schema already at version %d; nothing to do.\n", after.Version)
					return err
				}
				_, err := fmt.Fprintf(c.stdout, "Migrated down from version %d to %d.\n", before.Version, after.Version)
				return err
			})
		},
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

// parseVersion parses a migration version argument.
func parseVersion(s string) (int32, error) {
	v, err := strconv.ParseInt(s, 10, 32)
	if err != nil || v < 0 {
		return 0, usageErrorf("version must be a whole number from 0, got %q", s)
	}
	return int32(v), nil
}

// migrationStatus is what migrate status reports.
type migrationStatus struct {
	Version             int32 `json:"version"`
	ExpectedVersion     int32 `json:"expected_version"`
	CodeVersion         int32 `json:"code_version"`
	ExpectedCodeVersion int32 `json:"expected_code_version"`
	UpToDate            bool  `json:"up_to_date"`
}

func (c *cli) migrateStatusCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the database's schema version and the one this build expects",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			pool, err := c.connect(ctx)
			if err != nil {
				return err
			}
			defer pool.Close()
			st, err := stent.GetMigrationStatus(ctx, pool)
			if err != nil {
				return err
			}
			res := migrationStatus{Version: st.Version, ExpectedVersion: st.Expected, CodeVersion: st.CodeVersion,
				ExpectedCodeVersion: stent.CodeVersion, UpToDate: st.Current()}
			return c.print(res, func() error {
				_, err := fmt.Fprintf(c.stdout, "Schema version:    %d (expected %d)\nFunctions version: %d (expected %d)\nStatus:            %s\n",
					st.Version, st.Expected, st.CodeVersion, stent.CodeVersion, describeStatus(st))
				return err
			})
		},
	}
}

// describeStatus says in a few words where the database stands and what to do about it.
func describeStatus(st stent.MigrationStatus) string {
	switch {
	case st.Current():
		return "up to date"
	case st.Version == 0:
		return "not installed; run `stent migrate up`"
	case st.Version > st.Expected || st.CodeVersion > stent.CodeVersion:
		return "newer than this build; upgrade stent"
	default:
		return "behind; run `stent migrate up`"
	}
}

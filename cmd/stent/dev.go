package main

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/stentdev/stent/internal/pglaunch"
	"github.com/stentdev/stent/stent"
)

// devResult is what dev reports once the database is ready.
type devResult struct {
	URL           string `json:"url"`
	SchemaVersion int32  `json:"schema_version"`
	DataDir       string `json:"data_dir"`
}

func (c *cli) devCommand() *cobra.Command {
	var port int
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run a throwaway local PostgreSQL with Stent installed, until Ctrl-C",
		Long: `Start a throwaway PostgreSQL cluster from the server binaries installed on this machine
(initdb and postgres; found through pg_config or the usual Debian paths), migrate it, print its
URL, and keep it running until Ctrl-C. Then it is stopped and its data deleted. Nothing to
install or configure: for trying Stent, examples and local development.`,
		Example: `  stent dev
  stent dev --port 55432 -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			fmt.Fprintln(c.stderr, "Starting a throwaway PostgreSQL...")
			cluster, err := pglaunch.Start(ctx, pglaunch.Options{Port: port})
			if err != nil {
				return fmt.Errorf("starting PostgreSQL: %w", err)
			}
			stop := func() error {
				if err := cluster.Stop(); err != nil {
					return fmt.Errorf("stopping PostgreSQL: %w", err)
				}
				return nil
			}
			url := cluster.URL("postgres")
			version, err := migrateDev(ctx, url)
			if err != nil {
				return joinErr(err, stop())
			}
			res := devResult{URL: url, SchemaVersion: version, DataDir: cluster.DataDir()}
			if err := c.print(res, func() error {
				_, err := fmt.Fprintf(c.stdout, "Stent is ready on a throwaway PostgreSQL (schema version %d):\n\n"+
					"  export DATABASE_URL='%s'\n\nPress Ctrl-C to stop it; its data is deleted.\n", version, url)
				return err
			}); err != nil {
				return joinErr(err, stop())
			}
			<-ctx.Done()
			if err := stop(); err != nil {
				return err
			}
			fmt.Fprintln(c.stderr, "Stopped PostgreSQL and deleted its data.")
			return nil
		},
	}
	cmd.Flags().IntVar(&port, "port", 0, "TCP port on 127.0.0.1 (default: a free port)")
	return cmd
}

// migrateDev installs Stent in the dev database.
func migrateDev(ctx context.Context, url string) (int32, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return 0, err
	}
	defer pool.Close()
	if err := stent.Migrate(ctx, pool); err != nil {
		return 0, fmt.Errorf("migrating: %w", err)
	}
	st, err := stent.GetMigrationStatus(ctx, pool)
	return st.Version, err
}

// joinErr returns err, with cleanup's error appended when there is one.
func joinErr(err, cleanup error) error {
	if cleanup == nil {
		return err
	}
	return fmt.Errorf("%w (and %v)", err, cleanup)
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"
)

// Exit codes of the stent command.
const (
	exitOK          = 0
	exitFailure     = 1   // invalid input, or the operation failed
	exitUsage       = 2   // the command line is malformed
	exitInterrupted = 130 // the context was cancelled (SIGINT), as shells report 128+2
)

// envDatabaseURL is the environment variable that --database-url defaults to.
const envDatabaseURL = "DATABASE_URL"

// run executes the stent command line args and returns its exit code. main is a thin wrapper
// around it, so tests run commands in-process with their own streams and context.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := &cli{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv}
	return c.run(ctx, args)
}

// cli is one invocation of the command: its streams, environment and global flags. Each
// command group adds its commands in a file of its own (migrate.go, version.go, ...).
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string

	databaseURL string
	output      outputFormat
	noColor     bool
	poolSize    int32 // connections the command needs; default 2

	// started is set by the root's PersistentPreRunE once cobra has parsed the command line
	// and a command begins to run; an error before that is a usage error. (So no subcommand
	// may define a PersistentPreRun hook of its own: cobra would run it instead.)
	started bool
}

func (c *cli) run(ctx context.Context, args []string) int {
	root := c.rootCommand()
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	var usage *usageError
	switch {
	case err == nil:
		return exitOK
	case ctx.Err() != nil || errors.Is(err, errInterrupted):
		fmt.Fprintln(c.stderr, "stent: interrupted")
		return exitInterrupted
	case !c.started || errors.As(err, &usage):
		fmt.Fprintf(c.stderr, "stent: %v\nRun '%s --help' for usage.\n", err, cmd.CommandPath())
		return exitUsage
	default:
		fmt.Fprintf(c.stderr, "stent: %v\n", err)
		return exitFailure
	}
}

func (c *cli) rootCommand() *cobra.Command {
	root := groupCommand(&cobra.Command{
		Use:   "stent",
		Short: "Manage Stent, the durable workflow engine that runs on PostgreSQL",
		Long: `Manage Stent, the durable workflow engine that runs on PostgreSQL.

The database is --database-url, or $DATABASE_URL when the flag is not given.
Exit codes: 0 success, 1 not found, invalid input or failure, 2 usage error, 130 interrupted.
Commands that delete or stop work ask for confirmation on a terminal unless --yes is given.
See docs/cli.md for every command with examples.`,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(*cobra.Command, []string) error {
			c.started = true
			return nil
		},
	})
	root.SetIn(c.stdin)
	root.SetOut(c.stdout)
	root.SetErr(c.stderr)
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })

	flags := root.PersistentFlags()
	flags.StringVar(&c.databaseURL, "database-url", "",
		"PostgreSQL URL of the database that holds Stent (default $"+envDatabaseURL+")")
	flags.VarP(&c.output, "output", "o", "output format: table or json (text is an alias of table)")
	flags.BoolVar(&c.noColor, "no-color", false, "never colour the output (colour is used only on a terminal, and never when $NO_COLOR is set)")

	root.AddCommand(c.migrateCommand(), c.versionCommand(), c.limitsCommand(), c.pauseCommand(),
		c.resumeCommand(), c.pausesCommand(), c.blockersCommand(), c.doctorCommand())
	root.AddCommand(c.opsCommands()...)
	return root
}

// groupCommand completes cmd as a command that only holds subcommands: run alone, or with an
// unknown subcommand, it is a usage error (cobra would print help and succeed).
func groupCommand(cmd *cobra.Command) *cobra.Command {
	cmd.SuggestionsMinimumDistance = 2 // cobra's default, which SuggestionsFor does not apply
	cmd.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				msg += fmt.Sprintf(" (did you mean %s?)", strings.Join(s, ", "))
			}
			return &usageError{errors.New(msg)}
		}
		return nil
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		var names []string
		for _, sub := range cmd.Commands() {
			if sub.IsAvailableCommand() {
				names = append(names, sub.Name())
			}
		}
		return usageErrorf("%s needs a command: %s", cmd.CommandPath(), strings.Join(names, ", "))
	}
	return cmd
}

// usageError is a malformed command line; it exits with exitUsage.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// connect opens a small pool on the database and checks that it answers. The caller closes it.
func (c *cli) connect(ctx context.Context) (*pgxpool.Pool, error) {
	url := c.databaseURL
	if url == "" {
		url = c.getenv(envDatabaseURL)
	}
	if url == "" {
		return nil, fmt.Errorf("no database: pass --database-url or set %s", envDatabaseURL)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("invalid database URL: %w", err)
	}
	cfg.MaxConns = max(2, c.poolSize)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to the database: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connecting to the database: %w", err)
	}
	return pool, nil
}

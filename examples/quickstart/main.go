// Quickstart: define an activity, run a worker, dispatch a batch of jobs and print their
// results. Run it with `go run ./examples/quickstart`; without DATABASE_URL it starts a
// throwaway PostgreSQL from the local server binaries.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/stentdev/stent/examples/internal/exampledb"
	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/worker"
)

// Greeting is the input of the Greet activity.
type Greeting struct {
	Name string `json:"name"`
}

// Greet is an activity: a typed function that workers run as a durable, retried task.
var Greet = stent.NewActivity("quickstart.greet",
	func(ctx context.Context, in Greeting) (string, error) {
		attempt, _ := stent.AttemptFrom(ctx)
		return fmt.Sprintf("hello, %s (task %d, attempt %d)", in.Name, attempt.TaskID, attempt.Attempt), nil
	},
	stent.Retry(stent.RetryPolicy{MaxAttempts: 5}),
)

func main() {
	jobs := flag.Int("jobs", 10, "number of jobs to dispatch")
	verbose := flag.Bool("v", false, "log worker events")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	pool, release, err := exampledb.Open(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
	err = run(ctx, pool, *jobs, *verbose, os.Stdout)
	release()
	if err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// run starts a worker, dispatches n jobs in one statement, waits for each and prints it.
func run(ctx context.Context, pool *pgxpool.Pool, n int, verbose bool, out io.Writer) error {
	logger := zerolog.Nop()
	if verbose {
		logger = zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr}).With().Timestamp().Logger()
	}
	client, err := stent.NewClient(pool, stent.Config{Logger: &logger})
	if err != nil {
		return err
	}
	defer client.Close()

	stopWorker, err := exampledb.StartWorker(ctx, client, worker.Config{Concurrency: 20})
	if err != nil {
		return err
	}
	defer stopWorker()

	names := make([]Greeting, n)
	for i := range names {
		names[i] = Greeting{Name: fmt.Sprintf("job-%02d", i+1)}
	}
	ids, err := Greet.DispatchMany(ctx, client, names)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "dispatched %d jobs\n", len(ids))
	for i, id := range ids {
		res, err := Greet.Wait(ctx, client, id)
		if err != nil {
			return fmt.Errorf("job %d: %w", i+1, err)
		}
		fmt.Fprintf(out, "%s  %s\n", id.String()[:8], res)
	}
	fmt.Fprintln(out, strings.Repeat("-", 40))
	fmt.Fprintf(out, "all %d jobs completed\n", n)
	return nil
}

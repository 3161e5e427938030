// Command stent manages Stent's schema in a PostgreSQL database and, as it grows, the
// executions, dead letters and workers recorded there.
//
//	stent migrate up                  # apply the migrations, install the functions
//	stent migrate status -o json      # current and expected versions
//	stent migrate down 0 --yes        # remove Stent (drops schema stent)
//
// The database is --database-url, or $DATABASE_URL. Exit codes: 0 success, 1 invalid input or
// failure, 2 usage error, 130 interrupted.
package main

import (
	"context"
	"os"
	"os/signal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	// After the first interrupt, give SIGINT its default action back, so a second one kills a
	// command that is slow to wind down.
	go func() {
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Saga: a trip booking workflow that books a flight, a hotel and a car as activities and, when
// a booking fails for good, runs the compensations of the ones that succeeded, in reverse.
// Run it with `go run ./examples/saga`; without DATABASE_URL it starts a throwaway PostgreSQL.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stentdev/stent/examples/internal/exampledb"
	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/worker"
)

// Trip is what the traveller asks for; a destination containing "nocar" has no cars left.
type Trip struct {
	Traveller   string `json:"traveller"`
	Destination string `json:"destination"`
}

func book(kind string) func(context.Context, Trip) (string, error) {
	return func(ctx context.Context, t Trip) (string, error) {
		if kind == "car" && strings.Contains(t.Destination, "nocar") {
			return "", stent.Permanent(fmt.Errorf("no car available in %s", t.Destination))
		}
		return fmt.Sprintf("%s-%s-%s", kind, t.Traveller, t.Destination), nil
	}
}

func cancel(kind string) func(context.Context, string) (string, error) {
	return func(ctx context.Context, ref string) (string, error) { return "cancelled " + ref, nil }
}

var (
	BookFlight   = stent.NewActivity("saga.book_flight", book("flight"))
	BookHotel    = stent.NewActivity("saga.book_hotel", book("hotel"))
	BookCar      = stent.NewActivity("saga.book_car", book("car"), stent.Retry(stent.RetryPolicy{MaxAttempts: 2}))
	CancelFlight = stent.NewActivity("saga.cancel_flight", cancel("flight"))
	CancelHotel  = stent.NewActivity("saga.cancel_hotel", cancel("hotel"))
)

// BookTrip books everything or nothing: on a failure it compensates what was booked.
var BookTrip = stent.NewWorkflow("saga.book_trip", func(ctx stent.Context, t Trip) (string, error) {
	var undo []func() (string, error)
	compensate := func(cause error) (string, error) {
		var done []string
		for i := len(undo) - 1; i >= 0; i-- {
			msg, err := undo[i]()
			if err != nil {
				return "", errors.Join(cause, err)
			}
			done = append(done, msg)
		}
		return fmt.Sprintf("failed: %v; %s", cause, strings.Join(done, ", ")), nil
	}
	flight, err := BookFlight.Call(ctx, t)
	if err != nil {
		return compensate(err)
	}
	undo = append(undo, func() (string, error) { return CancelFlight.Call(ctx, flight) })
	hotel, err := BookHotel.Call(ctx, t)
	if err != nil {
		return compensate(err)
	}
	undo = append(undo, func() (string, error) { return CancelHotel.Call(ctx, hotel) })
	car, err := BookCar.Call(ctx, t)
	if err != nil {
		return compensate(err)
	}
	return fmt.Sprintf("booked %s, %s, %s", flight, hotel, car), nil
})

func main() { exampledb.Main("saga", run) }

func run(ctx context.Context, pool *pgxpool.Pool, out io.Writer) error {
	client, err := stent.NewClient(pool, stent.Config{})
	if err != nil {
		return err
	}
	defer client.Close()
	stopWorker, err := exampledb.StartWorker(ctx, client, worker.Config{Concurrency: 4, Functions: []string{
		"saga.book_flight", "saga.book_hotel", "saga.book_car", "saga.cancel_flight", "saga.cancel_hotel", "saga.book_trip",
	}})
	if err != nil {
		return err
	}
	defer stopWorker()

	for _, t := range []Trip{{"ada", "lisbon"}, {"bob", "nocar-island"}} {
		res, err := BookTrip.Run(ctx, client, t)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%s to %s: %s\n", t.Traveller, t.Destination, res)
	}
	return nil
}

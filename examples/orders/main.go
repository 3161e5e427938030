// Orders: an order workflow. It reserves stock in an inline step, charges the card in an
// activity (retried on its own queue), ships every line in parallel, waits for a delivery
// confirmation signal (with a timeout) and records its progress. Run it with
// `go run ./examples/orders`; without DATABASE_URL it starts a throwaway PostgreSQL.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stentdev/stent/examples/internal/exampledb"
	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/worker"
)

// Order is the workflow's input.
type Order struct {
	ID    string   `json:"id"`
	Cents int64    `json:"cents"`
	Items []string `json:"items"`
}

// Delivery is the payload of the "delivered" signal.
type Delivery struct {
	SignedBy string `json:"signed_by"`
}

// Charge takes the payment; it runs on the billing queue with its own retries.
var Charge = stent.NewActivity("orders.charge", func(ctx context.Context, o Order) (string, error) {
	a, _ := stent.AttemptFrom(ctx)
	return fmt.Sprintf("payment-%s-%d", o.ID, a.TaskID), nil // the task id makes a natural idempotency key
}, stent.Queue("billing"), stent.Retry(stent.RetryPolicy{MaxAttempts: 5}))

// Ship ships one line of an order.
var Ship = stent.NewActivity("orders.ship", func(ctx context.Context, item string) (string, error) {
	return "parcel:" + item, nil
})

// Process runs one order end to end.
var Process = stent.NewWorkflow("orders.process", func(ctx stent.Context, o Order) (string, error) {
	reservation, err := stent.Step(ctx, "reserve", func(context.Context) (string, error) {
		return fmt.Sprintf("reserved %d items", len(o.Items)), nil
	})
	if err != nil {
		return "", err
	}
	if err := stent.Progress(ctx, reservation, nil); err != nil {
		return "", err
	}
	payment, err := Charge.Call(ctx, o)
	if err != nil {
		return "", err
	}
	parcels, err := Ship.Map(ctx, o.Items)
	if err != nil {
		return "", err
	}
	if err := stent.Progress(ctx, "shipped", parcels); err != nil {
		return "", err
	}
	d, err := stent.WaitSignal[Delivery](ctx, "delivered", 14*24*time.Hour)
	if errors.Is(err, stent.ErrSignalTimeout) {
		return fmt.Sprintf("%s paid by %s, %d parcels, delivery unconfirmed", o.ID, payment, len(parcels)), nil
	}
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s paid by %s, %d parcels, signed by %s", o.ID, payment, len(parcels), d.SignedBy), nil
})

func main() { exampledb.Main("orders", run) }

func run(ctx context.Context, pool *pgxpool.Pool, out io.Writer) error {
	client, err := stent.NewClient(pool, stent.Config{})
	if err != nil {
		return err
	}
	defer client.Close()
	stopWorker, err := exampledb.StartWorker(ctx, client, worker.Config{Queues: []string{"default", "billing"}, Concurrency: 8,
		Functions: []string{"orders.charge", "orders.ship", "orders.process"}})
	if err != nil {
		return err
	}
	defer stopWorker()

	order := Order{ID: "order-" + uuid.NewString()[:8], Cents: 4200, Items: []string{"book", "lamp", "mug"}}
	id, err := Process.Dispatch(ctx, client, order, stent.WithIdempotencyKey(order.ID))
	if err != nil {
		return err
	}
	// The courier's app would send this; a signal sent before the workflow waits is kept.
	if err := client.Signal(ctx, id, "delivered", Delivery{SignedBy: "R. Receiver"}); err != nil {
		return err
	}
	res, err := Process.Wait(ctx, client, id)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, res)
	e, err := client.Get(ctx, id)
	if err != nil {
		return err
	}
	for _, p := range e.Progress {
		fmt.Fprintf(out, "progress: %s %s\n", p.Message, p.Detail)
	}
	fmt.Fprintf(out, "%d tasks in the execution\n", len(e.Tasks))
	return nil
}

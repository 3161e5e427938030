package stent_test

import (
	"context"
	"errors"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/stenttest"
	"github.com/stentdev/stent/worker"
)

// recipePlaceholder is the execution id the recipes in docs/sql.md use.
const recipePlaceholder = "3f1c9a52-0d7e-4b8a-9c1e-5a2b7d4e6f10"

// loadRecipes reads the SQL recipes of docs/sql.md: each ```sql block preceded by a
// <!-- recipe: NAME --> comment.
func loadRecipes(t *testing.T) map[string]string {
	t.Helper()
	doc, err := os.ReadFile("../docs/sql.md")
	require.NoError(t, err)
	re := regexp.MustCompile("(?s)<!-- recipe: ([a-z_]+) -->\n```sql\n(.*?)```")
	out := map[string]string{}
	for _, m := range re.FindAllStringSubmatch(string(doc), -1) {
		require.NotContains(t, out, m[1], "recipe named twice")
		out[m[1]] = m[2]
	}
	require.Equal(t, strings.Count(string(doc), "```sql"), len(out), "every sql block of docs/sql.md is a named recipe")
	return out
}

// recipeRunner runs the recipes of docs/sql.md and remembers which ran.
type recipeRunner struct {
	b       *testBundle
	recipes map[string]string
	ran     map[string]bool
}

func (r *recipeRunner) sql(t *testing.T, name string, id uuid.UUID) string {
	t.Helper()
	q, ok := r.recipes[name]
	require.True(t, ok, "recipe %s is in docs/sql.md", name)
	r.ran[name] = true
	if id != uuid.Nil {
		require.Contains(t, q, recipePlaceholder)
		q = strings.ReplaceAll(q, recipePlaceholder, id.String())
	}
	return q
}

// query runs a recipe and returns its rows as maps.
func (r *recipeRunner) query(t *testing.T, name string, id uuid.UUID) []map[string]any {
	t.Helper()
	rows, err := r.b.pool.Query(r.b.ctx, r.sql(t, name, id))
	require.NoError(t, err, name)
	out, err := pgx.CollectRows(rows, pgx.RowToMap)
	require.NoError(t, err, name)
	return out
}

// exec runs a recipe of several statements (simple protocol).
func (r *recipeRunner) exec(t *testing.T, name string) {
	t.Helper()
	_, err := r.b.pool.Exec(r.b.ctx, r.sql(t, name, uuid.Nil))
	require.NoError(t, err, name)
}

type checkoutInput struct {
	OrderID int64   `json:"order_id"`
	Total   float64 `json:"total"`
}

// TestSQLRecipes runs every recipe of docs/sql.md against a database with a worker and
// checks what each returns: orders dispatched by a trigger, a signal from SQL, a failing
// charge (failure rates, dead letters, replay), a cancelled and retried execution, a stuck
// one, queue depths and workers.
func TestSQLRecipes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := &recipeRunner{b: b, recipes: loadRecipes(t), ran: map[string]bool{}}

	var mailBroken, chargeBroken atomic.Bool
	charge := stent.NewActivity("shop.charge", func(_ context.Context, total float64) (float64, error) {
		if chargeBroken.Load() {
			return 0, stent.Permanent(errors.New("card declined"))
		}
		return total, nil
	}, stent.InRegistry(b.reg))
	checkout := stent.NewWorkflow("shop.checkout", func(ctx stent.Context, in checkoutInput) (string, error) {
		if _, err := charge.Call(ctx, in.Total); err != nil {
			return "", err
		}
		a, err := stent.WaitSignal[approval](ctx, "approve", time.Hour)
		if err != nil {
			return "", err
		}
		return "approved by " + a.By, nil
	}, stent.InRegistry(b.reg), stent.Retry(stent.RetryPolicy{MaxAttempts: 1}))
	mail := stent.NewActivity("mail.send", func(context.Context, string) (string, error) {
		if mailBroken.Load() {
			return "", stent.Permanent(errors.New("smtp down"))
		}
		return "sent", nil
	}, stent.InRegistry(b.reg))
	report := stent.NewActivity("report.build", func(context.Context, string) (string, error) { return "", nil },
		stent.InRegistry(b.reg), stent.Queue("reports"))
	stenttest.StartWorker(t, b.client, worker.Config{ID: "w-docs"})

	// A trigger dispatches a checkout per order.
	r.exec(t, "trigger")
	rows := r.query(t, "trigger_check", uuid.Nil)
	require.Len(t, rows, 1)
	require.Equal(t, "shop.checkout", rows[0]["workflow"])
	require.Equal(t, map[string]any{"order_id": float64(1), "total": 42.5}, rows[0]["input"])
	order1 := uuid.UUID(rows[0]["id"].([16]byte))
	pollUntil(t, "order 1 to wait for approval", func() bool { return b.reason(t, order1, stent.ReasonWaitingSignal) != nil })

	rows = r.query(t, "explain", order1)
	require.Len(t, rows, 1)
	require.Equal(t, "waiting_signal", rows[0]["reason"])
	require.Equal(t, "shop.checkout", rows[0]["task_name"])
	rows = r.query(t, "timeline", order1)
	var tasks []string
	for _, row := range rows {
		tasks = append(tasks, row["task"].(string))
	}
	require.Equal(t, []string{"shop.checkout", "  shop.charge", "  approve"}, tasks)

	rows = r.query(t, "signal", order1)
	require.Len(t, rows, 1)
	got, err := checkout.Wait(b.ctx, b.client, order1)
	require.NoError(t, err)
	require.Equal(t, "approved by ann", got)

	rows = r.query(t, "overview", uuid.Nil)
	require.Len(t, rows, 1)
	require.Equal(t, "completed", rows[0]["state"])
	require.Equal(t, "approve", rows[0]["current_step"])
	require.EqualValues(t, 3, rows[0]["tasks_total"])
	require.EqualValues(t, 3, rows[0]["tasks_completed"])

	// A declined card fails order 2: failure rates and dead letters show it.
	chargeBroken.Store(true)
	_, err = b.pool.Exec(b.ctx, "insert into orders (customer, total) values ('bob', 10)")
	require.NoError(t, err)
	var order2 uuid.UUID
	require.NoError(t, b.pool.QueryRow(b.ctx, "select id from stent.executions where idempotency_key = 'order-2'").Scan(&order2))
	_, err = checkout.Wait(b.ctx, b.client, order2)
	require.ErrorContains(t, err, "card declined")
	chargeBroken.Store(false)

	rates := map[string][3]int64{}
	for _, row := range r.query(t, "failure_rates", uuid.Nil) {
		rates[row["name"].(string)] = [3]int64{row["finished"].(int64), row["failed"].(int64), row["retried"].(int64)}
	}
	require.Equal(t, map[string][3]int64{"shop.checkout": {2, 1, 0}, "shop.charge": {2, 1, 0}}, rates)

	// A standalone activity fails for good, then its dead letter is replayed.
	mailBroken.Store(true)
	mailID, err := mail.Dispatch(b.ctx, b.client, "hello")
	require.NoError(t, err)
	_, err = mail.Wait(b.ctx, b.client, mailID)
	require.ErrorContains(t, err, "smtp down")
	entries := map[string]int64{}
	for _, row := range r.query(t, "dead_letters", uuid.Nil) {
		entries[row["name"].(string)] = row["entries"].(int64)
	}
	require.Equal(t, map[string]int64{"shop.checkout": 1, "shop.charge": 1, "mail.send": 1}, entries)
	mailBroken.Store(false)
	require.Len(t, r.query(t, "replay", uuid.Nil), 1)
	out, err := mail.Wait(b.ctx, b.client, mailID)
	require.NoError(t, err)
	require.Equal(t, "sent", out)

	// Retry order 2 from SQL: the charge runs again, the order waits for approval.
	rows = r.query(t, "retry", order2)
	require.EqualValues(t, 2, rows[0]["retry_execution"], "the failed charge and the workflow were reset")
	pollUntil(t, "order 2 to wait for approval", func() bool { return b.reason(t, order2, stent.ReasonWaitingSignal) != nil })
	rows = r.query(t, "cancel", order2)
	require.Equal(t, "cancelled", rows[0]["cancel_execution"])
	require.Equal(t, stent.StateCancelled, b.executionState(t, order2))

	rows = r.query(t, "workers", uuid.Nil)
	require.Len(t, rows, 1)
	require.Equal(t, "w-docs", rows[0]["id"])
	require.Equal(t, "live", rows[0]["status"])

	// A report on a queue nobody serves, ten minutes old, is stuck.
	reportID, err := report.Dispatch(b.ctx, b.client, "q3")
	require.NoError(t, err)
	rows = r.query(t, "queue_depths", uuid.Nil)
	require.Equal(t, "reports", rows[0]["queue"], "the only queue with due work comes first")
	require.EqualValues(t, 1, rows[0]["due_now"])
	b.clock.Advance(11 * time.Minute)
	var stuck []string
	for _, row := range r.query(t, "stuck", uuid.Nil) {
		if uuid.UUID(row["id"].([16]byte)) == reportID {
			stuck = append(stuck, row["reason"].(string))
		}
	}
	require.Equal(t, []string{"no_worker"}, stuck)

	var documented []string
	for name := range r.recipes {
		documented = append(documented, name)
	}
	var ran []string
	for name := range r.ran {
		ran = append(ran, name)
	}
	require.ElementsMatch(t, documented, ran, "every recipe of docs/sql.md ran")
}

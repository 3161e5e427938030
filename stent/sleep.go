package stent

import (
	"fmt"
	"time"
)

// Sleep is a durable timer: the workflow suspends (no goroutine, no worker slot) and runs on
// after d, measured on the database clock. The deadline is recorded once, on the first run,
// so a crash or a replay never restarts the timer. Any worker serving the workflow resumes it,
// tags included.
func Sleep(ctx Context, d time.Duration) error {
	if d < 0 {
		return &InvalidArgumentError{Arg: "sleep duration", Reason: fmt.Sprintf("must not be negative, got %s", d)}
	}
	return sleep(ctx, "stent.sleep", d, nil)
}

// SleepUntil suspends the workflow until t, compared with the database clock (recorded once,
// like Sleep). A time already past returns at once.
func SleepUntil(ctx Context, t time.Time) error {
	if t.IsZero() {
		return &InvalidArgumentError{Arg: "sleep until", Reason: "must not be the zero time"}
	}
	return sleep(ctx, "stent.sleep_until", 0, &t)
}

func sleep(ctx Context, name string, d time.Duration, until *time.Time) error {
	rt := ctx.workflowRuntime()
	if rt == nil {
		return errNotInWorkflow
	}
	if err := rt.stopped(); err != nil {
		return err
	}
	seq, cp := rt.next()
	if cp == nil || cp.State != "completed" {
		row, err := rt.st.RecordSleep(ctx, rt.taskID, rt.token, seq, name, d, until)
		if err != nil {
			return rt.failWrite(err)
		}
		cp = row
	}
	if err := rt.check(seq, cp, "sleep", name); err != nil {
		return err
	}
	if cp.State == "completed" {
		return nil
	}
	deadline := cp.RunAt
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.suspension == nil {
		rt.suspension = &Suspension{}
	}
	if rt.suspension.Until == nil || deadline.Before(*rt.suspension.Until) {
		rt.suspension.Until = &deadline
	}
	return rt.suspension
}

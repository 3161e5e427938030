package stent

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/stentdev/stent/internal/store"
)

// Finding is one violation of Stent's invariants reported by Client.Doctor (stent.doctor in
// SQL): a stuck or inconsistent task, execution or dead letter, or a database condition that
// hurts Stent (bloat, an old xmin horizon). See docs/reliability.md for every check.
type Finding struct {
	Check       string     // stable identifier, e.g. "expired_lease"
	Severity    string     // "error" (stuck or inconsistent) or "warning" (degraded)
	ExecutionID *uuid.UUID // nil when the finding concerns no execution
	TaskID      int64      // 0 when it concerns no task
	Detail      string     // human-readable explanation
	Fixable     bool       // DoctorFix can repair it
	Action      string     // what DoctorFix did; empty for Doctor and when nothing was done
}

// DoctorOptions sets the doctor's thresholds. Zero fields take the defaults.
type DoctorOptions struct {
	// Grace is how long past its due time something must be before it is reported (a lease
	// not rescued, a wake-up not made, a worker silent). Default 1 minute.
	Grace time.Duration
	// BloatRatio is the fraction of dead tuples in a Stent table above which it is reported.
	// Default 0.2.
	BloatRatio float64
	// BloatMinDead is the number of dead tuples a table must have before it is reported
	// at all. Default 10,000.
	BloatMinDead int64
	// XminAge is the age in transactions beyond which a snapshot, prepared transaction or
	// replication slot of the database is reported for holding back vacuum. Default 100 million.
	XminAge int64
	// Fix repairs what is safe to repair (see DoctorFix).
	Fix bool
}

func (o DoctorOptions) params() (store.DoctorParams, error) {
	if o.Grace == 0 {
		o.Grace = time.Minute
	}
	if o.BloatRatio == 0 {
		o.BloatRatio = 0.2
	}
	if o.BloatMinDead == 0 {
		o.BloatMinDead = 10000
	}
	if o.XminAge == 0 {
		o.XminAge = 100_000_000
	}
	switch {
	case o.Grace < 0:
		return store.DoctorParams{}, &InvalidArgumentError{Arg: "DoctorOptions.Grace", Reason: fmt.Sprintf("must not be negative, got %s", o.Grace)}
	case !(o.BloatRatio > 0 && o.BloatRatio <= 1):
		return store.DoctorParams{}, &InvalidArgumentError{Arg: "DoctorOptions.BloatRatio", Reason: fmt.Sprintf("must be within (0, 1], got %g", o.BloatRatio)}
	case o.BloatMinDead < 0:
		return store.DoctorParams{}, &InvalidArgumentError{Arg: "DoctorOptions.BloatMinDead", Reason: "must not be negative"}
	case o.XminAge < 0:
		return store.DoctorParams{}, &InvalidArgumentError{Arg: "DoctorOptions.XminAge", Reason: "must not be negative"}
	}
	return store.DoctorParams{Grace: o.Grace, BloatRatio: o.BloatRatio, BloatMinDead: o.BloatMinDead, XminAge: o.XminAge}, nil
}

// Validate reports an *InvalidArgumentError for a threshold out of range (after defaults).
func (o DoctorOptions) Validate() error {
	_, err := o.params()
	return err
}

// Doctor checks Stent's invariants with the default thresholds and returns the violations
// found; none means healthy. It only reads.
func (c *Client) Doctor(ctx context.Context) ([]Finding, error) {
	return c.DoctorWith(ctx, DoctorOptions{})
}

// DoctorFix runs Doctor and repairs, in one transaction, what is safe to repair: it rescues
// tasks whose lease expired or whose worker is gone, cancels unfinished tasks of finished
// executions, wakes workflows with nothing left to wait for and deletes stale dead letters.
// Every finding is returned; Action says what was done.
func (c *Client) DoctorFix(ctx context.Context) ([]Finding, error) {
	return c.DoctorWith(ctx, DoctorOptions{Fix: true})
}

// DoctorWith is Doctor (or DoctorFix, with o.Fix) with explicit thresholds.
func (c *Client) DoctorWith(ctx context.Context, o DoctorOptions) ([]Finding, error) {
	p, err := o.params()
	if err != nil {
		return nil, err
	}
	var rows []*store.DoctorFinding
	if o.Fix {
		rows, err = c.store.DoctorFix(ctx, p)
	} else {
		rows, err = c.store.Doctor(ctx, p)
	}
	if err != nil {
		return nil, mapStoreError(err)
	}
	out := make([]Finding, len(rows))
	for i, r := range rows {
		out[i] = Finding{Check: r.CheckName, Severity: r.Severity, TaskID: r.TaskID, Detail: r.Detail,
			Fixable: r.Fixable, Action: r.Action}
		if r.ExecutionID != "" {
			id, err := uuid.Parse(r.ExecutionID)
			if err != nil {
				return nil, fmt.Errorf("stent: doctor: bad execution id %q: %w", r.ExecutionID, err)
			}
			out[i].ExecutionID = &id
		}
	}
	if o.Fix {
		fixed := 0
		for _, f := range out {
			if f.Action != "" {
				fixed++
			}
		}
		c.logger.Info().Int("findings", len(out)).Int("fixed", fixed).Msg("stent: doctor fix")
	}
	return out, nil
}

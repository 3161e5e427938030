package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/stentdev/stent/db"
)

// DoctorParams are stent.doctor's thresholds.
type DoctorParams struct {
	Grace        time.Duration
	BloatRatio   float64
	BloatMinDead int64
	XminAge      int64
}

// DoctorFinding is one row of stent.doctor or stent.doctor_fix (Action empty for doctor).
type DoctorFinding = db.DoctorFixRow

// Doctor runs stent.doctor (read only).
func (s *Store) Doctor(ctx context.Context, p DoctorParams) ([]*DoctorFinding, error) {
	rows, err := s.q.Doctor(ctx, s.dbtx, &db.DoctorParams{
		Grace:      pgtype.Interval{Microseconds: p.Grace.Microseconds(), Valid: true},
		BloatRatio: p.BloatRatio, BloatMinDead: p.BloatMinDead, XminAge: p.XminAge,
	})
	if err != nil {
		return nil, mapError("doctor", err)
	}
	out := make([]*DoctorFinding, len(rows))
	for i, r := range rows {
		out[i] = &DoctorFinding{
			CheckName: r.CheckName, Severity: r.Severity, ExecutionID: r.ExecutionID, TaskID: r.TaskID,
			Detail: r.Detail, Fixable: r.Fixable,
		}
	}
	return out, nil
}

// DoctorFix runs stent.doctor_fix: the findings, with the repairs made.
func (s *Store) DoctorFix(ctx context.Context, p DoctorParams) ([]*DoctorFinding, error) {
	rows, err := s.q.DoctorFix(ctx, s.dbtx, &db.DoctorFixParams{
		Grace:      pgtype.Interval{Microseconds: p.Grace.Microseconds(), Valid: true},
		BloatRatio: p.BloatRatio, BloatMinDead: p.BloatMinDead, XminAge: p.XminAge,
	})
	return rows, mapError("doctor fix", err)
}

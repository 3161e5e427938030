package main

import (
	"context"

	"github.com/stentdev/stent/stent"
)

// doctorFindings runs the doctor's checks and describes each finding in one line.
// TODO(chaos): call client.Doctor once stent/doctor.go exists (the .doctor-ready marker);
// until then this checks nothing.
func doctorFindings(ctx context.Context, client *stent.Client) ([]string, error) {
	_, _ = ctx, client
	return nil, nil
}

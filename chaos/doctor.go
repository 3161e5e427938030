package main

import (
	"context"
	"fmt"

	"github.com/stentdev/stent/stent"
)

// doctorFindings runs Client.Doctor (stent.doctor() with its default thresholds) and
// describes each finding in one line.
func doctorFindings(ctx context.Context, client *stent.Client) ([]string, error) {
	findings, err := client.Doctor(ctx)
	if err != nil {
		return nil, fmt.Errorf("chaos: doctor: %w", err)
	}
	out := make([]string, len(findings))
	for i, f := range findings {
		where := ""
		if f.ExecutionID != nil {
			where = " execution " + f.ExecutionID.String()
		}
		if f.TaskID != 0 {
			where += fmt.Sprintf(" task %d", f.TaskID)
		}
		out[i] = fmt.Sprintf("%s (%s)%s: %s", f.Check, f.Severity, where, f.Detail)
	}
	return out, nil
}

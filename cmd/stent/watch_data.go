package main

import (
	"context"
	"time"

	"github.com/stentdev/stent/stent"
)

// Rows the dashboard loads per section: enough to fill a tall terminal, few enough that a
// refresh stays a handful of small queries.
const (
	dashActiveRows  = 50
	dashRunningRows = 50
	dashRecentRows  = 20
	dashDeadRows    = 10
)

// dashboard is one snapshot of what `stent watch` shows, loaded apart from its rendering so
// the model can be driven in tests with any data.
type dashboard struct {
	Stats       *stent.Stats
	Active      []stent.ActiveExecution
	Running     []*stent.Task
	Recent      []*stent.Execution
	DeadLetters []*stent.DeadLetter
	Workers     []stent.WorkerStatus
	LoadedIn    time.Duration
}

// loadDashboard reads a snapshot: aggregates, then short listings.
func loadDashboard(ctx context.Context, client *stent.Client, window time.Duration) (*dashboard, error) {
	start := time.Now()
	d := &dashboard{}
	var err error
	if d.Stats, err = client.Stats(ctx, window); err != nil {
		return nil, err
	}
	if d.Active, err = client.ListActive(ctx, dashActiveRows); err != nil {
		return nil, err
	}
	if d.Running, err = client.ListTasks(ctx, stent.TaskListParams{State: "running", Limit: dashRunningRows}); err != nil {
		return nil, err
	}
	if d.Recent, err = client.ListRecentFinished(ctx, dashRecentRows); err != nil {
		return nil, err
	}
	if d.Workers, err = client.ListWorkers(ctx); err != nil {
		return nil, err
	}
	if d.Stats.DeadLetters > 0 {
		if d.DeadLetters, err = client.ListDeadLetters(ctx, stent.DeadLetterListParams{Limit: dashDeadRows}); err != nil {
			return nil, err
		}
	}
	d.LoadedIn = time.Since(start)
	return d, nil
}

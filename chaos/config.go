package main

import (
	"errors"
	"io"
	"time"
)

// Config configures a soak. Zero fields take the defaults noted.
type Config struct {
	// Duration is how long workflows are dispatched and faults injected. Default 5m.
	Duration time.Duration
	// DatabaseURL is an existing database to soak; Postgres is then not restarted. Default:
	// a throwaway cluster started with internal/pglaunch.
	DatabaseURL string
	// Workers is the number of worker processes. Default 3.
	Workers int
	// DispatchEvery is the pace of dispatches. Default 150ms.
	DispatchEvery time.Duration
	// KillEvery is the mean interval between worker SIGKILLs. Default 4s.
	KillEvery time.Duration
	// PauseEvery is the interval between worker freezes (SIGSTOP for longer than a lease).
	// Default 20s.
	PauseEvery time.Duration
	// TerminateEvery is the interval between backend terminations. Default 3s.
	TerminateEvery time.Duration
	// DrainTimeout bounds the wait, after the last fault, for every execution to finish.
	// Default 3m.
	DrainTimeout time.Duration
	// Seed seeds the monkey's and the dispatcher's random choices. Default: the clock.
	Seed uint64
	// WorkerCommand starts a worker process (required).
	WorkerCommand WorkerCommand
	// WorkerLogs returns where worker id's output goes (required).
	WorkerLogs func(id string) io.Writer
	// Progress receives progress lines. Default: discarded.
	Progress io.Writer
}

func (c Config) withDefaults() Config {
	if c.Duration == 0 {
		c.Duration = 5 * time.Minute
	}
	if c.Workers == 0 {
		c.Workers = 3
	}
	if c.DispatchEvery == 0 {
		c.DispatchEvery = 150 * time.Millisecond
	}
	if c.KillEvery == 0 {
		c.KillEvery = 4 * time.Second
	}
	if c.PauseEvery == 0 {
		c.PauseEvery = 20 * time.Second
	}
	if c.TerminateEvery == 0 {
		c.TerminateEvery = 3 * time.Second
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = 3 * time.Minute
	}
	if c.Seed == 0 {
		c.Seed = uint64(time.Now().UnixNano())
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.Duration <= 0 || c.DispatchEvery <= 0 || c.KillEvery <= 0 || c.PauseEvery <= 0 || c.TerminateEvery <= 0 || c.DrainTimeout <= 0:
		return errors.New("chaos: durations must be positive")
	case c.Workers < 1:
		return errors.New("chaos: at least one worker is needed")
	case c.WorkerCommand == nil || c.WorkerLogs == nil:
		return errors.New("chaos: WorkerCommand and WorkerLogs are required")
	}
	return nil
}

package worker

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// RunUntilSignal runs w until the process receives SIGINT or SIGTERM (or ctx ends): the first
// signal starts a graceful shutdown, a second one stops hard (HardStop).
func RunUntilSignal(ctx context.Context, w *Worker) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		select {
		case <-sigs:
		case <-w.Done():
			return
		}
		cancel()
		select {
		case <-sigs:
			w.HardStop()
		case <-w.Done():
		}
	}()
	return w.Run(ctx)
}

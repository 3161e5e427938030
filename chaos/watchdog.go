package main

import (
	"fmt"
	"io"
	"runtime"
	"sync"
	"time"
)

// watchdog reports a fault that does not come back: if one monkey action runs longer than
// limit, it writes the action and every goroutine's stack to log, once, so that a stalled
// soak shows where it is stuck. It also notices when the whole soak process ran nothing for
// seconds, which makes the soak's timings meaningless.
type watchdog struct {
	log   io.Writer
	limit time.Duration

	mu       sync.Mutex
	stalled  time.Duration // total of this process's stalls
	action   string
	since    time.Time
	reported bool
	stop     chan struct{}
	done     chan struct{}
}

func startWatchdog(log io.Writer, limit time.Duration) *watchdog {
	w := &watchdog{log: log, limit: limit, stop: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	return w
}

// doing records the action starting now ("" when idle).
func (w *watchdog) doing(action string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.action, w.since = action, time.Now()
}

func (w *watchdog) run() {
	defer close(w.done)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	last := time.Now()
	for {
		select {
		case <-w.stop:
			return
		case <-tick.C:
		}
		if gap := time.Since(last); gap > 5*time.Second {
			// Not the monkey: this whole process ran nothing for a while (an overloaded host,
			// or something that stopped it).
			fmt.Fprintf(w.log, "%s  watchdog: this process was stalled for %s\n", stamp(), gap.Round(100*time.Millisecond))
			w.mu.Lock()
			w.stalled += gap
			w.since = w.since.Add(gap) // the action was not running either
			w.mu.Unlock()
		}
		last = time.Now()
		w.mu.Lock()
		stuck := w.action != "" && !w.reported && time.Since(w.since) > w.limit
		action, since := w.action, w.since
		if stuck {
			w.reported = true
		}
		w.mu.Unlock()
		if stuck {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			fmt.Fprintf(w.log, "%s  monkey: stuck in %s for %s; goroutines:\n%s\n", stamp(), action, time.Since(since).Round(time.Second), buf)
		}
	}
}

// close stops the watchdog and returns how long the process was stalled in all.
func (w *watchdog) close() time.Duration {
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stalled
}

package main

import (
	"fmt"
	"io"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// WorkerCommand builds the command of one worker process: it must run workerProcess on url
// with worker id id and run id run.
type WorkerCommand func(id, url, run string) *exec.Cmd

// fleet supervises the soak's worker processes: it starts them, kills one on the monkey's
// demand (and starts its replacement), restarts any that exits on its own — which it
// counts, since a worker must never die of a database fault — and stops them all at the end.
type fleet struct {
	command WorkerCommand
	url     string
	run     string
	logs    func(id string) io.Writer

	mu         sync.Mutex
	procs      []*workerProc
	started    int
	unexpected []string // "id: exit status" of workers that ended without being killed
	stopping   bool
	watchers   sync.WaitGroup
	resumes    sync.WaitGroup // pending SIGCONTs of paused workers
}

// workerProc is one worker process, one incarnation of a slot.
type workerProc struct {
	id     string
	cmd    *exec.Cmd
	stdin  io.WriteCloser // closing it asks the process to stop; its death closes it too
	done   chan struct{}
	err    error // cmd.Wait's result, set before done is closed
	killed bool  // by the monkey or the final stop
}

// startAll starts n worker processes.
func (f *fleet) startAll(n int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.procs = make([]*workerProc, n)
	for i := range f.procs {
		if err := f.startLocked(i); err != nil {
			return err
		}
	}
	return nil
}

// startLocked starts a new incarnation of slot i.
func (f *fleet) startLocked(i int) error {
	f.started++
	id := fmt.Sprintf("%s-slot%d-%d", f.run, i+1, f.started) // see slotTag
	p := &workerProc{id: id, cmd: f.command(id, f.url, f.run), done: make(chan struct{})}
	out := f.logs(id)
	p.cmd.Stdout, p.cmd.Stderr = out, out
	stdin, err := p.cmd.StdinPipe()
	if err != nil {
		return fmt.Errorf("chaos: worker %s stdin: %w", id, err)
	}
	p.stdin = stdin
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("chaos: start worker %s: %w", id, err)
	}
	f.procs[i] = p
	f.watchers.Add(1)
	go f.watch(i, p)
	return nil
}

// watch waits for a process to end and restarts its slot if it ended on its own.
func (f *fleet) watch(i int, p *workerProc) {
	defer f.watchers.Done()
	p.err = p.cmd.Wait()
	close(p.done)
	f.mu.Lock()
	if p.killed || f.stopping {
		f.mu.Unlock()
		return
	}
	f.unexpected = append(f.unexpected, fmt.Sprintf("%s: %v", p.id, p.err))
	f.mu.Unlock()
	time.Sleep(200 * time.Millisecond) // no busy loop if workers cannot start at all
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopping || f.procs[i] != p { // stopped, or already replaced by a kill
		return
	}
	if err := f.startLocked(i); err != nil {
		f.unexpected = append(f.unexpected, err.Error())
	}
}

// kill SIGKILLs the worker in slot i, waits for it to die and starts its replacement. It
// returns the killed worker's id.
func (f *fleet) kill(i int) (string, error) {
	f.mu.Lock()
	p := f.procs[i]
	p.killed = true
	f.mu.Unlock()
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopping {
		return p.id, nil
	}
	return p.id, f.startLocked(i)
}

// pause SIGSTOPs the worker in slot i — a frozen process, like a long GC pause or a VM
// stall, whose leases expire while it still believes it holds them — and SIGCONTs it after d.
// It returns the paused worker's id.
func (f *fleet) pause(i int, d time.Duration) (string, error) {
	f.mu.Lock()
	p := f.procs[i]
	f.mu.Unlock()
	if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		return p.id, fmt.Errorf("chaos: pause worker %s: %w", p.id, err)
	}
	f.resumes.Add(1)
	time.AfterFunc(d, func() {
		defer f.resumes.Done()
		_ = p.cmd.Process.Signal(syscall.SIGCONT) // fails harmlessly if it was killed meanwhile
	})
	return p.id, nil
}

// size is the number of slots.
func (f *fleet) size() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.procs)
}

// stop asks every worker to stop gracefully (closing its stdin) and kills those still
// running after timeout. It reports the workers that had to be killed.
func (f *fleet) stop(timeout time.Duration) []string {
	f.mu.Lock()
	f.stopping = true
	procs := append([]*workerProc(nil), f.procs...)
	f.mu.Unlock()
	f.resumes.Wait() // no worker is left frozen
	for _, p := range procs {
		if p != nil {
			_ = p.stdin.Close()
		}
	}
	var hung []string
	deadline := time.After(timeout)
	for _, p := range procs {
		if p == nil {
			continue
		}
		select {
		case <-p.done:
		case <-deadline:
			f.mu.Lock()
			p.killed = true
			f.mu.Unlock()
			hung = append(hung, p.id)
			_ = p.cmd.Process.Signal(syscall.SIGKILL)
			<-p.done
		}
	}
	f.watchers.Wait()
	return hung
}

// unexpectedExits returns the workers that ended on their own.
func (f *fleet) unexpectedExits() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.unexpected...)
}

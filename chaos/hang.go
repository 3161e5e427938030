package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// hangPostgres freezes the whole server — the postmaster and every backend — with SIGSTOP
// for d, then lets it continue: to its clients Postgres is unreachable without closing a
// connection, as in a network partition or a stalled host. Run past the workers' leases, it
// makes their heartbeats time out, so each must stop trusting its leases before they expire,
// and find them rescued once the server is back. It needs Linux's /proc.
func hangPostgres(dataDir string, d time.Duration) error {
	pm, err := postmasterPID(dataDir)
	if err != nil {
		return err
	}
	if err := syscall.Kill(pm, syscall.SIGSTOP); err != nil {
		return fmt.Errorf("chaos: stop the postmaster: %w", err)
	}
	// The postmaster is stopped, so no backend is forked while the others are stopped.
	children, err := childPIDs(pm)
	for _, pid := range children {
		_ = syscall.Kill(pid, syscall.SIGSTOP)
	}
	if err == nil {
		time.Sleep(d)
	}
	for _, pid := range children {
		_ = syscall.Kill(pid, syscall.SIGCONT)
	}
	if cerr := syscall.Kill(pm, syscall.SIGCONT); cerr != nil && err == nil {
		err = fmt.Errorf("chaos: continue the postmaster: %w", cerr)
	}
	return err
}

// postmasterPID reads the server's pid from the first line of postmaster.pid.
func postmasterPID(dataDir string) (int, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0, fmt.Errorf("chaos: read postmaster.pid: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		return 0, fmt.Errorf("chaos: postmaster.pid: %w", err)
	}
	return pid, nil
}

// childPIDs lists the processes whose parent is pid, from /proc.
func childPIDs(parent int) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("chaos: list processes: %w", err)
	}
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		f, err := os.Open(filepath.Join("/proc", e.Name(), "status"))
		if err != nil {
			continue // gone meanwhile
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "PPid:"); ok {
				if ppid, _ := strconv.Atoi(strings.TrimSpace(v)); ppid == parent {
					out = append(out, pid)
				}
				break
			}
		}
		_ = f.Close()
	}
	return out, nil
}

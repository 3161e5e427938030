package pglaunch

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ownerFile, inside a cluster directory, holds the pid of the process that
// started the cluster. A cluster whose owner is dead is abandoned.
const ownerFile = "stent-owner.pid"

// writeOwner records the calling process as the owner of the cluster in dir.
func writeOwner(dir string) error {
	path := filepath.Join(dir, ownerFile)
	if err := os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return fmt.Errorf("pglaunch: write owner file: %w", err)
	}
	return nil
}

// readPID parses the pid on the first line of path (stent-owner.pid, or
// PostgreSQL's postmaster.pid, whose first line is the postmaster's pid).
func readPID(path string) (int, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(sc.Text()))
	return pid, err == nil && pid > 0
}

// CleanupStale stops and deletes the abandoned clusters directly under root:
// the directories holding a stent-owner.pid whose process no longer exists
// (a test binary that crashed, was killed, or timed out before stopping its
// cluster). A still-running server there is stopped like `pg_ctl stop -m
// immediate`. Directories without an owner file, with one written by another
// user, or whose owner is alive, are left alone, so CleanupStale is safe to run while other processes start
// clusters under the same root. It is best effort and reports nothing.
func CleanupStale(root string) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(root, e.Name())
		ownerPath := filepath.Join(dir, ownerFile)
		// Only this user's clusters: in a shared root, another user could
		// plant an owner file to make us signal an arbitrary postmaster.
		if info, err := os.Lstat(ownerPath); err != nil || !ownedBySelf(info) {
			continue
		}
		owner, ok := readPID(ownerPath)
		if !ok || processAlive(owner) {
			continue
		}
		stopAbandoned(dir)
		_ = os.RemoveAll(dir)
	}
}

// stopAbandoned stops the server of an abandoned cluster directory if one is
// still running, with pg_ctl when it can be found, else by signalling the
// postmaster directly.
func stopAbandoned(dir string) {
	dataDir := filepath.Join(dir, "data")
	pidFile := filepath.Join(dataDir, "postmaster.pid")
	pid, ok := readPID(pidFile)
	if !ok || !processAlive(pid) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	if binDir, err := serverBinDir(); err == nil {
		if acct, err := serverAccount(); err == nil {
			cmd := acct.command(dir, filepath.Join(binDir, "pg_ctl"), "stop", "-D", dataDir, "-m", "immediate", "-w", "-s")
			if runContext(ctx, cmd) == nil {
				return
			}
		}
	}
	// No usable pg_ctl: do what it does, then wait for the postmaster to
	// remove its pid file on exit.
	sig, _ := shutdownSignal("immediate")
	p, err := os.FindProcess(pid)
	if err != nil || p.Signal(sig) != nil {
		return
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := os.Stat(pidFile); err != nil {
			return
		}
		select {
		case <-ctx.Done():
			_ = p.Kill()
			return
		case <-tick.C:
		}
	}
}

package pglaunch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

const (
	// defaultStartTimeout bounds a start when the caller's context has no
	// deadline.
	defaultStartTimeout = time.Minute
	// stopTimeout bounds a shutdown before the postmaster is killed.
	stopTimeout = time.Minute
	// portAttempts is how often a start is retried on a new port when another
	// process took the free port first.
	portAttempts = 5
	// logFileName is the default server log inside Dir.
	logFileName = "postgres.log"
)

// postmaster is one run of the postgres server process.
type postmaster struct {
	cmd     *exec.Cmd
	exited  chan struct{} // closed once the process has exited and been reaped
	waitErr error         // the process's exit status; read after exited is closed
}

// launchOnFreePort launches the server, picking a free port first when
// autoPort is set, and picks another if the chosen one was taken in between.
func (c *Cluster) launchOnFreePort(ctx context.Context, autoPort bool) (*postmaster, error) {
	for attempt := 1; ; attempt++ {
		if autoPort {
			port, err := freePort()
			if err != nil {
				return nil, err
			}
			c.port = port
		}
		pm, err := c.launch(ctx)
		if err == nil || !autoPort || attempt == portAttempts || !errors.Is(err, errPortInUse) {
			return pm, err
		}
	}
}

// errPortInUse marks a launch that failed because the port was taken.
var errPortInUse = errors.New("port in use")

// launch starts postgres on c.port and waits until it accepts connections.
// On failure the error carries the end of the server log.
func (c *Cluster) launch(ctx context.Context) (*postmaster, error) {
	args := []string{"-D", c.DataDir(), "-c", "port=" + strconv.Itoa(c.port)}
	names := make([]string, 0, len(c.settings))
	for name := range c.settings {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		args = append(args, "-c", name+"="+c.settings[name])
	}
	cmd := c.acct.command(c.dir, filepath.Join(c.binDir, "postgres"), args...)

	var tail tailBuffer
	var logFile *os.File
	if c.logger != nil {
		w := io.MultiWriter(c.logger, &tail)
		cmd.Stdout, cmd.Stderr = w, w
	} else {
		f, err := os.OpenFile(filepath.Join(c.dir, logFileName), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("pglaunch: open server log: %w", err)
		}
		logFile = f
		cmd.Stdout, cmd.Stderr = f, f
	}
	// Quote only this run's output: the log file keeps earlier runs.
	var logStart int64
	if logFile != nil {
		if info, err := logFile.Stat(); err == nil {
			logStart = info.Size()
		}
	}
	logTail := func() string {
		if logFile != nil {
			return readTail(logFile.Name(), logStart)
		}
		return tail.String()
	}

	if err := cmd.Start(); err != nil {
		if logFile != nil {
			logFile.Close()
		}
		return nil, fmt.Errorf("pglaunch: start postgres: %w", err)
	}
	// The child holds its own copy of the log file descriptor.
	if logFile != nil {
		logFile.Close()
	}
	pm := &postmaster{cmd: cmd, exited: make(chan struct{})}
	go func() {
		pm.waitErr = cmd.Wait()
		close(pm.exited)
	}()

	if err := c.waitReady(ctx, pm); err != nil {
		_ = pm.shutdown("immediate") // also ends the server's children
		log := logTail()
		if strings.Contains(log, "could not bind") || strings.Contains(log, "could not create any TCP/IP sockets") {
			err = fmt.Errorf("%w: %w", errPortInUse, err)
		}
		return nil, fmt.Errorf("pglaunch: start postgres on port %d: %w\nserver log:\n%s", c.port, err, log)
	}
	return pm, nil
}

// waitReady polls with connection attempts until the server accepts one, the
// process exits, or the deadline passes. The poll interval grows from 5 ms to
// 100 ms, so a fast start is noticed at once.
func (c *Cluster) waitReady(ctx context.Context, pm *postmaster) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultStartTimeout)
		defer cancel()
	}
	// A connection attempt must not outlive the process: if the port belongs
	// to someone else, the attempt would hang until its timeout.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-pm.exited:
			cancel()
		case <-ctx.Done():
		}
	}()
	url := c.URL("postgres") + "&connect_timeout=5"
	interval := 5 * time.Millisecond
	timer := time.NewTimer(0)
	defer timer.Stop()
	var lastErr error
	for {
		select {
		case <-pm.exited:
		case <-ctx.Done():
		case <-timer.C:
			conn, err := pgconn.Connect(ctx, url)
			if err == nil {
				return conn.Close(ctx)
			}
			lastErr = err
			timer.Reset(interval)
			interval = min(2*interval, 100*time.Millisecond)
			continue
		}
		// Report an exit rather than the cancellation it caused.
		select {
		case <-pm.exited:
			return fmt.Errorf("postgres exited during startup: %v", pm.waitErr)
		default:
			return fmt.Errorf("not ready: %w (last connection error: %v)", ctx.Err(), lastErr)
		}
	}
}

// shutdown signals the postmaster the way pg_ctl stop -m mode does and waits
// for it to exit, killing it if it takes longer than stopTimeout.
func (pm *postmaster) shutdown(mode string) error {
	sig, err := shutdownSignal(mode)
	if err != nil {
		return err
	}
	select {
	case <-pm.exited:
		return nil // already gone (crashed or killed from outside)
	default:
	}
	if err := pm.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("pglaunch: signal postgres: %w", err)
	}
	select {
	case <-pm.exited:
		return nil
	case <-time.After(stopTimeout):
		_ = pm.cmd.Process.Kill()
		<-pm.exited
		return fmt.Errorf("pglaunch: postgres did not stop within %s (%s shutdown); killed it", stopTimeout, mode)
	}
}

// freePort asks the kernel for a free TCP port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pglaunch: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

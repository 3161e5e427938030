//go:build unix

package pglaunch

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"syscall"
)

// serverUser is the unprivileged account PostgreSQL programs run as when the
// calling process is root. Distribution packages create it.
const serverUser = "postgres"

// account is the operating-system identity that initdb, pg_ctl and postgres
// run as, and that owns the cluster directory.
type account struct {
	cred *syscall.Credential // nil: the calling process's own identity
}

// serverAccount returns the calling user, or the postgres system user when
// the caller is root: initdb and postgres refuse to run as root.
func serverAccount() (account, error) {
	if os.Geteuid() != 0 {
		return account{}, nil
	}
	u, err := user.Lookup(serverUser)
	if err != nil {
		return account{}, fmt.Errorf("pglaunch: running as root, but initdb and postgres refuse to run as root "+
			"and the unprivileged %q system user to run them as does not exist "+
			"(the postgresql package creates it; or: useradd --system %s): %w", serverUser, serverUser, err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return account{}, fmt.Errorf("pglaunch: parse uid of user %q: %w", serverUser, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return account{}, fmt.Errorf("pglaunch: parse gid of user %q: %w", serverUser, err)
	}
	// An empty, non-nil Groups drops root's supplementary groups.
	return account{cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}}, nil
}

// command builds a command for a PostgreSQL program that runs as the account,
// in dir (the caller's working directory may not be readable by it).
func (a account) command(dir, program string, args ...string) *exec.Cmd {
	cmd := exec.Command(program, args...)
	cmd.Dir = dir
	if a.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: a.cred}
	}
	return cmd
}

// chown hands path to the account, so that the server can create its data
// directory and socket inside it. A no-op when running as oneself.
func (a account) chown(path string) error {
	if a.cred == nil {
		return nil
	}
	if err := os.Chown(path, int(a.cred.Uid), int(a.cred.Gid)); err != nil {
		return fmt.Errorf("pglaunch: give %s to user %q: %w", path, serverUser, err)
	}
	return nil
}

// processAlive reports whether a process with this pid exists. EPERM means it
// exists but belongs to someone else.
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return (err == nil || errors.Is(err, syscall.EPERM)) && !zombie(pid)
}

// zombie reports whether pid has exited but not been reaped yet, which
// happens to a killed test binary in containers whose init does not reap
// orphans promptly. Linux only; elsewhere it answers false.
func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses and may
	// itself contain spaces or parentheses: "pid (comm) S ...".
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] == 'Z'
}

// shutdownSignal maps a pg_ctl shutdown mode to the signal pg_ctl would send
// the postmaster.
func shutdownSignal(mode string) (os.Signal, error) {
	switch mode {
	case "fast":
		return syscall.SIGINT, nil
	case "immediate":
		return syscall.SIGQUIT, nil
	}
	return nil, fmt.Errorf("pglaunch: unknown shutdown mode %q (want \"fast\" or \"immediate\")", mode)
}

// ownedBySelf reports whether the file belongs to the calling user.
func ownedBySelf(info os.FileInfo) bool {
	st, ok := info.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Geteuid()
}

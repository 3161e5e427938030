//go:build !unix

package pglaunch

import (
	"errors"
	"os"
	"os/exec"
)

var errUnsupported = errors.New("pglaunch: starting PostgreSQL is only supported on Unix; " +
	"set DATABASE_URL / STENT_TEST_DATABASE_URL to use an existing server")

type account struct{}

func serverAccount() (account, error) { return account{}, errUnsupported }

func (account) command(dir, program string, args ...string) *exec.Cmd {
	cmd := exec.Command(program, args...)
	cmd.Dir = dir
	return cmd
}

func (account) chown(string) error { return nil }

// processAlive answers true so that CleanupStale never removes a cluster it
// cannot prove abandoned.
func processAlive(int) bool { return true }

func shutdownSignal(string) (os.Signal, error) { return nil, errUnsupported }

func ownedBySelf(os.FileInfo) bool { return false }

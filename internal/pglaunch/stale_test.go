package pglaunch

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

func TestCleanupStale(t *testing.T) {
	t.Parallel()
	root := sharedTempDir(t)
	abandoned := filepath.Join(root, "abandoned")

	// A child process (this test binary in helper mode) starts a cluster and
	// is SIGKILLed, leaving the server running with a dead owner.
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), helperDirEnv+"="+abandoned)
	child.Stderr = os.Stderr
	stdin, err := child.StdinPipe()
	require.NoError(t, err)
	defer stdin.Close()
	stdout, err := child.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, child.Start())
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err, "helper did not report a started cluster")
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "ready ")
	require.True(t, ok, "unexpected helper output %q", line)
	require.NoError(t, child.Process.Kill())
	_ = child.Wait()

	conn, err := pgx.Connect(t.Context(), url)
	require.NoError(t, err, "the abandoned server outlives its owner")
	require.NoError(t, conn.Close(t.Context()))

	// Neighbours that must survive: a live cluster owned by this process, and
	// a directory that is not a cluster.
	live := startCluster(t, Options{Dir: filepath.Join(root, "live")})
	unrelated := filepath.Join(root, "unrelated")
	require.NoError(t, os.Mkdir(unrelated, 0o755))
	// An owner file of another user, naming a dead process, is not ours to
	// act on. (Only root can give a file away.)
	foreign := filepath.Join(root, "foreign")
	if os.Geteuid() == 0 {
		require.NoError(t, os.Mkdir(foreign, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(foreign, ownerFile), []byte(strconv.Itoa(child.Process.Pid)), 0o644))
		require.NoError(t, os.Chown(filepath.Join(foreign, ownerFile), 1, 1))
	}

	CleanupStale(root)

	require.NoDirExists(t, abandoned)
	_, err = pgx.Connect(t.Context(), url)
	require.Error(t, err, "the abandoned server is stopped")
	require.DirExists(t, unrelated)
	if os.Geteuid() == 0 {
		require.DirExists(t, foreign)
	}
	require.DirExists(t, live.DataDir())
	conn = connect(t, live.URL("postgres"))
	require.NoError(t, conn.Ping(t.Context()))

	CleanupStale(filepath.Join(root, "missing")) // no root: nothing to do
}

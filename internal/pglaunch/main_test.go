package pglaunch

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// helperDirEnv, when set, turns the test binary into a helper process that
// starts a cluster in that directory, reports its URL on stdout and waits to
// be killed (see TestCleanupStale).
const helperDirEnv = "PGLAUNCH_TEST_HELPER_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(helperDirEnv); dir != "" {
		helperMain(dir)
		return
	}
	goleak.VerifyTestMain(m)
}

// helperMain starts a cluster owned by this process and blocks until stdin
// closes; the parent test SIGKILLs it first, abandoning the cluster.
func helperMain(dir string) {
	c, err := Start(context.Background(), Options{Dir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(1)
	}
	fmt.Println("ready", c.URL("postgres"))
	_, _ = io.Copy(io.Discard, bufio.NewReader(os.Stdin))
	_ = c.Stop()
	os.Exit(0)
}

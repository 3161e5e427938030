package worker_test

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/stentdev/stent/stenttest"
)

// TestMain runs the package's tests on one throwaway PostgreSQL cluster (started on first
// use, so the helper subprocesses of the crash tests never start one) and checks that no
// goroutine outlives them.
func TestMain(m *testing.M) {
	code := stenttest.Run(m)
	if code == 0 && os.Getenv(envHelperMode) == "" {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stenttest"
)

func TestMain(m *testing.M) { stenttest.Main(m) }

func TestQuickstart(t *testing.T) {
	t.Parallel()
	pool := stenttest.Pool(t)
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), pool, options{jobs: 5}, &out))
	require.Contains(t, out.String(), "dispatched 5 jobs")
	require.Contains(t, out.String(), "all 5 jobs completed")
	for _, name := range []string{"job-01", "job-05"} {
		require.Contains(t, out.String(), "hello, "+name)
	}
	require.Equal(t, 5, strings.Count(out.String(), "attempt 1)"))
}

// TestQuickstartMetrics: with -metrics-addr the example serves /metrics, where the five
// completed jobs are counted.
func TestQuickstartMetrics(t *testing.T) {
	t.Parallel()
	pool := stenttest.Pool(t)
	var out bytes.Buffer
	const want = `stent_tasks_completed_total{function="quickstart.greet",queue="default"} 5`
	var page string
	o := options{jobs: 5, metricsAddr: "127.0.0.1:0", afterJobs: func(url string) {
		// Wait reports an execution finished as soon as it committed; the worker counts the
		// completion right after, so poll briefly.
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(page, want) && time.Now().Before(deadline) {
			resp, err := http.Get(url)
			require.NoError(t, err)
			b, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())
			page = string(b)
			if !strings.Contains(page, want) {
				time.Sleep(20 * time.Millisecond)
			}
		}
	}}
	require.NoError(t, run(context.Background(), pool, o, &out))
	require.Contains(t, out.String(), "metrics on http://127.0.0.1:")
	require.Contains(t, page, want)
	require.Contains(t, page, `stent_executions_dispatched_total{function="quickstart.greet",queue="default"} 5`)
	require.Contains(t, page, "stent_queue_stats_up 1")
	require.Contains(t, page, "# TYPE stent_attempt_duration_seconds histogram")
}

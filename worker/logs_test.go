package worker_test

import (
	"context"
	"errors"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/stenttest"
	"github.com/stentdev/stent/worker"
)

// TestLogLevels: a retried attempt logs a warning, a dead letter an error, a completion a
// debug event, each with the execution, task, function and attempt; payloads only with
// Config.LogPayloads.
func TestLogLevels(t *testing.T) {
	t.Parallel()
	b := setup(t)
	fail := stent.NewActivity("logs.fail", func(ctx context.Context, s string) (string, error) {
		return "", errors.New("always")
	}, fastRetry(2), b.in())
	ok := stent.NewActivity("logs.ok", func(ctx context.Context, s string) (string, error) { return s + "-out", nil }, b.in())
	proc := newTracedClient(t, b)
	logs := &syncBuffer{}
	log := zerolog.New(logs).Level(zerolog.DebugLevel)
	payloads := stenttest.Client(t, proc.client.Pool(), stent.Config{Registry: b.reg, Logger: &log, LogPayloads: true})
	stop := proc.run(t, worker.Config{})
	failID, err := fail.Dispatch(b.ctx(), proc.client, "in-fail")
	require.NoError(t, err)
	okID, err := ok.Dispatch(b.ctx(), payloads, "in-ok")
	require.NoError(t, err)
	_, err = fail.Wait(b.ctx(), proc.client, failID)
	require.Error(t, err)
	_, err = ok.Wait(b.ctx(), proc.client, okID)
	require.NoError(t, err)
	stop()

	levels := map[string][]string{}
	for _, ev := range proc.logs.events(t) {
		msg, _ := ev["message"].(string)
		if ev["execution_id"] == failID.String() || ev["execution_id"] == okID.String() {
			if _, isTask := ev["task_id"]; isTask && ev["worker_id"] != nil {
				require.NotEmpty(t, ev["function"], msg)
				require.NotZero(t, ev["attempt"], msg)
			}
			levels[msg] = append(levels[msg], ev["level"].(string))
		}
	}
	require.Equal(t, []string{"warn"}, levels["stent: attempt failed; will retry"])
	require.Equal(t, []string{"error"}, levels["stent: task failed; moved to the dead-letter queue"])
	require.Equal(t, []string{"debug"}, levels["stent: attempt completed"])
	proc.logs.mu.Lock()
	require.NotContains(t, proc.logs.b.String(), "in-", "no payload without LogPayloads")
	proc.logs.mu.Unlock()
	logs.mu.Lock()
	require.Contains(t, logs.b.String(), `"input":"in-ok"`, "LogPayloads logs the dispatched input")
	logs.mu.Unlock()
}

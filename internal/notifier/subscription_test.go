package notifier

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestValidateChannel(t *testing.T) {
	t.Parallel()
	require.NoError(t, ValidateChannel("stent_tasks"))
	require.NoError(t, ValidateChannel(`Mixed "quoted" name; DROP TABLE x`))
	require.NoError(t, ValidateChannel(strings.Repeat("a", 63)))
	require.Error(t, ValidateChannel(""))
	require.Error(t, ValidateChannel(strings.Repeat("a", 64)))
	require.Error(t, ValidateChannel("bad\x00name"))
	require.Error(t, ValidateChannel("bad\xffname"))

	n := New(nil, Config{})
	require.Panics(t, func() { n.Subscribe("ok", "") })
}

func TestQuotedChannelName(t *testing.T) {
	t.Parallel()
	pool := newTestPool(t)
	n := newTestNotifier(t, pool, Config{})
	ch := `Odd "Name"; ` + uniqueChannel(t)
	sub := n.Subscribe(ch)
	startNotifier(t, n)
	waitClosed(t, sub.Ready(), "subscription ready")
	notify(t, pool, ch, "quoted")
	require.Equal(t, Notification{Channel: ch, Payload: "quoted"}, receiveNotification(t, sub))
}

func TestReconnectBackoff(t *testing.T) {
	t.Parallel()
	const maxBackoff = 3 * time.Second
	want := minBackoff
	for attempt := 1; attempt <= 40; attempt++ {
		for range 20 {
			d := reconnectBackoff(attempt, maxBackoff)
			require.GreaterOrEqual(t, d, want/2, "attempt %d", attempt)
			require.LessOrEqual(t, d, want, "attempt %d", attempt)
		}
		want = min(want*2, maxBackoff)
	}
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	cfg := Config{}.withDefaults()
	require.Equal(t, DefaultPingInterval, cfg.PingInterval)
	require.Equal(t, DefaultMaxBackoff, cfg.MaxBackoff)
	cfg = Config{PingInterval: time.Second, MaxBackoff: time.Minute}.withDefaults()
	require.Equal(t, time.Second, cfg.PingInterval)
	require.Equal(t, time.Minute, cfg.MaxBackoff)
}

package main

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stentdev/stent/stent"
	"github.com/stentdev/stent/stenttest"
	"github.com/stentdev/stent/worker"
)

// t0 is the database time of flow-control tests, for their pool and for every command.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// flowBundle is a fresh database whose clock stands at t0, a client on it with its own
// registry, and commands that see the same clock.
type flowBundle struct {
	*testBundle
	reg    *stent.Registry
	client *stent.Client
}

func setupFlow(t *testing.T) *flowBundle {
	t.Helper()
	dbURL := stenttest.DB(t)
	pool := stenttest.Pool(t, stenttest.WithURL(dbURL), stenttest.WithClock(stenttest.NewClock(t0)), stenttest.WithMaxConns(8))
	reg := stent.NewRegistry()
	return &flowBundle{testBundle: &testBundle{dbURL: dbURL, pool: pool}, reg: reg,
		client: stenttest.Client(t, pool, stent.Config{Registry: reg})}
}

// stent runs a command with the database clock at t0 (stent.fake_now in the connection's
// startup options).
func (b *flowBundle) stent(t *testing.T, args ...string) result {
	t.Helper()
	opt := "-c stent.fake_now=" + t0.Format(time.RFC3339)
	dbURL := b.dbURL
	if u, err := url.Parse(dbURL); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Set("options", opt)
		u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20") // pgx reads + literally
		dbURL = u.String()
	} else {
		dbURL += " options='" + opt + "'"
	}
	return runCLI(t, t.Context(), nil, append([]string{"--database-url", dbURL}, args...)...)
}

// limits reads the limits in force through the library, to check what commands changed.
func (b *flowBundle) limits(t *testing.T) map[string]stent.Limits {
	t.Helper()
	l, err := b.client.ListLimits(t.Context())
	require.NoError(t, err)
	return l
}

func TestLimitsSetListReset(t *testing.T) {
	t.Parallel()
	b := setupFlow(t)

	require.Equal(t, result{code: exitOK, stdout: "No limits.\n"}, b.stent(t, "limits", "list"))
	require.Equal(t, result{code: exitOK, stdout: "[]\n"}, b.stent(t, "limits", "list", "-o", "json"))

	res := b.stent(t, "limits", "set", "billing.charge", "--max-concurrent", "5", "--rate", "10/s")
	require.Equal(t, result{code: exitOK, stdout: "Limits of billing.charge set: max concurrent 5, per key -, rate 10/1s, rate per key -.\n" +
		"The override holds on every worker until `stent limits reset billing.charge`.\n"}, res)
	// Only the limits named change; 0 removes one.
	res = b.stent(t, "limits", "set", "billing.charge", "--max-concurrent-per-key", "2", "--rate-per-key", "3/1m30s", "--rate", "0")
	require.Equal(t, exitOK, res.code, res.stderr)
	res = b.stent(t, "-o", "json", "limits", "set", "mail.send", "--rate", "600/1h")
	require.Equal(t, exitOK, res.code, res.stderr)
	require.JSONEq(t, `{"name": "mail.send", "max_concurrent": null, "max_concurrent_per_key": null,
		"rate": {"count": 600, "per": "1h", "per_seconds": 3600}, "rate_per_key": null, "overridden": true}`, res.stdout)

	require.Equal(t, map[string]stent.Limits{
		"billing.charge": {MaxConcurrent: 5, MaxConcurrentPerKey: 2, RatePerKey: stent.Rate{Count: 3, Per: 90 * time.Second}, Overridden: true},
		"mail.send":      {Rate: stent.Rate{Count: 600, Per: time.Hour}, Overridden: true},
	}, b.limits(t))

	require.Equal(t, result{code: exitOK, stdout: "FUNCTION        MAX CONCURRENT  PER KEY  RATE    RATE PER KEY  OVERRIDDEN\n" +
		"billing.charge  5               2        -       3/1m30s       yes\n" +
		"mail.send       -               -        600/1h  -             yes\n"}, b.stent(t, "limits", "list"))
	res = b.stent(t, "limits", "list", "-o", "json")
	require.Equal(t, exitOK, res.code, res.stderr)
	require.JSONEq(t, `[
		{"name": "billing.charge", "max_concurrent": 5, "max_concurrent_per_key": 2, "rate": null,
		 "rate_per_key": {"count": 3, "per": "1m30s", "per_seconds": 90}, "overridden": true},
		{"name": "mail.send", "max_concurrent": null, "max_concurrent_per_key": null,
		 "rate": {"count": 600, "per": "1h", "per_seconds": 3600}, "rate_per_key": null, "overridden": true}]`, res.stdout)

	require.Equal(t, result{code: exitOK, stdout: "Limits of mail.send reset: workers registering it restore the limits of its code.\n"},
		b.stent(t, "limits", "reset", "mail.send"))
	require.Equal(t, result{code: exitFailure, stderr: "stent: no run-time override of the limits of mail.send: not found\n"},
		b.stent(t, "limits", "reset", "mail.send"))
	res = b.stent(t, "limits", "reset", "billing.charge", "-o", "json")
	require.Equal(t, exitOK, res.code, res.stderr)
	require.JSONEq(t, `{"name": "billing.charge", "reset": true}`, res.stdout)
	require.Empty(t, b.limits(t))
	require.Equal(t, result{code: exitOK, stdout: "No limits.\n"}, b.stent(t, "limits", "list"))
}

// TestLimitsOverrideCodeLimits checks that the commands show and override the limits a
// worker registered from its code, and that an override keeps the limits it does not name.
func TestLimitsOverrideCodeLimits(t *testing.T) {
	t.Parallel()
	b := setupFlow(t)
	stent.NewActivity("cli.limited", func(context.Context, int) (int, error) { return 0, nil },
		stent.InRegistry(b.reg), stent.MaxConcurrent(3), stent.RateLimitPerKey(2, time.Second), stent.KeyField("tenant"))
	stenttest.StartWorker(t, b.client, worker.Config{Concurrency: 2})

	require.Equal(t, result{code: exitOK, stdout: "FUNCTION     MAX CONCURRENT  PER KEY  RATE  RATE PER KEY  OVERRIDDEN\n" +
		"cli.limited  3               -        -     2/1s          no\n"}, b.stent(t, "limits", "list"))

	res := b.stent(t, "limits", "set", "cli.limited", "--max-concurrent", "1")
	require.Equal(t, exitOK, res.code, res.stderr)
	require.Equal(t, map[string]stent.Limits{"cli.limited": {MaxConcurrent: 1, RatePerKey: stent.Rate{Count: 2, Per: time.Second},
		Overridden: true}}, b.limits(t))

	require.Equal(t, exitOK, b.stent(t, "limits", "reset", "cli.limited").code)
	// Until a worker registers the function again, it has no limits.
	require.Empty(t, b.limits(t))
}

func TestLimitsSetBadInput(t *testing.T) {
	t.Parallel()
	b := setupFlow(t)
	require.Equal(t, exitOK, b.stent(t, "limits", "set", "f", "--max-concurrent", "4", "--rate", "5/1s").code)
	before := b.limits(t)

	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"--max-concurrent", "abc"}, exitFailure, `invalid --max-concurrent "abc": want a whole number from 1 to 2147483647, or 0 for no limit`},
		{[]string{"--max-concurrent", "-1"}, exitFailure, `invalid --max-concurrent "-1"`},
		{[]string{"--max-concurrent-per-key", "2147483648"}, exitFailure, `invalid --max-concurrent-per-key "2147483648"`},
		{[]string{"--rate", "10"}, exitFailure, `invalid --rate "10": want N/PERIOD such as 10/1s, or 0 for no limit`},
		{[]string{"--rate", "x/1s"}, exitFailure, `invalid --rate "x/1s": the count must be a whole number from 1 to 2147483647`},
		{[]string{"--rate", "0/1s"}, exitFailure, `invalid --rate "0/1s": the count must be`},
		{[]string{"--rate", "10/fortnight"}, exitFailure, `invalid --rate "10/fortnight": the period must be a duration such as 1s, 500ms or 1m`},
		{[]string{"--rate", "10/-1s"}, exitFailure, `invalid --rate "10/-1s": the period must be a duration`},
		{[]string{"--rate-per-key", "10/500us"}, exitFailure, `invalid --rate-per-key "10/500us": the period must be at least 1ms`},
		// A valid flag does not apply when another is bad.
		{[]string{"--max-concurrent", "9", "--rate", "1/0s"}, exitFailure, `invalid --rate "1/0s": the period must be at least 1ms`},
		{nil, exitUsage, "nothing to set: pass --max-concurrent, --max-concurrent-per-key, --rate or --rate-per-key"},
		{[]string{"--max-concurrent=1", "--burst", "3"}, exitUsage, "unknown flag: --burst"},
	} {
		t.Run(strings.Join(tc.args, "_"), func(t *testing.T) {
			t.Parallel()
			res := b.stent(t, append([]string{"limits", "set", "f"}, tc.args...)...)
			require.Equal(t, tc.code, res.code, res.stderr)
			require.Empty(t, res.stdout)
			require.True(t, strings.HasPrefix(res.stderr, "stent: "+tc.stderr), res.stderr)
			require.Equal(t, before, b.limits(t), "nothing changed")
		})
	}

	t.Run("BadName", func(t *testing.T) {
		t.Parallel()
		res := b.stent(t, "limits", "set", "no spaces", "--max-concurrent", "1")
		require.Equal(t, result{code: exitFailure,
			stderr: "stent: invalid function name: \"no spaces\" must be 1-200 characters of letters, digits and _ . : / -\n"}, res)
		require.Equal(t, before, b.limits(t))
	})
	t.Run("NoName", func(t *testing.T) {
		t.Parallel()
		res := b.stent(t, "limits", "set", "--max-concurrent", "1")
		require.Equal(t, exitUsage, res.code)
		require.Contains(t, res.stderr, "accepts 1 arg(s), received 0")
	})
}

func TestParseRate(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]stent.Rate{
		"0":        {},
		"10/1s":    {Count: 10, Per: time.Second},
		"10/s":     {Count: 10, Per: time.Second},
		" 600/1m ": {Count: 600, Per: time.Minute},
		"5/250ms":  {Count: 5, Per: 250 * time.Millisecond},
		"1/.5s":    {Count: 1, Per: 500 * time.Millisecond},
		"3/1h30m":  {Count: 3, Per: 90 * time.Minute},
		"7/1ms":    {Count: 7, Per: time.Millisecond},
	} {
		got, err := parseRate("--rate", in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "/", "10/", "/1s", "1.5/1s", "10/1", "10/0", "10/1s/2", "ten/1s"} {
		_, err := parseRate("--rate", in)
		require.Error(t, err, in)
	}
	for d, want := range map[time.Duration]string{time.Second: "1s", time.Minute: "1m", time.Hour: "1h",
		90 * time.Minute: "1h30m", 90 * time.Second: "1m30s", 24 * time.Hour: "24h", 250 * time.Millisecond: "250ms",
		time.Hour + time.Second: "1h0m1s"} {
		require.Equal(t, want, formatDuration(d))
	}
}

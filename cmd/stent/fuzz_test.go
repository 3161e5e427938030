package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Fuzz targets for the command line's own parsers (flags cobra does not parse itself). CI runs
// each for a few seconds (.ci/run); seeds are in testdata/fuzz/<target>.

// FuzzParseRate: N/PERIOD is accepted only with 1 <= N <= 2^31-1 and PERIOD >= 1ms, "0" means
// no limit, and what is accepted prints (as `stent limits` shows it) and parses back to itself.
func FuzzParseRate(f *testing.F) {
	for _, s := range []string{"10/1s", "10/s", "0", "5/500ms", "1/.5s", "3/1h30m", "-1/s", "10/0s", "10/", "/s",
		"10", "2147483648/s", "10/-1s", "1/1ns", " 7 / 1m "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := parseRate("--rate", s)
		if err != nil {
			if r.Count != 0 || r.Per != 0 {
				t.Fatalf("rejected %q but returned %+v", s, r)
			}
			return
		}
		if r.Count == 0 && r.Per == 0 {
			return // "0": no rate limit
		}
		if r.Count < 1 || r.Count > maxLimit || r.Per < minRatePeriod {
			t.Fatalf("accepted %q as out-of-range %+v", s, r)
		}
		again, err := parseRate("--rate", fmt.Sprintf("%d/%s", r.Count, formatDuration(r.Per)))
		if err != nil || again != r {
			t.Fatalf("%+v does not round-trip: %+v, %v", r, again, err)
		}
	})
}

// FuzzParseLimit: a concurrency limit is a whole number within [0, 2^31-1] and round-trips.
func FuzzParseLimit(f *testing.F) {
	for _, s := range []string{"0", "5", " 12 ", "-1", "2147483647", "2147483648", "1e3", "0x10", "", "+3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseLimit("--max-concurrent", s)
		if err != nil {
			return
		}
		if n < 0 || n > maxLimit {
			t.Fatalf("accepted %q as %d", s, n)
		}
		if again, err := parseLimit("--max-concurrent", strconv.Itoa(n)); err != nil || again != n {
			t.Fatalf("%d does not round-trip: %d, %v", n, again, err)
		}
	})
}

// FuzzParseIDs: task ids (>= 1) and migration versions (>= 0, 32-bit) are whole numbers
// (digits with an optional sign); anything else is a usage error (exit code 2), and accepted
// values print and parse back to themselves.
func FuzzParseIDs(f *testing.F) {
	for _, s := range []string{"1", "0", "-1", "-0", "9223372036854775807", "9223372036854775808", "2147483648", "abc", "", " 1", "01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var usage *usageError
		if id, err := parseTaskID(s); err != nil {
			if !errors.As(err, &usage) {
				t.Fatalf("parseTaskID(%q): untyped error %v", s, err)
			}
		} else if id < 1 || !wholeNumber(s) {
			t.Fatalf("parseTaskID(%q) = %d", s, id)
		} else if again, err := parseTaskID(strconv.FormatInt(id, 10)); err != nil || again != id {
			t.Fatalf("task id %d does not round-trip", id)
		}
		if v, err := parseVersion(s); err != nil {
			if !errors.As(err, &usage) {
				t.Fatalf("parseVersion(%q): untyped error %v", s, err)
			}
		} else if v < 0 || !wholeNumber(s) {
			t.Fatalf("parseVersion(%q) = %d", s, v)
		} else if again, err := parseVersion(strconv.FormatInt(int64(v), 10)); err != nil || again != v {
			t.Fatalf("version %d does not round-trip", v)
		}
	})
}

// wholeNumber reports whether s is decimal digits with an optional sign.
func wholeNumber(s string) bool {
	if len(s) > 0 && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// FuzzDurationFlags: any --grace value either fails flag parsing (exit 2) or is validated
// (negative: exit 1) before the command touches a database.
func FuzzDurationFlags(f *testing.F) {
	for _, s := range []string{"1m", "-1s", "0", "soon", "1h1h", "9999999999h", "1.5m", ".5s", "-0s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		res := runCLI(t, t.Context(), nil, "--database-url", "postgres://%zz", "doctor", "--grace", s)
		d, err := time.ParseDuration(s)
		switch {
		case err != nil:
			if res.code != exitUsage {
				t.Fatalf("--grace %q: exit %d, want usage error: %s", s, res.code, res.stderr)
			}
		case d < 0:
			if res.code != exitFailure || res.stderr != fmt.Sprintf("stent: invalid DoctorOptions.Grace: must not be negative, got %s\n", d) {
				t.Fatalf("--grace %q: exit %d %q", s, res.code, res.stderr)
			}
		default:
			if res.code != exitFailure || !strings.HasPrefix(res.stderr, "stent: invalid database URL") { // valid: on to connecting
				t.Fatalf("--grace %q: exit %d %q", s, res.code, res.stderr)
			}
		}
	})
}

package stent

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// Fuzz targets for every parser of outside input in the public package: stored errors,
// payloads, names, keys and durations given to options, notification payloads. CI runs each
// for a few seconds (.ci/run); seeds are in testdata/fuzz/<target>.

// FuzzDecodeTaskError: any stored error JSON (or garbage) decodes without panicking into a
// TaskError that keeps what it could not parse, and a decoded error survives a round trip
// through its stored form; as an ExecutionError it still matches by state.
func FuzzDecodeTaskError(f *testing.F) {
	f.Add([]byte(`{"kind":"panic","message":"boom","stack":"main.go:1","retryable":true,"attempt":2}`))
	f.Add([]byte(`{"kind":"","message":""}`))
	f.Add([]byte(`"just a string"`))
	f.Add([]byte(`[1,2,3]`))
	f.Add([]byte(`{"kind":5}`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		te := decodeTaskError(b)
		if len(b) == 0 {
			if te != nil {
				t.Fatalf("empty input decoded to %+v", te)
			}
			return
		}
		if te == nil {
			t.Fatal("non-empty input decoded to nil")
		}
		var direct TaskError
		if json.Unmarshal(b, &direct) != nil || (direct.Kind == "" && direct.Message == "") {
			if te.Kind != KindError || te.Message != string(b) {
				t.Fatalf("unparsable error not kept whole: %+v", te)
			}
		} else if *te != direct {
			t.Fatalf("decoded %+v, want %+v", te, direct)
		}
		again := decodeTaskError(encodeTaskError(te))
		if !utf8.ValidString(te.Kind+te.Message+te.Stack) && again != nil {
			return // invalid UTF-8 becomes U+FFFD on encoding, as in the database
		}
		if !reflect.DeepEqual(te, again) {
			t.Fatalf("round trip changed %+v into %+v", te, again)
		}
		ee := &ExecutionError{ExecutionID: "x", State: StateCancelled, Err: te}
		if !errors.Is(ee, ErrCancelled) || errors.Is(ee, ErrTimedOut) || ee.Error() == "" {
			t.Fatalf("execution error %v does not match its state", ee)
		}
		var got *TaskError
		if !errors.As(ee, &got) || got != te {
			t.Fatal("execution error does not unwrap to its task error")
		}
	})
}

// FuzzEncodeAttemptError: any error message, stack and kind give valid JSON within the
// payload limit that decodes back to the same kind and retryability, with the message cut
// (never dropped or altered otherwise) and no NUL, which jsonb cannot hold.
func FuzzEncodeAttemptError(f *testing.F) {
	f.Add("boom", "goroutine 1", "http_429", 1<<20, false)
	f.Add(strings.Repeat("\x01", 5000), strings.Repeat("<", 100), "k", 1000, true)
	f.Add("a\x00b", "", "", 300, false)
	f.Add("é日本", "\xff\xfe", "\x00", 256, true)
	f.Fuzz(func(t *testing.T, msg, stack, kind string, limit int, permanent bool) {
		if limit < 256 || limit > 1<<20 {
			return // Config.MaxPayloadBytes is at most 1 MiB; a limit under 256 bytes is not useful
		}
		var err error = errors.New(msg)
		if kind != "" {
			err = WithKind(kind, err)
		}
		if permanent {
			err = Permanent(err)
		}
		enc := EncodeAttemptError(err, stack, limit)
		if !json.Valid(enc.JSON) {
			t.Fatalf("invalid JSON %q", enc.JSON)
		}
		if len(enc.JSON) > limit {
			t.Fatalf("%d bytes over the %d-byte limit", len(enc.JSON), limit)
		}
		if strings.Contains(string(enc.JSON), `\u0000`) {
			t.Fatal("NUL in stored error")
		}
		te := decodeTaskError(enc.JSON)
		if te.Retryable == permanent || te.Retryable != enc.Retryable {
			t.Fatalf("retryable %v for permanent=%v", te.Retryable, permanent)
		}
		// The kind is kept whole (up to 200 bytes) unless the limit is too small to hold it
		// escaped; then it is cut, like the message.
		if kind != "" && utf8.ValidString(kind) && !strings.Contains(kind, "\x00") {
			if !strings.HasPrefix(kind, te.Kind) || len(kind) <= 200 && limit >= 2048 && te.Kind != kind {
				t.Fatalf("kind %q stored as %q", kind, te.Kind)
			}
		}
		clean := strings.ReplaceAll(msg, "\x00", "\uFFFD")
		if utf8.ValidString(clean) {
			prefix, cut := strings.CutSuffix(te.Message, "…(truncated)")
			if !cut && te.Message != clean || cut && !strings.HasPrefix(clean, prefix) {
				t.Fatalf("message %q stored as %q", clean, te.Message)
			}
		}
	})
}

type fuzzInput struct {
	N    int               `json:"n"`
	S    string            `json:"s"`
	Tags []string          `json:"tags"`
	M    map[string]uint16 `json:"m"`
}

// FuzzPayloadDecode: any stored input reaches a typed activity either decoded (and its
// output, re-encoded, is valid JSON within the limit or ErrPayloadTooLarge) or as a
// *DecodeError of kind "decode" — never a panic. Untyped payloads round-trip exactly.
func FuzzPayloadDecode(f *testing.F) {
	f.Add([]byte(`{"n":1,"s":"x","tags":["a"],"m":{"k":7}}`), 1<<20)
	f.Add([]byte(`{"n":"not-a-number"}`), 100)
	f.Add([]byte(`null`), 10)
	f.Add([]byte(`{"m":{"k":70000}}`), 1000)
	f.Add([]byte(`[{"n":1}]`), 1000)
	f.Add([]byte(`{"s":"\u00e9\ud800"}`), 1000)
	reg := NewRegistry()
	act := NewActivity("fuzz.echo", func(_ context.Context, in fuzzInput) (fuzzInput, error) { return in, nil }, InRegistry(reg))
	f.Fuzz(func(t *testing.T, payload []byte, limit int) {
		if limit < 1 || limit > DefaultMaxPayloadBytes {
			return
		}
		out, err := act.Invoke(context.Background(), Invocation{Input: payload, Codec: JSONCodec{}, MaxPayloadBytes: limit})
		var de *DecodeError
		switch {
		case errors.As(err, &de):
			if ErrorKindOf(err) != KindDecode || de.Name != "fuzz.echo" || de.What != "input" {
				t.Fatalf("decode error %v of kind %s", err, ErrorKindOf(err))
			}
			if json.Unmarshal(payload, new(fuzzInput)) == nil {
				t.Fatalf("decodable input %q rejected: %v", payload, err)
			}
		case err != nil:
			if !errors.Is(err, ErrPayloadTooLarge) || !IsPermanent(err) {
				t.Fatalf("unexpected error %v", err)
			}
		default:
			if !json.Valid(out) || len(out) > limit {
				t.Fatalf("output %q invalid or over %d bytes", out, limit)
			}
		}

		var v any
		if json.Unmarshal(payload, &v) != nil {
			return
		}
		b, err := encodePayload(JSONCodec{}, DefaultMaxPayloadBytes, "input", v)
		if err != nil {
			if !errors.Is(err, ErrPayloadTooLarge) {
				t.Fatalf("re-encoding %q: %v", payload, err)
			}
			return
		}
		var w any
		if err := json.Unmarshal(b, &w); err != nil || !reflect.DeepEqual(v, w) {
			t.Fatalf("round trip changed %#v into %#v (%v)", v, w, err)
		}
	})
}

// FuzzValidateName: a name is accepted exactly when it is 1-200 characters of the allowed
// set, so an accepted name never holds spaces, control characters or non-ASCII; a rejection
// is an *InvalidArgumentError. Queue names follow the same rule with 128.
func FuzzValidateName(f *testing.F) {
	for _, s := range []string{"billing.charge", "", " ", "a b", "a\x00", "\t", "é", "-x", "_x", "a/b:c-d", strings.Repeat("a", 201)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := ValidateName("name", name)
		ok := len(name) >= 1 && len(name) <= 200
		for i := 0; ok && i < len(name); i++ {
			c := name[i]
			ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' ||
				i > 0 && (c == '.' || c == ':' || c == '/' || c == '-')
		}
		if ok != (err == nil) {
			t.Fatalf("ValidateName(%q) = %v, want ok=%v", name, err, ok)
		}
		var ia *InvalidArgumentError
		if err != nil && !errors.As(err, &ia) {
			t.Fatalf("untyped error %v", err)
		}
		if qerr := ValidateQueue(name); (qerr == nil) != (ok && len(name) <= 128) {
			t.Fatalf("ValidateQueue(%q) = %v", name, qerr)
		}
	})
}

// FuzzDispatchOptions: any durations, keys, priority, queue and tag given to dispatch options
// either give an *InvalidArgumentError or a request whose JSON (what the database receives)
// carries the keys byte for byte, non-negative durations and a valid retry policy.
func FuzzDispatchOptions(f *testing.F) {
	f.Add(int64(time.Second), int64(time.Minute), 5, "order-42", "tenant-1", "default", "gpu",
		int64(time.Second), 2.0, 0.1, 3)
	f.Add(int64(-1), int64(0), 2000, "", "", "bad queue", "", int64(-5), 0.5, 2.0, -1)
	f.Add(int64(0), int64(-time.Hour), 0, "k\x00", "\xff", "q", "t", int64(0), math.NaN(), math.Inf(1), 0)
	f.Add(int64(math.MaxInt64), int64(1), -1000, strings.Repeat("k", 513), "\x1b[31m", "", "a b", int64(1), 1.0, 0.0, 1)
	reg := NewRegistry()
	act := NewActivity("fuzz.dispatch", func(_ context.Context, in string) (string, error) { return in, nil }, InRegistry(reg))
	c := &Client{codec: JSONCodec{}, cfg: Config{MaxPayloadBytes: DefaultMaxPayloadBytes}}
	f.Fuzz(func(t *testing.T, delay, maxDur int64, prio int, idem, ckey, queue, tag string,
		initial int64, factor, jitter float64, attempts int) {
		opts := []DispatchOption{WithPriority(prio),
			WithRetry(RetryPolicy{MaxAttempts: attempts, InitialDelay: time.Duration(initial), BackoffFactor: factor, Jitter: jitter})}
		if delay != 0 {
			opts = append(opts, WithDelay(time.Duration(delay)))
		}
		if maxDur != 0 {
			opts = append(opts, WithMaxDuration(time.Duration(maxDur)))
		}
		if idem != "" {
			opts = append(opts, WithIdempotencyKey(idem))
		}
		if ckey != "" {
			opts = append(opts, WithConcurrencyKey(ckey))
		}
		if queue != "" {
			opts = append(opts, WithQueue(queue))
		}
		if tag != "" {
			opts = append(opts, WithTags(tag))
		}
		r, err := c.newRequest(act, "in", opts)
		if err != nil {
			var ia *InvalidArgumentError
			if !errors.As(err, &ia) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		body, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var back dispatchRequest
		if err := json.Unmarshal(body, &back); err != nil {
			t.Fatal(err)
		}
		if back.IdempotencyKey != idem || back.ConcurrencyKey != ckey {
			t.Fatalf("keys %q/%q reach the database as %q/%q", idem, ckey, back.IdempotencyKey, back.ConcurrencyKey)
		}
		if strings.ContainsRune(idem+ckey, 0) {
			t.Fatalf("NUL in key accepted: %q %q", idem, ckey)
		}
		if r.DelayMS < 0 || r.MaxDurationMS < 0 || r.RetryInitialMS < 0 || r.RetryMaxMS < 0 ||
			r.MaxAttempts < 1 || !(r.RetryBackoffFactor >= 1) || math.IsInf(r.RetryBackoffFactor, 0) ||
			!(r.RetryJitter >= 0 && r.RetryJitter <= 1) || r.Priority < -1000 || r.Priority > 1000 {
			t.Fatalf("out-of-range request accepted: %+v", r)
		}
	})
}

// FuzzNotificationPayload: whatever arrives on the executions channel (another sender may
// NOTIFY it), only well-formed ids are taken, each exactly as sent.
func FuzzNotificationPayload(f *testing.F) {
	f.Add("6ba7b810-9dad-11d1-80b4-00c04fd430c8")
	f.Add("6ba7b810-9dad-11d1-80b4-00c04fd430c8,6ba7b811-9dad-11d1-80b4-00c04fd430c8")
	f.Add("{6ba7b810-9dad-11d1-80b4-00c04fd430c8},urn:uuid:6ba7b810-9dad-11d1-80b4-00c04fd430c8")
	f.Add(",,x,")
	f.Fuzz(func(t *testing.T, payload string) {
		ids := parseExecutionIDs(payload)
		parts := strings.Split(payload, ",")
		if len(ids) > len(parts) {
			t.Fatalf("%d ids from %d parts", len(ids), len(parts))
		}
		for _, id := range ids {
			found := false
			for _, p := range parts {
				found = found || strings.EqualFold(p, id.String())
			}
			if !found {
				t.Fatalf("id %s not in payload %q", id, payload)
			}
		}
	})
}

package stent

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"
)

// TaskError is an attempt's error as stored in the database: {kind, message, stack,
// retryable, attempt}. Kind classifies the error for RetryPolicy.RetryOn; the message is
// kept whole.
type TaskError struct {
	Kind      string `json:"kind"`
	Message   string `json:"message"`
	Stack     string `json:"stack,omitempty"`
	Retryable bool   `json:"retryable"`
	Attempt   int    `json:"attempt,omitempty"`
}

func (e *TaskError) Error() string {
	if e.Kind == "" {
		return e.Message
	}
	return e.Kind + ": " + e.Message
}

// ErrorKind reports the kind, so a TaskError passed on keeps its classification.
func (e *TaskError) ErrorKind() string { return e.Kind }

// Error kinds Stent itself assigns.
const (
	KindPanic        = "panic"         // the function panicked
	KindTimeout      = "timeout"       // the attempt exceeded its Timeout
	KindDecode       = "decode"        // the input could not be decoded into the function's type
	KindLeaseExpired = "lease_expired" // the worker stopped heartbeating (crash, hang)
	KindUnregistered = "unregistered"  // a worker claimed a function it cannot run
	KindCancelled    = "cancelled"     // the execution was cancelled
	KindError        = "error"         // a plain error without a more specific kind
)

type kinded interface{ ErrorKind() string }

type kindError struct {
	kind string
	err  error
}

func (e *kindError) Error() string     { return e.err.Error() }
func (e *kindError) Unwrap() error     { return e.err }
func (e *kindError) ErrorKind() string { return e.kind }

// WithKind labels err with a kind that RetryPolicy.RetryOn can select (for example
// "http_429" or "conn_reset"). An error type may instead implement ErrorKind() string.
func WithKind(kind string, err error) error {
	if err == nil {
		return nil
	}
	return &kindError{kind: kind, err: err}
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as not retryable: the attempt fails the task at once (and goes to the
// dead-letter queue) whatever attempts remain.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

type retryAfterError struct {
	after time.Duration
	err   error
}

func (e *retryAfterError) Error() string { return e.err.Error() }
func (e *retryAfterError) Unwrap() error { return e.err }

// RetryAfter asks for the next attempt after d instead of the policy's backoff (for example
// from an HTTP 429's Retry-After). The attempt is not counted as a failure against
// MaxAttempts. With the definition option RetryAfterScope the wait applies to every task of
// the function or of the task's concurrency key, so a rate-limited upstream is not hammered.
func RetryAfter(d time.Duration, err error) error {
	if err == nil {
		err = errors.New("retry requested")
	}
	if d < 0 {
		d = 0
	}
	return &retryAfterError{after: d, err: err}
}

// ErrorKindOf returns the kind Stent records for err: the ErrorKind() of the first error in
// its chain that has one, else the Go type of the innermost-named error, else "error".
func ErrorKindOf(err error) string {
	var k kinded
	if errors.As(err, &k) {
		return k.ErrorKind()
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		switch e.(type) {
		case *permanentError, *retryAfterError, *kindError:
			continue
		}
		t := reflect.TypeOf(e)
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.PkgPath() == "errors" || strings.HasPrefix(t.Name(), "wrapError") || t.PkgPath() == "fmt" {
			continue
		}
		return t.String()
	}
	return KindError
}

// newTaskError converts an attempt's error to its stored form.
func newTaskError(err error, stack string) *TaskError {
	var te *TaskError
	if errors.As(err, &te) && te == err {
		cp := *te
		return &cp
	}
	return &TaskError{
		Kind:      ErrorKindOf(err),
		Message:   err.Error(),
		Stack:     stack,
		Retryable: !IsPermanent(err),
	}
}

// decodeTaskError parses a stored error; anything unparsable is kept as the message.
func decodeTaskError(b []byte) *TaskError {
	if len(b) == 0 {
		return nil
	}
	var te TaskError
	if err := json.Unmarshal(b, &te); err != nil || (te.Kind == "" && te.Message == "") {
		return &TaskError{Kind: KindError, Message: string(b)}
	}
	return &te
}

func encodeTaskError(te *TaskError) []byte {
	b, err := json.Marshal(te)
	if err != nil { // cannot happen for this struct
		return []byte(fmt.Sprintf(`{"kind":"error","message":%q}`, te.Message))
	}
	return b
}

// EncodedError is an attempt's error in its stored form, produced by EncodeAttemptError.
type EncodedError struct {
	Kind      string
	Message   string
	Retryable bool
	JSON      []byte
}

// EncodeAttemptError converts a function's error (and a panic's stack) to the JSON the
// worker stores. Messages and stacks are cut, never dropped, so that the JSON stays within
// limit bytes (control characters count six bytes each once escaped); a kind is at most 200
// bytes.
func EncodeAttemptError(err error, stack string, limit int) EncodedError {
	te := newTaskError(err, stack)
	// jsonb cannot hold NUL (\u0000): such an error could never be recorded.
	kind := strings.ReplaceAll(te.Kind, "\x00", "\uFFFD")
	msg := strings.ReplaceAll(te.Message, "\x00", "\uFFFD")
	stk := strings.ReplaceAll(te.Stack, "\x00", "\uFFFD")
	kindMax, msgMax, stackMax := 200, limit/2, limit/4
	for {
		te.Kind = truncate(kind, kindMax, "")
		te.Message = truncate(msg, msgMax, "…(truncated)")
		te.Stack = truncate(stk, stackMax, "…(truncated)")
		b := encodeTaskError(te)
		if len(b) <= limit || (kindMax == 0 && msgMax == 0 && stackMax == 0) {
			return EncodedError{Kind: te.Kind, Message: te.Message, Retryable: te.Retryable, JSON: b}
		}
		if msgMax == 0 && stackMax == 0 {
			kindMax /= 2 // only a kind of control characters gets here
		}
		msgMax, stackMax = msgMax/2, stackMax/2
	}
}

// truncate cuts s to at most max bytes on a character boundary, adding suffix when it cut.
func truncate(s string, max int, suffix string) string {
	if len(s) <= max {
		return s
	}
	i := max
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + suffix
}

// RetryAfterOf returns the delay requested with RetryAfter, if err carries one.
func RetryAfterOf(err error) (time.Duration, bool) {
	var ra *retryAfterError
	if errors.As(err, &ra) {
		return ra.after, true
	}
	return 0, false
}

package pglaunch

import (
	"io"
	"os"
	"strings"
	"sync"
)

// tailSize is how much of the server log an error message quotes.
const tailSize = 4 << 10

// tailBuffer keeps the last tailSize bytes written to it, so that a start
// failure can quote the server log even when it goes to a caller's Logger.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

// Write implements io.Writer.
func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > tailSize {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-tailSize:]...)
	}
	return len(p), nil
}

// String returns the kept bytes.
func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.buf))
}

// readTail returns the last tailSize bytes of the file at path, ignoring
// the first from bytes.
func readTail(path string, from int64) string {
	f, err := os.Open(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	defer f.Close()
	if info, err := f.Stat(); err == nil {
		_, _ = f.Seek(max(from, info.Size()-tailSize), io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	return strings.TrimSpace(string(b))
}

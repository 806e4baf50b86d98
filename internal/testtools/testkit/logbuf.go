package testkit

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// LogBuffer collects what concurrent writers write (the slog handlers of
// a stack's services, a child process's stdout and stderr), for a test to
// search and to print when it fails. The zero value keeps everything.
//
// Concurrency: safe for concurrent use.
type LogBuffer struct {
	// Keep, when positive, bounds the buffer to about the last Keep
	// lines (between Keep and 2*Keep are held; String and Lines give
	// the last Keep): what tells a long run's failure apart is its end,
	// and its memory stays bounded. Set it before the first Write.
	Keep int

	mu    sync.Mutex
	b     bytes.Buffer
	lines int // newlines in b, counted only with Keep set
}

// Write appends p.
func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.b.Write(p)
	if b.Keep > 0 {
		b.lines += bytes.Count(p, []byte{'\n'})
		if b.lines > 2*b.Keep {
			// Cut to the last Keep lines; amortized, each byte is
			// looked at a bounded number of times.
			buf := b.b.Bytes()
			cut := len(buf)
			for range b.Keep + 1 {
				cut = bytes.LastIndexByte(buf[:cut], '\n')
			}
			rest := append([]byte(nil), buf[cut+1:]...)
			b.b.Reset()
			b.b.Write(rest)
			b.lines = b.Keep
		}
	}
	return n, err
}

// String is what the buffer holds: everything written, or with Keep
// the last Keep lines.
func (b *LogBuffer) String() string {
	return strings.Join(b.Lines(), "\n")
}

// Lines is what the buffer holds as lines, without their newlines; a
// last line not yet ended by a newline is included, an empty one is not.
func (b *LogBuffer) Lines() []string {
	b.mu.Lock()
	s := b.b.String()
	b.mu.Unlock()
	if s == "" {
		return nil
	}
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	if b.Keep > 0 && len(lines) > b.Keep {
		lines = lines[len(lines)-b.Keep:]
	}
	return lines
}

// Tail is the last n lines, joined by newlines.
func (b *LogBuffer) Tail(n int) string {
	lines := b.Lines()
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// HasLine reports whether one line holds every part (a log record's
// message and its key=value pairs, in any order).
func (b *LogBuffer) HasLine(parts ...string) bool {
	for _, l := range b.Lines() {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(l, p)
		}
		if ok {
			return true
		}
	}
	return false
}

// Logger is a text logger into b at level.
func (b *LogBuffer) Logger(level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: level}))
}

// TestLog returns a buffer and a logger into it at level; if t fails, the
// buffer's last tail lines are logged with what, to tell a stalled service
// from a wrong answer.
func TestLog(t testing.TB, what string, level slog.Level, tail int) (*LogBuffer, *slog.Logger) {
	t.Helper()
	b := &LogBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last %d log lines of %s:\n%s", tail, what, b.Tail(tail))
		}
	})
	return b, b.Logger(level)
}

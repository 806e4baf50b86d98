package pebblelog

import (
	"fmt"
	"log/slog"

	"github.com/cockroachdb/pebble/v2"
)

// Logger is a pebble.Logger writing to Log (pebble.Options.Logger).
type Logger struct{ Log *slog.Logger }

var _ pebble.Logger = Logger{}

// Infof logs pebble's informational messages at Debug.
func (l Logger) Infof(format string, args ...any) {
	l.Log.Debug("pebble", "msg", fmt.Sprintf(format, args...))
}

// Errorf logs pebble's errors at Warn: pebble handles them itself (a
// failed background compaction is retried), so they are not lost work.
func (l Logger) Errorf(format string, args ...any) {
	l.Log.Warn("pebble error", "msg", fmt.Sprintf(format, args...))
}

// Fatalf logs a broken pebble invariant at Error and panics: pebble
// expects it not to return.
func (l Logger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.Log.Error("pebble fatal", "msg", msg)
	panic("pebble: " + msg)
}

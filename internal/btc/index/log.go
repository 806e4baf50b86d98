package index

import (
	"fmt"
	"log/slog"
)

// pebbleLogger routes pebble's logs to the index's logger: informational
// messages at Debug, errors at Warn. Fatalf is pebble's report of a broken
// invariant of its own; it panics, as pebble expects it not to return.
type pebbleLogger struct{ log *slog.Logger }

func (l pebbleLogger) Infof(format string, args ...any) {
	l.log.Debug("pebble", "msg", fmt.Sprintf(format, args...))
}

func (l pebbleLogger) Errorf(format string, args ...any) {
	l.log.Warn("pebble error", "msg", fmt.Sprintf(format, args...))
}

func (l pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.log.Error("pebble fatal", "msg", msg)
	panic("pebble: " + msg)
}

package pebblelog

import (
	"context"
	"log/slog"
	"testing"
)

// capture keeps the records logged through it.
type capture struct{ recs *[]slog.Record }

func (c capture) Enabled(context.Context, slog.Level) bool { return true }
func (c capture) Handle(_ context.Context, r slog.Record) error {
	*c.recs = append(*c.recs, r)
	return nil
}
func (c capture) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c capture) WithGroup(string) slog.Handler      { return c }

func TestLogger(t *testing.T) {
	tests := []struct {
		name      string
		log       func(Logger)
		level     slog.Level
		msg, text string
		wantPanic string
	}{
		{name: "info at debug", log: func(l Logger) { l.Infof("flushed %d tables", 3) },
			level: slog.LevelDebug, msg: "pebble", text: "flushed 3 tables"},
		{name: "error at warn", log: func(l Logger) { l.Errorf("compaction: %s", "disk full") },
			level: slog.LevelWarn, msg: "pebble error", text: "compaction: disk full"},
		{name: "fatal at error, then panics", log: func(l Logger) { l.Fatalf("corrupt %s", "manifest") },
			level: slog.LevelError, msg: "pebble fatal", text: "corrupt manifest", wantPanic: "pebble: corrupt manifest"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var recs []slog.Record
			l := Logger{slog.New(capture{&recs})}
			var recovered any
			func() {
				defer func() { recovered = recover() }()
				tc.log(l)
			}()
			if got, _ := recovered.(string); got != tc.wantPanic {
				t.Fatalf("panic %v, want %q", recovered, tc.wantPanic)
			}
			if len(recs) != 1 {
				t.Fatalf("%d records, want 1", len(recs))
			}
			r := recs[0]
			var text string
			r.Attrs(func(a slog.Attr) bool {
				if a.Key == "msg" {
					text = a.Value.String()
				}
				return true
			})
			if r.Level != tc.level || r.Message != tc.msg || text != tc.text {
				t.Fatalf("record %s %q msg=%q, want %s %q msg=%q", r.Level, r.Message, text, tc.level, tc.msg, tc.text)
			}
		})
	}
}

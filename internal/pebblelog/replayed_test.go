package pebblelog

import (
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2"
)

// TestReplayedKeys: the keys a close left in the write-ahead log are
// counted, and none after a flush; the directory is not changed (a
// second look counts the same).
func TestReplayedKeys(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flush bool
		want  int64
	}{
		{"closed", false, 100},
		{"flushed then closed", true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			db, err := pebble.Open(dir, &pebble.Options{Logger: replayQuiet{}})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 100 {
				if err := db.Set(fmt.Appendf(nil, "k%03d", i), []byte("v"), pebble.NoSync); err != nil {
					t.Fatal(err)
				}
			}
			if tc.flush {
				if err := db.Flush(); err != nil {
					t.Fatal(err)
				}
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			for range 2 {
				got, err := ReplayedKeys(dir, nil)
				if err != nil {
					t.Fatal(err)
				}
				if got != tc.want {
					t.Fatalf("replayed %d keys, want %d", got, tc.want)
				}
			}
		})
	}
	if _, err := ReplayedKeys(t.TempDir()+"/none", &pebble.Options{ErrorIfNotExists: true}); err == nil {
		t.Fatal("a missing database gave no error")
	}
}

type replayQuiet struct{}

func (replayQuiet) Infof(string, ...any)      {}
func (replayQuiet) Errorf(string, ...any)     {}
func (replayQuiet) Fatalf(f string, a ...any) { panic(fmt.Sprintf(f, a...)) }

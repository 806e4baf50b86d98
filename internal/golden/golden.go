package golden

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// JSON returns the golden value stored at path (slash-separated), after
// first writing got there when update is set (a test's -update flag). A
// missing or undecodable file fails the test.
func JSON[T any](t testing.TB, path string, got T, update bool) T {
	t.Helper()
	path = filepath.FromSlash(path)
	if update {
		b, err := json.MarshalIndent(got, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	var want T
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatalf("golden file %s: %v", path, err)
	}
	return want
}

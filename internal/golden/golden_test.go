package golden

import (
	"os"
	"path/filepath"
	"testing"
)

type value struct {
	Name string
	N    int
}

func TestJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "g.json")
	got := value{"a", 1}
	if want := JSON(t, path, got, true); want != got {
		t.Fatalf("after update: %+v, want %+v", want, got)
	}
	// Without update the stored value comes back, not got.
	if want := JSON(t, path, value{"b", 2}, false); want != got {
		t.Fatalf("stored %+v, want %+v", want, got)
	}
	if b, err := os.ReadFile(path); err != nil || b[len(b)-1] != '\n' {
		t.Fatalf("file %q, %v", b, err)
	}
}

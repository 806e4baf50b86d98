package verify_test

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// TestNoInternalImports lists the verifier's imports transitively (go
// list -deps, for the host and for js/wasm) and fails on any package of
// the node's internal/ tree: the verifier must be auditable alone
// (DESIGN 8).
func TestNoInternalImports(t *testing.T) {
	for _, env := range [][]string{nil, {"GOOS=js", "GOARCH=wasm"}} {
		cmd := exec.Command("go", "list", "-deps", "-json=ImportPath", "./...")
		cmd.Env = append(cmd.Environ(), env...)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list %v: %v", env, err)
		}
		dec := json.NewDecoder(strings.NewReader(string(out)))
		n := 0
		for dec.More() {
			var p struct{ ImportPath string }
			if err := dec.Decode(&p); err != nil {
				t.Fatal(err)
			}
			n++
			if strings.HasPrefix(p.ImportPath, "github.com/hemi-go/hemi/") && !strings.HasPrefix(p.ImportPath, "github.com/hemi-go/hemi/verify") {
				t.Errorf("%v: the verifier depends on %s", env, p.ImportPath)
			}
		}
		if n < 50 {
			t.Fatalf("go list %v listed only %d packages", env, n)
		}
	}
}

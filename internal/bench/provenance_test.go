package bench

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestProvenanceOutsideTree runs the provenance benchmark small from a
// directory outside the source tree with only Node.js on PATH (no Go
// toolchain): it measures the explorer's embedded verifier and says so,
// with its size. Before, it built verify/wasm with `go build` and failed
// there. No timing is asserted.
func TestProvenanceOutsideTree(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node (Node.js) is not on PATH: bench provenance needs it (scripts/install-tools.sh checks for it)")
	}
	bin := t.TempDir()
	if err := os.Symlink(node, filepath.Join(bin, "node")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	t.Chdir(t.TempDir())
	var out bytes.Buffer
	res, err := RunProvenance(context.Background(), ProvenanceConfig{Runs: 2, Accounts: 100, WorkDir: t.TempDir()}, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if res.WasmMB <= 0 || res.Deposit.WasmMS <= 0 || res.Tx.WasmMS <= 0 {
		t.Fatalf("figures %+v", res)
	}
	if !strings.Contains(out.String(), "# wasm: the explorer's embedded verifier") || !strings.Contains(out.String(), "MB gzipped, sha256 ") {
		t.Fatalf("the output does not say which wasm it measured:\n%s", out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if last := lines[len(lines)-1]; last != res.ResultLine() {
		t.Fatalf("last line %q", last)
	}
	t.Log(out.String())
}

// TestProvenanceCancelled: a cancelled run returns ctx's error before
// building a bundle.
func TestProvenanceCancelled(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node (Node.js) is not on PATH")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out bytes.Buffer
	if _, err := RunProvenance(ctx, ProvenanceConfig{WorkDir: t.TempDir()}, &out); err != context.Canceled {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

//go:build !js

package verify_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/hemi-go/hemi/verify"
)

// buildWasm compiles verify/wasm for GOOS=js GOARCH=wasm into dir and
// returns its path and the path of Go's wasm_exec.js. It skips the test
// with a clear message when node is not installed.
func buildWasm(t testing.TB, dir string) (wasm, execJS, node string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node (Node.js) is not on PATH: the WebAssembly verifier test needs it (scripts/install-tools.sh checks for it)")
	}
	wasm = filepath.Join(dir, "verify.wasm")
	cmd := exec.Command("go", "build", "-o", wasm, "./wasm")
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("GOOS=js GOARCH=wasm go build ./verify/wasm: %v\n%s", err, out)
	}
	return wasm, filepath.Join(runtime.GOROOT(), "lib", "wasm", "wasm_exec.js"), node
}

// WasmCase is one verifyBundle call.
type wasmCase struct {
	Bundle  string       `json:"bundle"`
	Options verify.Input `json:"options"`
}

// runWasm runs verifyBundle on each case under Node.js (one process) and
// returns the results' JSON.
func runWasm(t testing.TB, node, execJS, wasm, dir string, cases []wasmCase) []json.RawMessage {
	t.Helper()
	cp := filepath.Join(dir, "cases.json")
	data, _ := json.Marshal(cases)
	if err := os.WriteFile(cp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(node, filepath.Join("wasm", "run.js"), execJS, wasm, cp)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node run.js: %v\n%s", err, stderr.Bytes())
	}
	var res []json.RawMessage
	if err := json.Unmarshal(out, &res); err != nil || len(res) != len(cases) {
		t.Fatalf("node run.js printed %d results for %d cases: %v", len(res), len(cases), err)
	}
	return res
}

// nativeJSON is the native result as `hemi verify --json` prints it,
// through the same JSON round trip the WebAssembly result takes.
func nativeJSON(t testing.TB, bundle []byte, in verify.Input) any {
	t.Helper()
	o, err := in.Options()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(verify.VerifyJSON(bundle, o))
	var v any
	_ = json.Unmarshal(b, &v)
	return v
}

// TestWasmSameResult runs the WebAssembly verifier under Node.js on the
// devnet's transfer bundle and on tampered copies, and checks each result
// is the native one, field for field.
func TestWasmSameResult(t *testing.T) {
	dir := t.TempDir()
	wasm, execJS, node := buildWasm(t, dir)
	bundle, gen := devnetBundle(t)
	tampered := bytes.Replace(bundle, []byte(`"index": 1`), []byte(`"index": 2`), 1)
	cases := []struct {
		name   string
		bundle []byte
		in     verify.Input
		ok     bool
	}{
		{"transfer with its genesis", bundle, verify.Input{Genesis: string(gen)}, true},
		{"transfer with the devnet pin", bundle, verify.Input{}, false},
		{"transfer, tampered", tampered, verify.Input{Genesis: string(gen)}, false},
		{"transfer, policy above its confirmations", bundle, verify.Input{Genesis: string(gen), MinKeystoneConfs: 50}, false},
		{"not a bundle", []byte(`{"version": 2}`), verify.Input{}, false},
	}
	in := make([]wasmCase, len(cases))
	for i, c := range cases {
		in[i] = wasmCase{Bundle: string(c.bundle), Options: c.in}
	}
	res := runWasm(t, node, execJS, wasm, dir, in)
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got any
			if err := json.Unmarshal(res[i], &got); err != nil {
				t.Fatal(err)
			}
			want := nativeJSON(t, c.bundle, c.in)
			gb, _ := json.Marshal(got)
			wb, _ := json.Marshal(want)
			if !bytes.Equal(gb, wb) {
				t.Fatalf("wasm:\n%s\nnative:\n%s", gb, wb)
			}
			if ok, _ := got.(map[string]any)["ok"].(bool); ok != c.ok {
				t.Fatalf("ok = %v, want %v: %s", ok, c.ok, gb)
			}
		})
	}
}

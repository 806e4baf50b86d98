//go:build !js

package verify_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
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
// devnet's transfer and deposit bundles and on tampered copies (each
// deposit tampering of TestDevnetDepositTampered), and checks each result
// is the native one, field for field.
func TestWasmSameResult(t *testing.T) {
	dir := t.TempDir()
	wasm, execJS, node := buildWasm(t, dir)
	bundle, gen := devnetBundle(t)
	tampered := bytes.Replace(bundle, []byte(`"index": 1`), []byte(`"index": 2`), 1)
	type wcase struct {
		name   string
		bundle []byte
		in     verify.Input
		ok     bool
	}
	dep, dgen := devnetDeposit(t)
	cases := []wcase{
		{"transfer with its genesis", bundle, verify.Input{Genesis: string(gen)}, true},
		{"transfer with the devnet pin", bundle, verify.Input{}, false},
		{"transfer, tampered", tampered, verify.Input{Genesis: string(gen)}, false},
		{"transfer, policy above its confirmations", bundle, verify.Input{Genesis: string(gen), MinKeystoneConfs: 50}, false},
		{"not a bundle", []byte(`{"version": 2}`), verify.Input{}, false},
		{"deposit with its genesis", dep, verify.Input{Genesis: string(dgen)}, true},
		{"deposit with the transfer's genesis", dep, verify.Input{Genesis: string(gen)}, false},
	}
	for _, c := range depositTampers() {
		b, in := tamperDeposit(t, dep, dgen, c)
		cases = append(cases, wcase{"deposit, " + c.name, b, in, false})
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

// TestWasmOptions: verifyBundle reads its options object field by field;
// a field of the wrong type fails the "bundle" link naming the field,
// and well-typed options give the native result.
func TestWasmOptions(t *testing.T) {
	dir := t.TempDir()
	wasm, execJS, node := buildWasm(t, dir)
	bundle, gen := devnetBundle(t)
	cases := []struct {
		name    string
		options string // the options object, as JSON
		native  *verify.Input
		want    string
		bundle  string // verifyBundle's first argument as JSON, if not the devnet bundle
	}{
		{"bundle not a string", `{}`, nil, "verifyBundle(json, options): json must be a string", `{"a": 1}`},
		{"options not an object", `"genesis"`, nil, "options: want an object, got a string", ""},
		{"options a number", `7`, nil, "options: want an object, got a number", ""},
		{"genesis an object", `{"genesis": {"version": 1}}`, nil, "options: genesis must be a string, got a object", ""},
		{"headers an array", `{"headers": ["00"]}`, nil, "options: headers must be a string, got a object", ""},
		{"a checkpoint null", `{"checkpoints": ["0:00", null]}`, nil, "options: checkpoints[1] must be a \"HEIGHT:HASH\" string, got a null", ""},
		{"a checkpoint an array", `{"checkpoints": [["0:00"]]}`, nil, "options: checkpoints[0] must be a \"HEIGHT:HASH\" string, got a object", ""},
		{"confirmations a fraction", `{"minDepositConfs": 1.5}`, nil, "options: minDepositConfs must be a whole number", ""},
		{"confirmations too large", `{"minDepositConfs": 4294967296}`, nil, "options: minDepositConfs must be a whole number", ""},
		{"genesis not a string", `{"genesis": 5}`, nil, "options: genesis must be a string", ""},
		{"checkpoints not an array", `{"checkpoints": "0:00"}`, nil, "options: checkpoints must be an array", ""},
		{"a checkpoint not a string", `{"checkpoints": [0]}`, nil, "options: checkpoints[0] must be", ""},
		{"confirmations negative", `{"minKeystoneConfs": -1}`, nil, "options: minKeystoneConfs must be a whole number", ""},
		{"confirmations not a number", `{"minDepositConfs": "6"}`, nil, "options: minDepositConfs must be a number", ""},
		{"null fields", `{"genesis": ` + strconvQuote(string(gen)) + `, "headers": null, "checkpoints": null}`, &verify.Input{Genesis: string(gen)}, "", ""},
		{"every field", `{"genesis": ` + strconvQuote(string(gen)) + `, "checkpoints": ["0:0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"], "minKeystoneConfs": 2, "minDepositConfs": 1}`,
			&verify.Input{Genesis: string(gen), Checkpoints: []string{"0:0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"}, MinKeystoneConfs: 2, MinDepositConfs: 1}, "", ""},
	}
	var raw []string
	for _, c := range cases {
		b := c.bundle
		if b == "" {
			b = strconvQuote(string(bundle))
		}
		raw = append(raw, `{"bundle": `+b+`, "options": `+c.options+`}`)
	}
	cp := filepath.Join(dir, "options.json")
	if err := os.WriteFile(cp, []byte("["+strings.Join(raw, ",")+"]"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(node, filepath.Join("wasm", "run.js"), execJS, wasm, cp)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node run.js: %v\n%s", err, stderr.Bytes())
	}
	var res []verify.Result
	if err := json.Unmarshal(out, &res); err != nil || len(res) != len(cases) {
		t.Fatalf("%d results for %d cases: %v", len(res), len(cases), err)
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := res[i]
			if c.native == nil {
				if r.OK || r.FailedLink != verify.LinkBundle || !strings.Contains(r.Error, c.want) {
					t.Fatalf("ok %v, failed link %q: %s; want link bundle saying %q", r.OK, r.FailedLink, r.Error, c.want)
				}
				return
			}
			gb, _ := json.Marshal(r)
			wb, _ := json.Marshal(verify.VerifyJSON(bundle, mustOptions(t, *c.native)))
			if !r.OK || !bytes.Equal(gb, wb) {
				t.Fatalf("wasm:\n%s\nnative:\n%s", gb, wb)
			}
		})
	}
}

func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func mustOptions(t testing.TB, in verify.Input) verify.Options {
	t.Helper()
	o, err := in.Options()
	if err != nil {
		t.Fatal(err)
	}
	return o
}

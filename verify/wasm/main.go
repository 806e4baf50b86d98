//go:build js && wasm

// Command wasm is the provenance verifier compiled to WebAssembly
// (GOOS=js GOARCH=wasm): it installs one JavaScript function,
//
//	verifyBundle(bundleJSON string, options object) object
//
// whose result is exactly what `hemi verify --json` prints (verify.Result),
// parsed into an object. options are verify.Input's fields: genesis (the
// genesis file's text), checkpoints (["H:HASH", ...]), headers (the
// headers file's text), minDepositConfs, minKeystoneConfs; all optional.
// The explorer loads it in the browser; the test runs it under Node.js.
package main

import (
	"encoding/json"
	"syscall/js"
	"time"

	"github.com/hemi-go/hemi/verify"
)

func main() {
	js.Global().Set("verifyBundle", js.FuncOf(verifyBundle))
	select {} // keep the function alive
}

func verifyBundle(_ js.Value, args []js.Value) any {
	var r *verify.Result
	if len(args) < 1 || args[0].Type() != js.TypeString {
		r = &verify.Result{FailedLink: verify.LinkBundle, Error: "verifyBundle(json, options): json must be a string", Proved: []verify.Proved{}}
	} else {
		var in verify.Input
		if len(args) > 1 && args[1].Type() == js.TypeObject {
			opts := js.Global().Get("JSON").Call("stringify", args[1]).String()
			if err := json.Unmarshal([]byte(opts), &in); err != nil {
				r = &verify.Result{FailedLink: verify.LinkBundle, Error: "options: " + err.Error(), Proved: []verify.Proved{}}
			}
		}
		if r == nil {
			r = verify.VerifyInput([]byte(args[0].String()), in, time.Now())
		}
	}
	out, err := json.Marshal(r)
	if err != nil {
		return js.ValueOf(map[string]any{"ok": false, "error": err.Error()})
	}
	return js.Global().Get("JSON").Call("parse", string(out))
}

//go:build js && wasm

// Command wasm is the provenance verifier compiled to WebAssembly
// (GOOS=js GOARCH=wasm). Its JavaScript face is verifier.js, which,
// once Go's wasm_exec.js has started the module, installs
//
//	verifyBundle(bundleJSON string, options object) object
//
// whose result is exactly what `hemi verify --json` prints (verify.Result),
// parsed into an object. options are verify.Input's fields: genesis (the
// genesis file's text), checkpoints (["H:HASH", ...]), headers (the
// headers file's text), minDepositConfs, minKeystoneConfs; all optional.
// The explorer loads it in the browser; the test runs it under Node.js.
//
// The module exports three functions (go:wasmexport) instead of a
// syscall/js callback: the bundle goes in as bytes verifier.js writes
// into a buffer of the module's memory, followed by the options frame
// (verify.ParseInputFrame), and the result comes back as its JSON's bytes. A
// syscall/js callback cost about 100 µs a call in V8 (the event hand-off
// to a goroutine, the string's copies, reading each option through a
// call out of WebAssembly, building the result back through syscall/js),
// a tenth of a verification.
package main

import (
	"encoding/json"
	"time"
	"unsafe"

	"github.com/hemi-go/hemi/verify"
)

// main blocks so that the runtime stays up: the exports are called after
// it has started (Go.run), while it waits.
func main() { select {} }

var (
	// input is the buffer verifier.js writes a call's input into; it is
	// reused while large enough.
	input []byte
	// output holds the last call's result JSON until the next call.
	output []byte
)

// inputBuffer makes the input buffer n bytes long and returns its
// address in linear memory (0 for a negative n).
//
//go:wasmexport hemiVerifyInput
func inputBuffer(n int32) uint32 {
	if n < 0 {
		return 0
	}
	if cap(input) < int(n) {
		input = make([]byte, n)
	}
	input = input[:n]
	if n == 0 {
		input = make([]byte, 1)[:0]
	}
	return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(input))))
}

// notString is the bundleLen verifier.js passes when verifyBundle's
// first argument is not a string.
const notString = -1

// run verifies the input buffer's first bundleLen bytes, the bundle,
// with the options frame that follows them, and returns the result
// JSON's length; its bytes are at outputAddr.
//
//go:wasmexport hemiVerifyRun
func run(bundleLen int32) int32 {
	var r *verify.Result
	if bundleLen == notString {
		r = &verify.Result{FailedLink: verify.LinkBundle, Error: "verifyBundle(json, options): json must be a string", Proved: []verify.Proved{}}
	} else if bundleLen < 0 || int(bundleLen) > len(input) {
		r = &verify.Result{FailedLink: verify.LinkBundle, Error: "verifyBundle: " + verify.ErrInputFrame.Error(), Proved: []verify.Proved{}}
	} else if in, err := verify.ParseInputFrame(input[bundleLen:]); err != nil {
		r = &verify.Result{FailedLink: verify.LinkBundle, Error: "options: " + err.Error(), Proved: []verify.Proved{}}
	} else {
		r = verify.VerifyInput(input[:bundleLen], in, time.Now())
	}
	out, err := json.Marshal(r)
	if err != nil {
		out, _ = json.Marshal(&verify.Result{FailedLink: verify.LinkBundle, Error: "encoding the result: " + err.Error(), Proved: []verify.Proved{}})
	}
	output = out
	return int32(len(output))
}

// outputAddr is the address of the last result's JSON.
//
//go:wasmexport hemiVerifyOutput
func outputAddr() uint32 {
	if len(output) == 0 {
		return 0
	}
	return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(output))))
}

//go:build !js

package verify

import _ "embed" // wasm/run.js

// wasmNodeRunner is wasm/run.js (see its header for its arguments and
// output).
//
//go:embed wasm/run.js
var wasmNodeRunner string

// WasmNodeRunner is the Node.js program that runs this package's
// WebAssembly build (verify/wasm) on a file of cases and, asked to, times
// it: wasm/run.js, embedded so a program run outside the source tree
// (`hemi bench provenance`) drives the verifier exactly as this package's
// tests do. It is left out of the js build, which never needs it, so the
// WebAssembly verifier does not carry it.
func WasmNodeRunner() string { return wasmNodeRunner }

//go:build !(js && wasm)

package main

import (
	"fmt"
	"os"
)

// main: the verifier's WebAssembly build only; natively use `hemi verify`.
func main() {
	fmt.Fprintln(os.Stderr, "verify/wasm is built with GOOS=js GOARCH=wasm (natively, run hemi verify)")
	os.Exit(2)
}

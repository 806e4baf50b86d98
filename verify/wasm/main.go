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
	"fmt"
	"math"
	"syscall/js"
	"time"

	"github.com/hemi-go/hemi/verify"
)

func main() {
	js.Global().Set("verifyBundle", js.FuncOf(verifyBundle))
	select {} // keep the function alive
}

// The JavaScript functions every call uses, looked up once: each lookup
// is a call out of WebAssembly.
var (
	jsonParse   = js.Global().Get("JSON").Get("parse")
	textEncoder = js.Global().Get("TextEncoder").New()
)

func verifyBundle(_ js.Value, args []js.Value) any {
	var r *verify.Result
	if len(args) < 1 || args[0].Type() != js.TypeString {
		r = &verify.Result{FailedLink: verify.LinkBundle, Error: "verifyBundle(json, options): json must be a string", Proved: []verify.Proved{}}
	} else if in, err := input(args[1:]); err != nil {
		r = &verify.Result{FailedLink: verify.LinkBundle, Error: "options: " + err.Error(), Proved: []verify.Proved{}}
	} else {
		r = verify.VerifyInput(utf8Bytes(args[0]), in, time.Now())
	}
	out, err := json.Marshal(r)
	if err != nil {
		return js.ValueOf(map[string]any{"ok": false, "error": err.Error()})
	}
	return jsonParse.Invoke(string(out))
}

// utf8Bytes is the JavaScript string s as UTF-8, copied once into Go's
// memory: Value.String would copy it twice more (into a string, then
// into the []byte the verifier reads), 2 x 15 KB for a transfer's bundle.
func utf8Bytes(s js.Value) []byte {
	u8 := textEncoder.Call("encode", s)
	b := make([]byte, u8.Length())
	js.CopyBytesToGo(b, u8)
	return b
}

// input reads the options object's fields (verify.Input's JSON names)
// one by one: a JSON round trip of the object (JSON.stringify, then
// json.Unmarshal) would cost as much as a third of a verification. A
// field that is absent, null or undefined keeps its zero value; one of
// the wrong type is an error naming it.
func input(args []js.Value) (verify.Input, error) {
	var in verify.Input
	if len(args) == 0 || args[0].IsUndefined() || args[0].IsNull() {
		return in, nil
	}
	o := args[0]
	if o.Type() != js.TypeObject {
		return in, fmt.Errorf("want an object, got a %v", o.Type())
	}
	str := func(name string, dst *string) error {
		v := o.Get(name)
		switch v.Type() {
		case js.TypeUndefined, js.TypeNull:
		case js.TypeString:
			*dst = v.String()
		default:
			return fmt.Errorf("%s must be a string, got a %v", name, v.Type())
		}
		return nil
	}
	num := func(name string, dst *uint32) error {
		v := o.Get(name)
		switch v.Type() {
		case js.TypeUndefined, js.TypeNull:
		case js.TypeNumber:
			f := v.Float()
			if f < 0 || f > math.MaxUint32 || f != math.Trunc(f) {
				return fmt.Errorf("%s must be a whole number from 0 to %d, got %v", name, uint32(math.MaxUint32), f)
			}
			*dst = uint32(f)
		default:
			return fmt.Errorf("%s must be a number, got a %v", name, v.Type())
		}
		return nil
	}
	if err := str("genesis", &in.Genesis); err != nil {
		return in, err
	}
	if err := str("headers", &in.Headers); err != nil {
		return in, err
	}
	if err := num("minDepositConfs", &in.MinDepositConfs); err != nil {
		return in, err
	}
	if err := num("minKeystoneConfs", &in.MinKeystoneConfs); err != nil {
		return in, err
	}
	switch cps := o.Get("checkpoints"); cps.Type() {
	case js.TypeUndefined, js.TypeNull:
	default:
		if !js.Global().Get("Array").Call("isArray", cps).Bool() {
			return in, fmt.Errorf("checkpoints must be an array of \"HEIGHT:HASH\" strings, got a %v", cps.Type())
		}
		for i := range cps.Length() {
			c := cps.Index(i)
			if c.Type() != js.TypeString {
				return in, fmt.Errorf("checkpoints[%d] must be a \"HEIGHT:HASH\" string, got a %v", i, c.Type())
			}
			in.Checkpoints = append(in.Checkpoints, c.String())
		}
	}
	return in, nil
}

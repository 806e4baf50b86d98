package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/hemi-go/hemi/verify"
)

// The options frame: verifier.js writes verifyBundle's options object
// into WebAssembly memory after the bundle's bytes as a few tagged
// values, so that no field is read through syscall/js (each read a call
// out of WebAssembly) and no JSON is decoded for them. JavaScript only
// reports what each field holds; the checks and their messages are here.
//
// The frame is one value, the options argument: tagAbsent (undefined or
// null: no options), tagOther (not an object) or tagObject followed by
// its fields in a fixed order: genesis, headers, checkpoints,
// minDepositConfs, minKeystoneConfs. Each is one value:
//
//	tagAbsent                      undefined or null
//	tagString  u32 n, n bytes      a string, as UTF-8
//	tagNumber  f64                 a number
//	tagArray   u32 n, n values     an array (its elements are strings or tagOther)
//	tagOther   u32 n, n bytes      anything else: its JavaScript type's name
//
// Integers are little-endian. A frame that does not parse is a bug in
// verifier.js, reported as such, never a crash.
const (
	tagAbsent = 0
	tagString = 1
	tagNumber = 2
	tagArray  = 3
	tagOther  = 4
	tagObject = 5 // the options object only; its five fields follow
)

// maxCheckpoints bounds the checkpoints array (the command line takes a
// few; a frame claiming millions is refused before any allocation).
const maxCheckpoints = 1 << 16

// errFrame is a malformed options frame.
var errFrame = errors.New("malformed options frame (verifier.js and verify.wasm do not match)")

// value is one decoded frame value.
type value struct {
	tag   byte
	bytes []byte  // tagString: the string; tagOther: the type name
	num   float64 // tagNumber
	elems []value // tagArray
}

// typeName is the JavaScript type the value had, as errors name it.
func (v value) typeName() string {
	switch v.tag {
	case tagString:
		return "string"
	case tagNumber:
		return "number"
	case tagArray:
		return "object"
	case tagOther:
		return string(v.bytes)
	}
	return "null"
}

type frameReader struct{ b []byte }

func (r *frameReader) u32() (uint32, error) {
	if len(r.b) < 4 {
		return 0, errFrame
	}
	n := binary.LittleEndian.Uint32(r.b)
	r.b = r.b[4:]
	return n, nil
}

func (r *frameReader) bytes() ([]byte, error) {
	n, err := r.u32()
	if err != nil || uint64(len(r.b)) < uint64(n) {
		return nil, errFrame
	}
	b := r.b[:n:n]
	r.b = r.b[n:]
	return b, nil
}

func (r *frameReader) value(depth int) (value, error) {
	if len(r.b) < 1 {
		return value{}, errFrame
	}
	v := value{tag: r.b[0]}
	r.b = r.b[1:]
	var err error
	switch v.tag {
	case tagAbsent:
	case tagString, tagOther:
		v.bytes, err = r.bytes()
	case tagNumber:
		if len(r.b) < 8 {
			return v, errFrame
		}
		v.num = math.Float64frombits(binary.LittleEndian.Uint64(r.b))
		r.b = r.b[8:]
	case tagArray:
		var n uint32
		if n, err = r.u32(); err != nil || depth > 0 || n > maxCheckpoints || uint64(n) > uint64(len(r.b)) {
			return v, errFrame // each element takes at least a byte
		}
		v.elems = make([]value, n)
		for i := range v.elems {
			if v.elems[i], err = r.value(depth + 1); err != nil {
				return v, err
			}
		}
	default:
		return v, errFrame
	}
	return v, err
}

// decodeOptions reads an options frame into verify.Input, with the
// errors verifyBundle has always given for a field of the wrong type.
func decodeOptions(frame []byte) (verify.Input, error) {
	var in verify.Input
	r := &frameReader{b: frame}
	if len(r.b) == 0 {
		return in, errFrame
	}
	switch r.b[0] {
	case tagObject:
		r.b = r.b[1:]
	case tagAbsent:
		if len(r.b) != 1 {
			return in, errFrame
		}
		return in, nil
	default:
		v, err := r.value(0)
		if err != nil || len(r.b) != 0 {
			return in, errFrame
		}
		return in, fmt.Errorf("want an object, got a %s", v.typeName())
	}
	var fields [5]value
	for i := range fields {
		v, err := r.value(0)
		if err != nil {
			return in, err
		}
		fields[i] = v
	}
	if len(r.b) != 0 {
		return in, errFrame
	}
	str := func(name string, v value, dst *string) error {
		switch v.tag {
		case tagAbsent:
		case tagString:
			*dst = string(v.bytes)
		default:
			return fmt.Errorf("%s must be a string, got a %s", name, v.typeName())
		}
		return nil
	}
	num := func(name string, v value, dst *uint32) error {
		switch v.tag {
		case tagAbsent:
		case tagNumber:
			f := v.num
			if f < 0 || f > math.MaxUint32 || f != math.Trunc(f) {
				return fmt.Errorf("%s must be a whole number from 0 to %d, got %v", name, uint32(math.MaxUint32), f)
			}
			*dst = uint32(f)
		default:
			return fmt.Errorf("%s must be a number, got a %s", name, v.typeName())
		}
		return nil
	}
	if err := str("genesis", fields[0], &in.Genesis); err != nil {
		return in, err
	}
	if err := str("headers", fields[1], &in.Headers); err != nil {
		return in, err
	}
	if err := num("minDepositConfs", fields[3], &in.MinDepositConfs); err != nil {
		return in, err
	}
	if err := num("minKeystoneConfs", fields[4], &in.MinKeystoneConfs); err != nil {
		return in, err
	}
	switch cps := fields[2]; cps.tag {
	case tagAbsent:
	case tagArray:
		for i, c := range cps.elems {
			if c.tag != tagString {
				return in, fmt.Errorf("checkpoints[%d] must be a \"HEIGHT:HASH\" string, got a %s", i, c.typeName())
			}
			in.Checkpoints = append(in.Checkpoints, string(c.bytes))
		}
	default:
		return in, fmt.Errorf("checkpoints must be an array of \"HEIGHT:HASH\" strings, got a %s", cps.typeName())
	}
	return in, nil
}

package verify

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// The input frame: verify/wasm/verifier.js writes verifyBundle's options
// object into WebAssembly memory after the bundle's bytes as a few tagged
// values, so that no field is read through syscall/js (each read a call
// out of WebAssembly) and no JSON is decoded for them. JavaScript only
// reports what each field holds; the checks and their messages are here.
//
// The frame is one value, the options argument: frameAbsent (undefined or
// null: no options), frameOther (not an object) or frameObject followed by
// its fields in a fixed order: genesis, headers, checkpoints,
// minDepositConfs, minKeystoneConfs. Each is one value:
//
//	frameAbsent                      undefined or null
//	frameString  u32 n, n bytes      a string, as UTF-8
//	frameNumber  f64                 a number
//	frameArray   u32 n, n values     an array (its elements are strings or frameOther)
//	frameOther   u32 n, n bytes      anything else: its JavaScript type's name
//
// Integers are little-endian. A frame that does not parse is a bug in
// verifier.js, reported as such (ErrInputFrame), never a crash.
const (
	frameAbsent = 0
	frameString = 1
	frameNumber = 2
	frameArray  = 3
	frameOther  = 4
	frameObject = 5 // the options object only; its five fields follow
)

// maxFrameCheckpoints bounds the checkpoints array (the command line takes a
// few; a frame claiming millions is refused before any allocation).
const maxFrameCheckpoints = 1 << 16

// ErrInputFrame: a malformed options frame.
var ErrInputFrame = errors.New("malformed options frame (verifier.js and verify.wasm do not match)")

// frameValue is one decoded frame value.
type frameValue struct {
	tag   byte
	bytes []byte       // frameString: the string; frameOther: the type name
	num   float64      // frameNumber
	elems []frameValue // frameArray
}

// typeName is the JavaScript type the value had, as errors name it.
func (v frameValue) typeName() string {
	switch v.tag {
	case frameString:
		return "string"
	case frameNumber:
		return "number"
	case frameArray:
		return "object"
	case frameOther:
		return string(v.bytes)
	}
	return "null"
}

type frameReader struct{ b []byte }

func (r *frameReader) u32() (uint32, error) {
	if len(r.b) < 4 {
		return 0, ErrInputFrame
	}
	n := binary.LittleEndian.Uint32(r.b)
	r.b = r.b[4:]
	return n, nil
}

func (r *frameReader) bytes() ([]byte, error) {
	n, err := r.u32()
	if err != nil || uint64(len(r.b)) < uint64(n) {
		return nil, ErrInputFrame
	}
	b := r.b[:n:n]
	r.b = r.b[n:]
	return b, nil
}

func (r *frameReader) value(depth int) (frameValue, error) {
	if len(r.b) < 1 {
		return frameValue{}, ErrInputFrame
	}
	v := frameValue{tag: r.b[0]}
	r.b = r.b[1:]
	var err error
	switch v.tag {
	case frameAbsent:
	case frameString, frameOther:
		v.bytes, err = r.bytes()
	case frameNumber:
		if len(r.b) < 8 {
			return v, ErrInputFrame
		}
		v.num = math.Float64frombits(binary.LittleEndian.Uint64(r.b))
		r.b = r.b[8:]
	case frameArray:
		var n uint32
		if n, err = r.u32(); err != nil || depth > 0 || n > maxFrameCheckpoints || uint64(n) > uint64(len(r.b)) {
			return v, ErrInputFrame // each element takes at least a byte
		}
		v.elems = make([]frameValue, n)
		for i := range v.elems {
			if v.elems[i], err = r.value(depth + 1); err != nil {
				return v, err
			}
		}
	default:
		return v, ErrInputFrame
	}
	return v, err
}

// ParseInputFrame reads an options frame into an Input, with the errors
// verifyBundle has always given for a field of the wrong type.
func ParseInputFrame(frame []byte) (Input, error) {
	var in Input
	r := &frameReader{b: frame}
	if len(r.b) == 0 {
		return in, ErrInputFrame
	}
	switch r.b[0] {
	case frameObject:
		r.b = r.b[1:]
	case frameAbsent:
		if len(r.b) != 1 {
			return in, ErrInputFrame
		}
		return in, nil
	default:
		v, err := r.value(0)
		if err != nil || len(r.b) != 0 {
			return in, ErrInputFrame
		}
		return in, fmt.Errorf("want an object, got a %s", v.typeName())
	}
	var fields [5]frameValue
	for i := range fields {
		v, err := r.value(0)
		if err != nil {
			return in, err
		}
		fields[i] = v
	}
	if len(r.b) != 0 {
		return in, ErrInputFrame
	}
	str := func(name string, v frameValue, dst *string) error {
		switch v.tag {
		case frameAbsent:
		case frameString:
			*dst = string(v.bytes)
		default:
			return fmt.Errorf("%s must be a string, got a %s", name, v.typeName())
		}
		return nil
	}
	num := func(name string, v frameValue, dst *uint32) error {
		switch v.tag {
		case frameAbsent:
		case frameNumber:
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
	case frameAbsent:
	case frameArray:
		for i, c := range cps.elems {
			if c.tag != frameString {
				return in, fmt.Errorf("checkpoints[%d] must be a \"HEIGHT:HASH\" string, got a %s", i, c.typeName())
			}
			in.Checkpoints = append(in.Checkpoints, string(c.bytes))
		}
	default:
		return in, fmt.Errorf("checkpoints must be an array of \"HEIGHT:HASH\" strings, got a %s", cps.typeName())
	}
	return in, nil
}

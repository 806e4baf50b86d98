package main

import (
	"encoding/binary"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/hemi-go/hemi/verify"
)

// frame builds options frames as verifier.js does.
type frame []byte

func (f frame) str(tag byte, s string) frame {
	f = append(f, tag)
	f = binary.LittleEndian.AppendUint32(f, uint32(len(s)))
	return append(f, s...)
}

func (f frame) num(x float64) frame {
	return binary.LittleEndian.AppendUint64(append(f, tagNumber), math.Float64bits(x))
}

func (f frame) array(n int) frame {
	return binary.LittleEndian.AppendUint32(append(f, tagArray), uint32(n))
}

// inputFrame is the frame of in's options object, absent fields omitted
// as JavaScript's undefined.
func inputFrame(in verify.Input) []byte {
	f := frame{tagObject}
	for _, s := range []string{in.Genesis, in.Headers} {
		if s == "" {
			f = append(f, tagAbsent)
		} else {
			f = f.str(tagString, s)
		}
	}
	if in.Checkpoints == nil {
		f = append(f, tagAbsent)
	} else {
		f = f.array(len(in.Checkpoints))
		for _, c := range in.Checkpoints {
			f = f.str(tagString, c)
		}
	}
	for _, n := range []uint32{in.MinDepositConfs, in.MinKeystoneConfs} {
		if n == 0 {
			f = append(f, tagAbsent)
		} else {
			f = f.num(float64(n))
		}
	}
	return f
}

// TestDecodeOptions: each frame verifier.js can send gives the Input it
// describes or the error `hemi verify`'s flags would name; a malformed
// frame is errFrame, never a panic.
func TestDecodeOptions(t *testing.T) {
	full := verify.Input{Genesis: `{"version": 1}`, Headers: "00ff", Checkpoints: []string{"0:ab", "2016:cd"}, MinDepositConfs: 6, MinKeystoneConfs: 4294967295}
	obj := frame{tagObject}
	absent := func(n int) frame { return frame(make([]byte, n)) }
	cases := []struct {
		name  string
		frame []byte
		want  verify.Input
		err   string // "" for success; errFrame's text for a malformed frame
	}{
		{"no options", frame{tagAbsent}, verify.Input{}, ""},
		{"empty object", append(obj, absent(5)...), verify.Input{}, ""},
		{"every field", inputFrame(full), full, ""},
		{"an empty checkpoint list", append(append(append(obj, absent(2)...), frame{}.array(0)...), absent(2)...), verify.Input{}, ""},
		{"options a string", frame{}.str(tagOther, "string"), verify.Input{}, "want an object, got a string"},
		{"genesis a number", append(append(obj, frame{}.num(5)...), absent(4)...), verify.Input{}, "genesis must be a string, got a number"},
		{"headers an object", append(append(append(obj, tagAbsent), frame{}.str(tagOther, "object")...), absent(3)...), verify.Input{}, "headers must be a string, got a object"},
		{"checkpoints a string", append(append(append(obj, absent(2)...), frame{}.str(tagString, "0:ab")...), absent(2)...), verify.Input{}, "checkpoints must be an array of \"HEIGHT:HASH\" strings, got a string"},
		{"a checkpoint a number", append(append(append(obj, absent(2)...), frame{}.array(1).num(0)...), absent(2)...), verify.Input{}, "checkpoints[0] must be a \"HEIGHT:HASH\" string, got a number"},
		{"a checkpoint undefined", append(append(append(obj, absent(2)...), frame{}.array(2).str(tagString, "0:ab").str(tagOther, "undefined")...), absent(2)...), verify.Input{}, "checkpoints[1] must be a \"HEIGHT:HASH\" string, got a undefined"},
		{"confirmations negative", append(append(obj, absent(3)...), frame{}.num(-1).num(1)...), verify.Input{}, "minDepositConfs must be a whole number from 0 to 4294967295, got -1"},
		{"confirmations NaN", append(append(obj, absent(4)...), frame{}.num(math.NaN())...), verify.Input{}, "minKeystoneConfs must be a whole number from 0 to 4294967295, got NaN"},
		{"confirmations infinite", append(append(obj, absent(4)...), frame{}.num(math.Inf(1))...), verify.Input{}, "minKeystoneConfs must be a whole number from 0 to 4294967295, got +Inf"},
		{"confirmations a string", append(append(obj, absent(3)...), frame{}.str(tagString, "6").num(1)...), verify.Input{}, "minDepositConfs must be a number, got a string"},
		{"empty frame", nil, verify.Input{}, errFrame.Error()},
		{"fields missing", append(obj, absent(4)...), verify.Input{}, errFrame.Error()},
		{"bytes after the fields", append(append(obj, absent(5)...), 0), verify.Input{}, errFrame.Error()},
		{"bytes after no options", frame{tagAbsent, tagAbsent}, verify.Input{}, errFrame.Error()},
		{"unknown tag", append(append(obj, 9), absent(4)...), verify.Input{}, errFrame.Error()},
		{"an object field", append(append(obj, tagObject), absent(4)...), verify.Input{}, errFrame.Error()},
		{"a string longer than the frame", append(obj, 1, 0xff, 0xff, 0xff, 0x7f, 'a'), verify.Input{}, errFrame.Error()},
		{"a number cut short", append(append(obj, absent(3)...), tagNumber, 0, 0), verify.Input{}, errFrame.Error()},
		{"an array claiming 4 billion elements", append(append(obj, absent(2)...), tagArray, 0xff, 0xff, 0xff, 0xff), verify.Input{}, errFrame.Error()},
		{"an array in an array", append(append(append(obj, absent(2)...), frame{}.array(1).array(0)...), absent(2)...), verify.Input{}, errFrame.Error()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := decodeOptions(c.frame)
			switch {
			case c.err == "" && err != nil:
				t.Fatalf("error %v", err)
			case c.err != "" && (err == nil || err.Error() != c.err):
				t.Fatalf("error %v, want %q", err, c.err)
			case c.err == "" && !reflect.DeepEqual(got, c.want):
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
			if c.err == errFrame.Error() && !errors.Is(err, errFrame) {
				t.Fatalf("%v is not errFrame", err)
			}
		})
	}
}

// FuzzDecodeOptions: any frame decodes or fails without a panic, and a
// frame that decodes re-encodes to one that decodes to the same Input.
func FuzzDecodeOptions(f *testing.F) {
	f.Add([]byte{tagAbsent})
	f.Add(inputFrame(verify.Input{}))
	f.Add(inputFrame(verify.Input{Genesis: "g", Headers: "h", Checkpoints: []string{"1:aa", ""}, MinDepositConfs: 1, MinKeystoneConfs: 2}))
	f.Add([]byte(frame{}.str(tagOther, "function")))
	f.Add([]byte(append(frame{tagObject, tagAbsent, tagAbsent}.array(1).str(tagOther, "null"), tagAbsent, tagAbsent)))
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := decodeOptions(b)
		if err != nil {
			if !errors.Is(err, errFrame) && !strings.Contains(err.Error(), "must be") && !strings.Contains(err.Error(), "want an object") {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		again, err := decodeOptions(inputFrame(in))
		if err != nil {
			t.Fatalf("re-encoded %+v: %v", in, err)
		}
		// An empty string or list reads as absent once re-encoded.
		if len(in.Checkpoints) == 0 {
			in.Checkpoints = nil
		}
		if !reflect.DeepEqual(again, in) {
			t.Fatalf("round trip: %+v, then %+v", in, again)
		}
	})
}

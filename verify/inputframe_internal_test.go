package verify

import (
	"encoding/binary"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

// frame builds input frames as verify/wasm/verifier.js does.
type frame []byte

func (f frame) str(tag byte, s string) frame {
	f = append(f, tag)
	f = binary.LittleEndian.AppendUint32(f, uint32(len(s)))
	return append(f, s...)
}

func (f frame) num(x float64) frame {
	return binary.LittleEndian.AppendUint64(append(f, frameNumber), math.Float64bits(x))
}

func (f frame) array(n int) frame {
	return binary.LittleEndian.AppendUint32(append(f, frameArray), uint32(n))
}

// inputFrame is the frame of in's options object, absent fields omitted
// as JavaScript's undefined.
func inputFrame(in Input) []byte {
	f := frame{frameObject}
	for _, s := range []string{in.Genesis, in.Headers} {
		if s == "" {
			f = append(f, frameAbsent)
		} else {
			f = f.str(frameString, s)
		}
	}
	if in.Checkpoints == nil {
		f = append(f, frameAbsent)
	} else {
		f = f.array(len(in.Checkpoints))
		for _, c := range in.Checkpoints {
			f = f.str(frameString, c)
		}
	}
	for _, n := range []uint32{in.MinDepositConfs, in.MinKeystoneConfs} {
		if n == 0 {
			f = append(f, frameAbsent)
		} else {
			f = f.num(float64(n))
		}
	}
	return f
}

// TestParseInputFrame: each frame verifier.js can send gives the Input it
// describes or the error `hemi verify`'s flags would name; a malformed
// frame is ErrInputFrame, never a panic.
func TestParseInputFrame(t *testing.T) {
	full := Input{Genesis: `{"version": 1}`, Headers: "00ff", Checkpoints: []string{"0:ab", "2016:cd"}, MinDepositConfs: 6, MinKeystoneConfs: 4294967295}
	obj := frame{frameObject}
	absent := func(n int) frame { return frame(make([]byte, n)) }
	cases := []struct {
		name  string
		frame []byte
		want  Input
		err   string // "" for success; ErrInputFrame's text for a malformed frame
	}{
		{"no options", frame{frameAbsent}, Input{}, ""},
		{"empty object", append(obj, absent(5)...), Input{}, ""},
		{"every field", inputFrame(full), full, ""},
		{"an empty checkpoint list", append(append(append(obj, absent(2)...), frame{}.array(0)...), absent(2)...), Input{}, ""},
		{"options a string", frame{}.str(frameOther, "string"), Input{}, "want an object, got a string"},
		{"genesis a number", append(append(obj, frame{}.num(5)...), absent(4)...), Input{}, "genesis must be a string, got a number"},
		{"headers an object", append(append(append(obj, frameAbsent), frame{}.str(frameOther, "object")...), absent(3)...), Input{}, "headers must be a string, got a object"},
		{"checkpoints a string", append(append(append(obj, absent(2)...), frame{}.str(frameString, "0:ab")...), absent(2)...), Input{}, "checkpoints must be an array of \"HEIGHT:HASH\" strings, got a string"},
		{"a checkpoint a number", append(append(append(obj, absent(2)...), frame{}.array(1).num(0)...), absent(2)...), Input{}, "checkpoints[0] must be a \"HEIGHT:HASH\" string, got a number"},
		{"a checkpoint undefined", append(append(append(obj, absent(2)...), frame{}.array(2).str(frameString, "0:ab").str(frameOther, "undefined")...), absent(2)...), Input{}, "checkpoints[1] must be a \"HEIGHT:HASH\" string, got a undefined"},
		{"confirmations negative", append(append(obj, absent(3)...), frame{}.num(-1).num(1)...), Input{}, "minDepositConfs must be a whole number from 0 to 4294967295, got -1"},
		{"confirmations NaN", append(append(obj, absent(4)...), frame{}.num(math.NaN())...), Input{}, "minKeystoneConfs must be a whole number from 0 to 4294967295, got NaN"},
		{"confirmations infinite", append(append(obj, absent(4)...), frame{}.num(math.Inf(1))...), Input{}, "minKeystoneConfs must be a whole number from 0 to 4294967295, got +Inf"},
		{"confirmations a string", append(append(obj, absent(3)...), frame{}.str(frameString, "6").num(1)...), Input{}, "minDepositConfs must be a number, got a string"},
		{"empty frame", nil, Input{}, ErrInputFrame.Error()},
		{"fields missing", append(obj, absent(4)...), Input{}, ErrInputFrame.Error()},
		{"bytes after the fields", append(append(obj, absent(5)...), 0), Input{}, ErrInputFrame.Error()},
		{"bytes after no options", frame{frameAbsent, frameAbsent}, Input{}, ErrInputFrame.Error()},
		{"unknown tag", append(append(obj, 9), absent(4)...), Input{}, ErrInputFrame.Error()},
		{"an object field", append(append(obj, frameObject), absent(4)...), Input{}, ErrInputFrame.Error()},
		{"a string longer than the frame", append(obj, 1, 0xff, 0xff, 0xff, 0x7f, 'a'), Input{}, ErrInputFrame.Error()},
		{"a number cut short", append(append(obj, absent(3)...), frameNumber, 0, 0), Input{}, ErrInputFrame.Error()},
		{"an array claiming 4 billion elements", append(append(obj, absent(2)...), frameArray, 0xff, 0xff, 0xff, 0xff), Input{}, ErrInputFrame.Error()},
		{"an array in an array", append(append(append(obj, absent(2)...), frame{}.array(1).array(0)...), absent(2)...), Input{}, ErrInputFrame.Error()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseInputFrame(c.frame)
			switch {
			case c.err == "" && err != nil:
				t.Fatalf("error %v", err)
			case c.err != "" && (err == nil || err.Error() != c.err):
				t.Fatalf("error %v, want %q", err, c.err)
			case c.err == "" && !reflect.DeepEqual(got, c.want):
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
			if c.err == ErrInputFrame.Error() && !errors.Is(err, ErrInputFrame) {
				t.Fatalf("%v is not ErrInputFrame", err)
			}
		})
	}
}

// FuzzParseInputFrame: any frame decodes or fails without a panic, and a
// frame that decodes re-encodes to one that decodes to the same Input.
func FuzzParseInputFrame(f *testing.F) {
	f.Add([]byte{frameAbsent})
	f.Add(inputFrame(Input{}))
	f.Add(inputFrame(Input{Genesis: "g", Headers: "h", Checkpoints: []string{"1:aa", ""}, MinDepositConfs: 1, MinKeystoneConfs: 2}))
	f.Add([]byte(frame{}.str(frameOther, "function")))
	f.Add([]byte(append(frame{frameObject, frameAbsent, frameAbsent}.array(1).str(frameOther, "null"), frameAbsent, frameAbsent)))
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := ParseInputFrame(b)
		if err != nil {
			if !errors.Is(err, ErrInputFrame) && !strings.Contains(err.Error(), "must be") && !strings.Contains(err.Error(), "want an object") {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		again, err := ParseInputFrame(inputFrame(in))
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

package verify

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// maxHeadersFile bounds a --headers file (a million headers in hex).
const maxHeadersFile = 200 << 20

// ParseHeaders reads current Bitcoin headers (--headers FILE) as a JSON
// array of hex strings or as whitespace-separated hex (one header per
// line, as `bitcoin-cli getblockheader HASH false` prints), each 80
// bytes, oldest first.
func ParseHeaders(data []byte) ([][]byte, error) {
	if len(data) > maxHeadersFile {
		return nil, fmt.Errorf("%w: headers file of %d bytes, the limit is %d", ErrHeaders, len(data), maxHeadersFile)
	}
	var list []string
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '[' {
		if err := json.Unmarshal(t, &list); err != nil {
			return nil, fmt.Errorf("%w: headers file: %v", ErrHeaders, err)
		}
	} else {
		list = strings.Fields(string(data))
	}
	out := make([][]byte, len(list))
	for i, s := range list {
		b, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
		if err != nil || len(b) != 80 {
			return nil, fmt.Errorf("%w: headers file entry %d: want 160 hex digits (an 80-byte header)", ErrHeaders, i)
		}
		out[i] = b
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: the headers file has no headers", ErrHeaders)
	}
	return out, nil
}

// Input is the verifier's input as the command line and the
// WebAssembly function take it: files' contents and flags.
type Input struct {
	Genesis          string   `json:"genesis,omitempty"`     // --genesis file contents
	Checkpoints      []string `json:"checkpoints,omitempty"` // --checkpoint values
	Headers          string   `json:"headers,omitempty"`     // --headers file contents
	MinDepositConfs  uint32   `json:"minDepositConfs,omitempty"`
	MinKeystoneConfs uint32   `json:"minKeystoneConfs,omitempty"`
}

// Options turns the input into Options; bad input names the flag. The
// identity read from the genesis file has no GenesisHash (no check
// needs it; ParseGenesis computes it).
func (in *Input) Options() (Options, error) {
	o := Options{Checkpoints: in.Checkpoints, MinDepositConfs: in.MinDepositConfs, MinKeystoneConfs: in.MinKeystoneConfs}
	if in.Genesis != "" {
		id, err := parseGenesis([]byte(in.Genesis), false)
		if err != nil {
			return o, fmt.Errorf("--genesis: %w", err)
		}
		o.Identity = id
	}
	if in.Headers != "" {
		hs, err := ParseHeaders([]byte(in.Headers))
		if err != nil {
			return o, fmt.Errorf("--headers: %w", err)
		}
		o.Headers = hs
	}
	return o, nil
}

// VerifyInput is one whole verification from the user's input, as the
// WebAssembly verifyBundle runs it and the benchmark times it natively:
// the options parsed from in (a bad one fails the "bundle" link, naming
// its flag), then VerifyJSON with now as the present.
func VerifyInput(bundle []byte, in Input, now time.Time) *Result {
	o, err := in.Options()
	if err != nil {
		return failed(&Result{}, LinkBundle, err)
	}
	o.Now = now
	return VerifyJSON(bundle, o)
}

package popm

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/hemi-go/hemi/internal/pop"
)

func keystoneJSON(k pop.Keystone) KeystoneJSON {
	enc := k.Encode()
	var hash common.Hash
	copy(hash[:], k.BlockPrefix[:])
	hash[31] = 0x77
	return KeystoneJSON{Number: hexutil.Uint64(k.L2Number), Hash: hash, ID: k.ID(),
		BTCViewHeight: hexutil.Uint64(k.BTCViewHeight), Encoded: enc[:]}
}

func TestKeystoneJSONDecode(t *testing.T) {
	k := testKeystone(3)
	tests := []struct {
		name   string
		mutate func(j *KeystoneJSON)
		ok     bool
	}{
		{"valid", func(*KeystoneJSON) {}, true},
		{"id of another keystone", func(j *KeystoneJSON) { j.ID[0] ^= 1 }, false},
		{"short encoding", func(j *KeystoneJSON) { j.Encoded = j.Encoded[:75] }, false},
		{"version 2", func(j *KeystoneJSON) { j.Encoded[0] = 2 }, false},
		{"number differs", func(j *KeystoneJSON) { j.Number++ }, false},
		{"view height differs", func(j *KeystoneJSON) { j.BTCViewHeight++ }, false},
		{"block hash differs", func(j *KeystoneJSON) { j.Hash[0] ^= 1 }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j := keystoneJSON(k)
			j.Encoded = append(hexutil.Bytes(nil), j.Encoded...)
			tc.mutate(&j)
			got, err := j.Decode()
			if tc.ok {
				if err != nil || got.K != k || got.ID != k.ID() || got.Number != uint64(k.L2Number) {
					t.Fatalf("decode: %+v, %v", got, err)
				}
				return
			}
			if !errors.Is(err, ErrKeystoneJSON) {
				t.Fatalf("err %v, want ErrKeystoneJSON", err)
			}
		})
	}
}

// FuzzKeystoneJSON: any JSON the node might send decodes or fails with
// ErrKeystoneJSON, never panics; a decoded keystone re-encodes to the same
// JSON object.
func FuzzKeystoneJSON(f *testing.F) {
	seed, _ := json.Marshal(keystoneJSON(testKeystone(1)))
	f.Add(seed)
	f.Add([]byte(`{"number":"0x19","encoded":"0x01"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var j KeystoneJSON
		if json.Unmarshal(b, &j) != nil {
			return
		}
		k, err := j.Decode()
		if err != nil {
			if !errors.Is(err, ErrKeystoneJSON) {
				t.Fatalf("err %v is not ErrKeystoneJSON", err)
			}
			return
		}
		enc := k.K.Encode()
		again := KeystoneJSON{Number: hexutil.Uint64(k.Number), Hash: k.Hash, ID: k.ID, PrevID: j.PrevID,
			BTCViewHeight: hexutil.Uint64(k.K.BTCViewHeight), Encoded: enc[:]}
		a, _ := json.Marshal(again)
		b2, _ := json.Marshal(j)
		if string(a) != string(b2) {
			t.Fatalf("round trip:\n %s\n %s", a, b2)
		}
	})
}

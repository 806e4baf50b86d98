package rangesync

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/block"
)

// seedBlock is a small well-formed block (not a valid one) for seeds.
func seedBlock() *chain.Block {
	to := common.Address{1}
	tx := types.NewTx(&types.LegacyTx{Nonce: 1, To: &to, Value: big.NewInt(5), Gas: 21000, GasPrice: big.NewInt(1)})
	h := &types.Header{Number: big.NewInt(7), Difficulty: new(big.Int), GasLimit: 30_000_000, Time: 9, Extra: []byte{1, 2}}
	return &chain.Block{Header: h, Body: &block.Body{Txs: types.Transactions{tx}}}
}

func seedEncoded(f *testing.F) []byte {
	enc, err := EncodeBlock(seedBlock())
	if err != nil {
		f.Fatal(err)
	}
	return enc
}

// FuzzDecodeRequest: DecodeRequest never panics, and what it accepts is
// valid and re-encodes to the same bytes.
func FuzzDecodeRequest(f *testing.F) {
	for _, r := range []Request{{Kind: ByNumber, From: 1, Count: 128}, {Kind: ByHash, Hash: common.Hash{9}, Count: 1},
		{Kind: ByNumber, From: 1, Count: 1 << 40}, {Kind: 3, Count: 1}} {
		enc, _ := EncodeRequest(&r)
		f.Add(enc)
	}
	f.Add([]byte{})
	f.Add([]byte{0xc0})
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeRequest(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatal(err)
		}
		enc, err := EncodeRequest(r)
		if err != nil || !bytes.Equal(enc, data) {
			t.Fatalf("re-encoded %x, %v; input %x", enc, err, data)
		}
	})
}

// FuzzDecodeBlock: DecodeBlock never panics; what it accepts re-encodes
// to the same bytes.
func FuzzDecodeBlock(f *testing.F) {
	f.Add(seedEncoded(f))
	f.Add([]byte{0xc2, 0xc0, 0xc0})
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := DecodeBlock(data)
		if err != nil {
			return
		}
		enc, err := EncodeBlock(b)
		if err != nil || !bytes.Equal(enc, data) {
			t.Fatalf("re-encoded %x, %v; input %x", enc, err, data)
		}
	})
}

// FuzzReadAnswer: a response (status, then frames) from a peer never
// makes the client's readers panic; every failure is a clean error.
func FuzzReadAnswer(f *testing.F) {
	var ok bytesBuffer
	writeStatus(&ok, StatusOK, "")
	writeFrame(&ok, seedEncoded(f))
	f.Add(ok.b)
	var bad bytesBuffer
	writeStatus(&bad, StatusRateLimited, "slow down")
	f.Add(bad.b)
	f.Add([]byte{0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReader(bytes.NewReader(data))
		if err := readStatus(br); err != nil {
			return
		}
		for range 64 {
			b, _, err := readFrame(br)
			if err != nil {
				return
			}
			if _, err := EncodeBlock(b); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// FuzzReader: the block file reader never panics or over-allocates on a
// corrupt file (plain or gzip).
func FuzzReader(f *testing.F) {
	enc := seedEncoded(f)
	f.Add(append(bytes.Clone(enc), enc...), false)
	var gz bytes.Buffer
	z := gzip.NewWriter(&gz)
	z.Write(enc)
	z.Close()
	f.Add(gz.Bytes(), true)
	f.Add([]byte{0xfb, 0xff, 0xff, 0xff, 0xff}, false)
	f.Fuzz(func(t *testing.T, data []byte, zipped bool) {
		r, err := NewReader(bytes.NewReader(data), zipped)
		if err != nil {
			return
		}
		defer r.Close()
		for range 64 {
			b, err := r.Next()
			if err == io.EOF || err != nil {
				return
			}
			if _, err := rlp.EncodeToBytes(b.Header); err != nil {
				t.Fatal(err)
			}
		}
	})
}

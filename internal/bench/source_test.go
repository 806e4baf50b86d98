package bench

import (
	"bytes"
	"errors"
	"runtime"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hemi-go/hemi/internal/btc/peerserve"
)

func TestChainSource(t *testing.T) {
	c, err := DecodeChainFile(tinyChainFile(t, 4), regtest.Net, *regtest.GenesisHash)
	if err != nil {
		t.Fatal(err)
	}
	s, err := newChainSource(c, regtest)
	if err != nil {
		t.Fatal(err)
	}
	tip, h := s.Tip()
	if want, _ := c.Hash(4); h != 4 || tip != want {
		t.Fatalf("tip %v at %d", tip, h)
	}
	for height := int32(0); height <= 4; height++ {
		hash, ok := s.HashAt(height)
		if !ok {
			t.Fatalf("no hash at %d", height)
		}
		if got, ok := s.HeightOf(hash); !ok || got != height {
			t.Fatalf("HeightOf(HashAt(%d)) = %d %v", height, got, ok)
		}
		hdr, err := s.Header(hash)
		if err != nil || hdr.BlockHash() != hash {
			t.Fatalf("header %d: %v", height, err)
		}
		raw, err := s.RawBlock(hash)
		if err != nil {
			t.Fatal(err)
		}
		var b wire.MsgBlock
		if err := b.Deserialize(bytes.NewReader(raw)); err != nil || b.Header.BlockHash() != hash {
			t.Fatalf("raw block %d: %v", height, err)
		}
	}
	unknown := chainhash.Hash{1}
	tests := []struct {
		name string
		call func() error
		want error
	}{
		{"header of unknown block", func() error { _, err := s.Header(unknown); return err }, peerserve.ErrNotFound},
		{"raw unknown block", func() error { _, err := s.RawBlock(unknown); return err }, peerserve.ErrNotFound},
		{"mempool tx", func() error { _, err := s.MempoolTx(unknown); return err }, peerserve.ErrNotFound},
		{"relayed tx", func() error { return s.AcceptTx(wire.NewMsgTx(2)) }, ErrNoRelay},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	if _, ok := s.HashAt(5); ok {
		t.Fatal("hash above the tip")
	}
	if _, ok := s.HeightOf(unknown); ok {
		t.Fatal("height of unknown block")
	}
}

func TestVmHWM(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	kb, err := vmHWM("self")
	if err != nil || kb <= 0 {
		t.Fatalf("VmHWM %d: %v", kb, err)
	}
	if _, err := vmHWM("0"); err == nil {
		t.Fatal("pid 0 has no status file")
	}
}

package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hemi-go/hemi/internal/btc/peerserve"
)

// ErrNoRelay is returned to peers that relay transactions to the benchmark
// peer, which serves a fixed chain.
var ErrNoRelay = errors.New("bench: the benchmark peer serves a fixed chain and relays no transactions")

// chainSource serves a ChainFile (plus the genesis block of its
// parameters) as a peerserve.Source. It never changes, so it needs no
// locks.
type chainSource struct {
	file       *ChainFile
	genesis    chainhash.Hash
	genesisHdr wire.BlockHeader
	genesisRaw []byte
	heights    map[chainhash.Hash]int32
}

var _ peerserve.Source = (*chainSource)(nil)

func newChainSource(file *ChainFile, params *chaincfg.Params) (*chainSource, error) {
	var raw bytes.Buffer
	if err := params.GenesisBlock.Serialize(&raw); err != nil {
		return nil, fmt.Errorf("bench: serialize genesis: %w", err)
	}
	s := &chainSource{
		file:       file,
		genesis:    *params.GenesisHash,
		genesisHdr: params.GenesisBlock.Header,
		genesisRaw: raw.Bytes(),
		heights:    make(map[chainhash.Hash]int32, file.Blocks()+1),
	}
	s.heights[s.genesis] = 0
	for h := int32(1); h <= file.Blocks(); h++ {
		hash, _ := file.Hash(h)
		s.heights[hash] = h
	}
	return s, nil
}

func (s *chainSource) Tip() (chainhash.Hash, int32) {
	h := s.file.Blocks()
	hash, _ := s.file.Hash(h)
	return hash, h
}

func (s *chainSource) HashAt(height int32) (chainhash.Hash, bool) {
	if height == 0 {
		return s.genesis, true
	}
	return s.file.Hash(height)
}

func (s *chainSource) HeightOf(hash chainhash.Hash) (int32, bool) {
	h, ok := s.heights[hash]
	return h, ok
}

func (s *chainSource) Header(hash chainhash.Hash) (wire.BlockHeader, error) {
	h, ok := s.heights[hash]
	if !ok {
		return wire.BlockHeader{}, peerserve.ErrNotFound
	}
	if h == 0 {
		return s.genesisHdr, nil
	}
	raw, _ := s.file.Raw(h)
	var hdr wire.BlockHeader
	if err := hdr.Deserialize(bytes.NewReader(raw[:blockHeaderSize])); err != nil {
		return wire.BlockHeader{}, fmt.Errorf("bench: header %d: %w", h, err)
	}
	return hdr, nil
}

func (s *chainSource) RawBlock(hash chainhash.Hash) ([]byte, error) {
	h, ok := s.heights[hash]
	if !ok {
		return nil, peerserve.ErrNotFound
	}
	if h == 0 {
		return s.genesisRaw, nil
	}
	raw, _ := s.file.Raw(h)
	return raw, nil
}

func (s *chainSource) MempoolTx(chainhash.Hash) (*wire.MsgTx, error) {
	return nil, peerserve.ErrNotFound
}

func (s *chainSource) AcceptTx(*wire.MsgTx) error { return ErrNoRelay }

// Subscribe returns at once: the chain never changes, so there is nothing
// to announce.
func (s *chainSource) Subscribe(context.Context, func(peerserve.Announcement)) {}

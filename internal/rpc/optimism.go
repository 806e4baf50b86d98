package rpc

import (
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/finality"
)

// optimismAPI answers optimism_btcFinalityByBlockHash as Hemi's op-node
// serves it to Hemi's Blockscout fork and to hemi-viem
// (getBtcFinalityByBlockHash), so tools written for Hemi read our
// finality. The shape is heminetwork's L2BTCFinality (hemi package):
//
//	{"l2_keystone": {version, l1_block_number, l2_block_number,
//	  parent_ep_hash, prev_ep_keystone_hash, state_root, ep_hash},
//	 "btc_pub_height": n, "btc_pub_header_hash": "...", "btc_finality": n}
//
// Byte fields are hex without 0x (heminetwork's api.ByteSlice); the
// header hash is in wire order, as Hemi's bfgd stores it. btc_finality
// is Hemi's: the effective publication's Bitcoin confirmations minus 9
// (so 0 at 9 confirmations, Hemi's "final"), at most 100, and -9 when no
// publication covers the block. Mapped from internal/finality: the
// covering keystone (the first at or after the block; its Bitcoin view
// height in l1_block_number, the slot Hemi's abbreviated keystone gives
// its L1 block) and the effective publication (DESIGN 4: the keystone's
// or a later one's, earliest canonical). A block the chain does not hold
// canonically is error -32000, as op-node answers; hemi-viem then shows
// its own default (-9).
type optimismAPI struct{ s *Server }

// plainHex is heminetwork's api.ByteSlice: hex without 0x.
type plainHex []byte

func (b plainHex) MarshalJSON() ([]byte, error) {
	return []byte(`"` + hex.EncodeToString(b) + `"`), nil
}

type opL2Keystone struct {
	Version            uint8    `json:"version"`
	L1BlockNumber      uint32   `json:"l1_block_number"`
	L2BlockNumber      uint32   `json:"l2_block_number"`
	ParentEPHash       plainHex `json:"parent_ep_hash"`
	PrevKeystoneEPHash plainHex `json:"prev_ep_keystone_hash"`
	StateRoot          plainHex `json:"state_root"`
	EPHash             plainHex `json:"ep_hash"`
}

// opBTCFinality is optimism_btcFinalityByBlockHash's answer.
type opBTCFinality struct {
	L2Keystone       *opL2Keystone `json:"l2_keystone"`
	BTCPubHeight     int64         `json:"btc_pub_height"`
	BTCPubHeaderHash plainHex      `json:"btc_pub_header_hash"`
	BTCFinality      int32         `json:"btc_finality"`
}

// Hemi's btc_finality: confirmations past 9, capped; -9 for none.
const (
	opFinalityNone   = -9
	opFinalityOffset = 9
	opFinalityMax    = 100
)

// BtcFinalityByBlockHash is optimism_btcFinalityByBlockHash(hash).
func (api *optimismAPI) BtcFinalityByBlockHash(hash common.Hash) (*opBTCFinality, error) {
	s := api.s
	if s.cfg.Finality == nil {
		return nil, &rpcError{code: codeServer, msg: ErrNoFinality.Error(), err: ErrNoFinality}
	}
	h, err := s.chain.HeaderByHash(hash)
	if err == nil {
		var c interface{ Hash() common.Hash }
		if c, err = s.chain.HeaderByNumber(h.Number.Uint64()); err == nil && c.Hash() != hash {
			err = fmt.Errorf("block %s is not canonical: %w", hash, chain.ErrNotFound)
		}
	}
	if err != nil {
		return nil, &rpcError{code: codeServer, msg: fmt.Sprintf("block %s not found", hash), err: err}
	}
	f, err := s.cfg.Finality.Finality(h.Number.Uint64())
	if errors.Is(err, finality.ErrNotFound) {
		return nil, &rpcError{code: codeServer, msg: fmt.Sprintf("block %s not found", hash), err: err}
	}
	if err != nil {
		return nil, fmt.Errorf("finality of block %d: %w", h.Number, err)
	}
	out := &opBTCFinality{BTCPubHeight: -1, BTCPubHeaderHash: plainHex{}, BTCFinality: opFinalityNone}
	if !f.KeystoneExists {
		return out, nil
	}
	k, err := s.chain.KeystoneByHash(f.KeystoneHash)
	if err != nil {
		return nil, fmt.Errorf("keystone of block %d: %w", h.Number, err)
	}
	kh, err := s.chain.HeaderByHash(k.Hash)
	if err != nil {
		return nil, fmt.Errorf("keystone block %s: %w", k.Hash, err)
	}
	var prev common.Hash
	if k.PrevID != ([32]byte{}) {
		pk, err := s.chain.KeystoneByID(k.PrevID)
		if err != nil {
			return nil, fmt.Errorf("previous keystone of %d: %w", k.Number, err)
		}
		prev = pk.Hash
	}
	out.L2Keystone = &opL2Keystone{
		Version:            k.K.Version,
		L1BlockNumber:      k.K.BTCViewHeight,
		L2BlockNumber:      k.K.L2Number,
		ParentEPHash:       kh.ParentHash[:],
		PrevKeystoneEPHash: prev[:],
		StateRoot:          kh.Root[:],
		EPHash:             k.Hash[:],
	}
	if f.Published {
		out.BTCPubHeight = int64(f.Publication.Height)
		out.BTCPubHeaderHash = f.Publication.BlockHash[:]
		out.BTCFinality = int32(min(int64(f.Confirmations)-opFinalityOffset, opFinalityMax))
	}
	return out, nil
}

package rpc

import (
	"fmt"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/hemi-go/hemi/internal/chain/block"
)

// netAPI is the net namespace.
type netAPI struct{ s *Server }

// Version is net_version: the chain id in decimal.
func (api *netAPI) Version() string { return api.s.config.ChainID.String() }

// Listening is net_listening.
func (api *netAPI) Listening() bool { return true }

// PeerCount is net_peerCount (L2 peers are the network layer's; none
// are reported through this server yet).
func (api *netAPI) PeerCount() hexutil.Uint { return 0 }

// web3API is the web3 namespace.
type web3API struct{ s *Server }

// ClientVersion is web3_clientVersion.
func (api *web3API) ClientVersion() string { return api.s.cfg.ClientVersion }

// Sha3 is web3_sha3: keccak256 of the input.
func (api *web3API) Sha3(input hexutil.Bytes) hexutil.Bytes { return crypto.Keccak256(input) }

// hemiAPI is the hemi namespace.
type hemiAPI struct{ s *Server }

// bitcoinView is a Bitcoin block as hemi_* methods show it.
type bitcoinView struct {
	Height hexutil.Uint64 `json:"height"`
	// Hash is in display byte order (as explorers print it).
	Hash string `json:"hash"`
}

// BitcoinView is hemi_bitcoinView: the Bitcoin block an L2 block
// executes against, from its header's Extra record.
func (api *hemiAPI) BitcoinView(bnh gethrpc.BlockNumberOrHash) (*bitcoinView, error) {
	h, err := api.s.headerByNumberOrHash(bnh)
	if err != nil {
		return nil, notFound(err)
	}
	e, err := block.HeaderExtra(h)
	if err != nil {
		return nil, fmt.Errorf("block %d: %w", h.Number, err)
	}
	return &bitcoinView{Height: hexutil.Uint64(e.BitcoinHeight), Hash: e.BitcoinHash.String()}, nil
}

// BtcTip is hemi_btcTip: the tip of this node's Bitcoin index.
func (api *hemiAPI) BtcTip() (*bitcoinView, error) {
	if api.s.cfg.Bitcoin == nil {
		return nil, &rpcError{code: codeServer, msg: ErrNoBitcoin.Error(), err: ErrNoBitcoin}
	}
	hash, height := api.s.cfg.Bitcoin.BlockTip()
	if height < 0 {
		height = 0
	}
	return &bitcoinView{Height: hexutil.Uint64(height), Hash: chainhash.Hash(hash).String()}, nil
}

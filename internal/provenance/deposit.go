package provenance

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/ethereum/go-ethereum/common"

	"github.com/hemi-go/hemi/internal/btc/index"
	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/verify"
)

// Deposit builds the bundle of tunnel deposit txid:vout: the Bitcoin
// transaction paying the vault, the L2 system transaction that minted
// it, and the tunnel predeploy's minted[] record in the keystone's state
// (contracts/Tunnel.sol's documented layout, verify.MintedSlots).
func (b *Builder) Deposit(txid chainhash.Hash, vout uint32) (*verify.Bundle, error) {
	if b.cfg.TunnelAddress == (common.Address{}) {
		return nil, fmt.Errorf("%w: this network has no tunnel", ErrNotFound)
	}
	what := fmt.Sprintf("deposit %v:%d", txid, vout)
	info, err := b.cfg.Bitcoin.TxByID(txid, chainhash.Hash{})
	if errors.Is(err, index.ErrNotFound) {
		return nil, fmt.Errorf("%w: Bitcoin transaction %v is not confirmed on this node's chain", ErrNotFound, txid)
	}
	if err != nil {
		return nil, err
	}
	if int(vout) >= len(info.Tx.TxOut) {
		return nil, fmt.Errorf("%w: transaction %v has no output %d", ErrNotFound, txid, vout)
	}
	c := b.cfg.Chain
	head := c.Head()
	st, err := c.StateAt(head.Root)
	if err != nil {
		return nil, err
	}
	key := verify.DepositKey(txid, vout)
	s0, s1 := verify.MintedSlots(key)
	w1 := st.GetState(b.cfg.TunnelAddress, s1)
	number := binary.BigEndian.Uint64(w1[24:32])
	if number == 0 {
		return nil, fmt.Errorf("%w: %s (%d confirmations) is not minted as of L2 block %d: a deposit is minted once its Bitcoin block has the network's deposit confirmations in an L2 block's Bitcoin view, unless it was refunded; ask again later",
			ErrNotYet, what, info.Confirmations, head.Number)
	}
	h, err := c.HeaderByNumber(number)
	if err != nil {
		return nil, fmt.Errorf("provenance: mint block %d: %w", number, err)
	}
	blk, err := c.BlockByHash(h.Hash())
	if err != nil {
		return nil, err
	}
	src := block.SourceHash(block.DomainTunnelDeposit, txid, uint64(vout))
	loc := &chain.TxLocation{BlockHash: h.Hash(), BlockNumber: number}
	found := false
	for i, stx := range blk.Body.SystemTxs {
		if stx.SourceHash == src {
			loc.Index, loc.System, found = uint64(i), stx, true
			break
		}
	}
	if !found {
		return nil, fmt.Errorf("provenance: minted[] names L2 block %d for %s, which has no system transaction with its source hash", number, what)
	}
	a, err := b.anchorOf(what, number)
	if err != nil {
		return nil, err
	}
	mint, err := b.txProof(loc.System.Hash(), loc, a)
	if err != nil {
		return nil, err
	}
	kst, err := c.StateAt(a.header.Root)
	if err != nil {
		return nil, fmt.Errorf("provenance: state of keystone block %d: %w", a.keystone.Number, err)
	}
	acc, sto, err := storageProofs(kst, a.header.Root, b.cfg.TunnelAddress, []common.Hash{s0, s1})
	if err != nil {
		return nil, err
	}
	dep, err := b.txInBlock(info.BlockHash, info.Height, info.Index)
	if err != nil {
		return nil, err
	}
	out := &verify.Bundle{Version: verify.Version, Kind: verify.KindDeposit, ChainID: b.cfg.ChainID, BitcoinNetwork: b.cfg.BitcoinNetwork,
		Deposit: &verify.DepositProof{Bitcoin: *dep, Vout: vout, Mint: *mint, AccountProof: acc, StorageProofs: sto}}
	if err := b.bitcoinPart(out, a, dep); err != nil {
		return nil, err
	}
	return out, nil
}

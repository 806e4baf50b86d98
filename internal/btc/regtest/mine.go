package regtest

import (
	"fmt"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/mining"
	"github.com/btcsuite/btcd/txscript/v2"

	"github.com/hemi-go/hemi/internal/btc/peerserve"
)

// MaxMinePerCall bounds Mine's n.
const MaxMinePerCall = 10_000

// Mine mines count blocks on the current tip, each paying its coinbase to
// addr and including what the mempool offers, and returns their hashes in
// order.
func (n *Node) Mine(count int, addr address.Address) ([]chainhash.Hash, error) {
	if addr == nil || !addr.IsForNet(n.params) {
		return nil, fmt.Errorf("%w: mining address is not a regtest address", ErrConfig)
	}
	return n.mine(count, addr, nil, n.gen)
}

// MineToScript is Mine paying each coinbase to an arbitrary output script.
func (n *Node) MineToScript(count int, script []byte) ([]chainhash.Hash, error) {
	if len(script) == 0 || len(script) > txscript.MaxScriptSize {
		return nil, fmt.Errorf("%w: coinbase script of %d bytes", ErrConfig, len(script))
	}
	return n.mine(count, placeholderAddr, script, n.gen)
}

// placeholderAddr builds templates whose payout MineToScript replaces.
var placeholderAddr = func() address.Address {
	a, err := address.NewAddressWitnessPubKeyHash(make([]byte, 20), params())
	if err != nil {
		panic(fmt.Sprintf("regtest: placeholder address: %v", err)) // a 20-byte program is always valid
	}
	return a
}()

func (n *Node) mine(count int, addr address.Address, script []byte, gen *mining.BlkTmplGenerator) ([]chainhash.Hash, error) {
	if count < 1 || count > MaxMinePerCall {
		return nil, fmt.Errorf("%w: mine %d blocks: want 1..%d", ErrConfig, count, MaxMinePerCall)
	}
	if err := n.acquire(); err != nil {
		return nil, err
	}
	defer n.closeMu.RUnlock()
	n.mineMu.Lock()
	defer n.mineMu.Unlock()
	out := make([]chainhash.Hash, 0, count)
	for range count {
		h, err := n.mineOne(gen, addr, script)
		if err != nil {
			return out, err
		}
		out = append(out, h)
		n.mined.Inc()
	}
	best := n.chain.BestSnapshot()
	n.log.Debug("regtest mined blocks", "count", count, "height", best.Height, "tip", best.Hash.String())
	return out, nil
}

// mineOne builds, solves and processes one block; the caller holds mineMu.
func (n *Node) mineOne(gen *mining.BlkTmplGenerator, addr address.Address, script []byte) (chainhash.Hash, error) {
	tmpl, err := gen.NewBlockTemplate(addr)
	if err != nil {
		return chainhash.Hash{}, fmt.Errorf("regtest: block template: %w", err)
	}
	msg := tmpl.Block
	if script != nil {
		// Output 0 is the payout; the merkle root is recomputed below.
		msg.Transactions[0].TxOut[0].PkScript = script
	}
	target := blockchain.CompactToBig(msg.Header.Bits)
	for {
		n.extraNonce++
		if err := gen.UpdateExtraNonce(msg, tmpl.Height, n.extraNonce); err != nil {
			return chainhash.Hash{}, fmt.Errorf("regtest: extra nonce: %w", err)
		}
		solved := false
		for nonce := uint32(0); nonce < 1<<20; nonce++ {
			msg.Header.Nonce = nonce
			h := msg.Header.BlockHash()
			if blockchain.HashToBig(&h).Cmp(target) <= 0 {
				solved = true
				break
			}
		}
		if solved {
			break
		}
	}
	block := btcutil.NewBlock(msg)
	isOrphan, err := n.processBlock(block)
	if err != nil {
		return chainhash.Hash{}, err
	}
	if isOrphan {
		// The template was built on the tip under mineMu; an orphan means
		// the chain moved underneath, which mineMu rules out.
		return chainhash.Hash{}, fmt.Errorf("regtest: mined block %s is an orphan", block.Hash())
	}
	return *block.Hash(), nil
}

// InvalidateBlock marks the block and its descendants invalid, so the best
// chain falls back to its parent (or another valid fork) and mining
// continues from there: mine more blocks than were invalidated to make a
// reorg peers follow. Transactions of disconnected blocks return to the
// mempool.
func (n *Node) InvalidateBlock(hash chainhash.Hash) error {
	return n.setValidity("invalidate", hash, n.chain.InvalidateBlock)
}

// ReconsiderBlock undoes InvalidateBlock: given the hash that was
// invalidated, that block and its descendants become valid again and the
// chain switches back to their branch if it has the most work.
func (n *Node) ReconsiderBlock(hash chainhash.Hash) error {
	return n.setValidity("reconsider", hash, n.chain.ReconsiderBlock)
}

// setValidity runs change (btcd's InvalidateBlock or ReconsiderBlock) on a
// known block, serialized with mining, and announces the resulting tip.
func (n *Node) setValidity(what string, hash chainhash.Hash, change func(*chainhash.Hash) error) error {
	if err := n.acquire(); err != nil {
		return err
	}
	defer n.closeMu.RUnlock()
	n.mineMu.Lock()
	defer n.mineMu.Unlock()
	if ok, err := n.chain.HaveBlock(&hash); err != nil || !ok {
		return fmt.Errorf("regtest: %s %s: %w", what, hash, ErrNotFound)
	}
	if err := change(&hash); err != nil {
		return fmt.Errorf("regtest: %s %s: %w", what, hash, err)
	}
	tip := n.chain.BestSnapshot().Hash
	n.announce(peerserve.Announcement{Block: &tip})
	return nil
}

// DropMempool forgets every mempool transaction and returns how many were in the mempool: what a restart does to a
// node that keeps no mempool across restarts (btcd), or an eviction to
// one that does. After a reorg returned a transaction to the mempool,
// dropping it leaves a node that has the transaction neither in a block
// nor in its mempool, so only its sender re-broadcasting brings it back
// (the tunnel's payout reorg test).
func (n *Node) DropMempool() (int, error) {
	if err := n.acquire(); err != nil {
		return 0, err
	}
	defer n.closeMu.RUnlock()
	n.mineMu.Lock()
	defer n.mineMu.Unlock()
	descs := n.pool.TxDescs()
	for _, d := range descs {
		// Descendants go with their parent; removing one twice is a no-op.
		n.pool.RemoveTransaction(d.Tx, true)
	}
	return len(descs), nil
}

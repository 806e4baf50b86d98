package provenance

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/pop"
	"github.com/hemi-go/hemi/verify"
)

// Errors of the builder; callers test them with errors.Is.
var (
	// ErrNotFound: the transaction or deposit is not on the canonical
	// chain (or the Bitcoin block it needs is not stored).
	ErrNotFound = errors.New("provenance: not found")
	// ErrNotYet: the transaction's effective keystone publication does
	// not exist yet; the message says when to ask again.
	ErrNotYet = errors.New("provenance: not anchored yet")
	// ErrNoCheckpoint: no pinned Bitcoin checkpoint lies below the
	// blocks the bundle needs on this node's chain.
	ErrNoCheckpoint = errors.New("provenance: no checkpoint")
)

// DefaultHeaderLinkMax is the largest distance (in L2 blocks) from a
// transaction's block to the keystone block that the builder links with
// L2 headers; farther blocks are linked by an EIP-2935 proof, which stays
// a few kilobytes however far (up to 8,191 blocks) while headers grow by
// about 600 bytes each.
const DefaultHeaderLinkMax = 8

// historyWindow is EIP-2935's window (go-ethereum params.HistoryServeWindow).
const historyWindow = 8191

// Config configures a Builder. It is not changed after New.
type Config struct {
	Chain    Chain
	Finality Finality
	Bitcoin  Bitcoin
	// ChainID and BitcoinNetwork (a verify.Networks name) are written
	// into bundles as the network they claim.
	ChainID        uint64
	BitcoinNetwork string
	// Checkpoints are the Bitcoin checkpoints a bundle may start from;
	// nil uses verify.Checkpoints[BitcoinNetwork], the verifier's pins.
	Checkpoints []verify.Checkpoint
	// TunnelAddress is the tunnel predeploy holding minted[] (deposit
	// bundles); zero: deposits are refused.
	TunnelAddress common.Address
	// HeaderLinkMax: DefaultHeaderLinkMax when 0.
	HeaderLinkMax uint64
}

// Builder builds provenance bundles from a node's chain, finality
// service and Bitcoin index.
type Builder struct {
	cfg Config
}

// New checks cfg and returns a Builder.
func New(cfg Config) (*Builder, error) {
	if cfg.Chain == nil || cfg.Finality == nil || cfg.Bitcoin == nil {
		return nil, errors.New("provenance: Config needs Chain, Finality and Bitcoin")
	}
	if cfg.Checkpoints == nil {
		cfg.Checkpoints = verify.Checkpoints[cfg.BitcoinNetwork]
	}
	if cfg.HeaderLinkMax == 0 {
		cfg.HeaderLinkMax = DefaultHeaderLinkMax
	}
	return &Builder{cfg: cfg}, nil
}

// anchor is the keystone publication a bundle uses.
type anchor struct {
	pub      pop.Publication
	keystone *pop.L2Keystone // the keystone actually published
	header   *types.Header   // its block
}

// anchorOf finds the effective publication of the keystone covering L2
// block number (DESIGN 4), or says when to ask again.
func (b *Builder) anchorOf(what string, number uint64) (*anchor, error) {
	c := b.cfg.Chain
	kn := c.CoveringKeystone(number)
	if kn == 0 {
		return nil, fmt.Errorf("%w: this chain has no keystones (keystone interval 0), so %s is never anchored in Bitcoin", ErrNotYet, what)
	}
	k, err := c.KeystoneAt(kn)
	if errors.Is(err, chain.ErrNotFound) {
		head := c.Head().Number.Uint64()
		return nil, fmt.Errorf("%w: %s is in L2 block %d, whose keystone is block %d; the head is %d: ask again after block %d is sealed and a PoP miner has published it in a Bitcoin block (`hemi finality %d` shows when)",
			ErrNotYet, what, number, kn, head, kn, number)
	}
	if err != nil {
		return nil, err
	}
	st := b.cfg.Finality.KeystoneStatus(k)
	if !st.Published {
		return nil, fmt.Errorf("%w: %s is in L2 block %d, covered by keystone %d (%x), which no canonical Bitcoin block publishes yet: ask again after a PoP miner's publication of it (or a later keystone) is mined (`hemi finality %d` shows when)",
			ErrNotYet, what, number, kn, k.ID, number)
	}
	pk, err := c.KeystoneByID(st.Publication.Keystone)
	if err != nil {
		return nil, fmt.Errorf("provenance: the published keystone %x: %w", st.Publication.Keystone, err)
	}
	h, err := c.HeaderByHash(pk.Hash)
	if err != nil {
		return nil, fmt.Errorf("provenance: keystone block %d: %w", pk.Number, err)
	}
	return &anchor{pub: st.Publication, keystone: pk, header: h}, nil
}

// Tx builds the bundle of L2 transaction hash.
func (b *Builder) Tx(hash common.Hash) (*verify.Bundle, error) {
	loc, err := b.cfg.Chain.TxLookup(hash)
	if errors.Is(err, chain.ErrNotFound) {
		return nil, fmt.Errorf("%w: transaction %v is not on the canonical chain", ErrNotFound, hash)
	}
	if err != nil {
		return nil, err
	}
	a, err := b.anchorOf("transaction "+hash.Hex(), loc.BlockNumber)
	if err != nil {
		return nil, err
	}
	tp, err := b.txProof(hash, loc, a)
	if err != nil {
		return nil, err
	}
	out := &verify.Bundle{Version: verify.Version, Kind: verify.KindTx, ChainID: b.cfg.ChainID, BitcoinNetwork: b.cfg.BitcoinNetwork, Tx: tp}
	if err := b.bitcoinPart(out, a, nil); err != nil {
		return nil, err
	}
	return out, nil
}

// bitcoinPart fills the header run, the PoP transaction and the keystone
// header; dep, if set, is the deposit transaction to place too.
func (b *Builder) bitcoinPart(out *verify.Bundle, a *anchor, dep *verify.TxInBlock) error {
	bc := b.cfg.Bitcoin
	tipHash, tip := bc.BlockTip()
	lowest := a.pub.Height
	if dep != nil && dep.Height < lowest {
		lowest = dep.Height
	}
	cp, err := b.checkpointBelow(lowest, tipHash)
	if err != nil {
		return err
	}
	out.Bitcoin.Checkpoint = verify.BlockRef{Height: cp.Height, Hash: cp.Hash.String()}
	out.Bitcoin.Anchor = make([]hexutil.Bytes, 0, 12)
	for h := max(cp.Height-11, 0); h <= cp.Height; h++ {
		hi, err := bc.HeaderByHeight(h, tipHash)
		if err != nil {
			return fmt.Errorf("provenance: Bitcoin header %d: %w", h, err)
		}
		var buf bytes.Buffer
		if err := hi.Header.Serialize(&buf); err != nil {
			return err
		}
		out.Bitcoin.Anchor = append(out.Bitcoin.Anchor, buf.Bytes())
	}
	out.Bitcoin.Headers = make([]hexutil.Bytes, 0, tip-cp.Height)
	for h := cp.Height + 1; h <= tip; h++ {
		hi, err := bc.HeaderByHeight(h, tipHash)
		if err != nil {
			return fmt.Errorf("provenance: Bitcoin header %d: %w", h, err)
		}
		var buf bytes.Buffer
		if err := hi.Header.Serialize(&buf); err != nil {
			return err
		}
		out.Bitcoin.Headers = append(out.Bitcoin.Headers, buf.Bytes())
	}
	// The publication must be on the chain the run shows.
	if hi, err := bc.HeaderByHeight(a.pub.Height, tipHash); err != nil || hi.Hash != a.pub.BlockHash {
		return fmt.Errorf("%w: the keystone's publication block %v left the Bitcoin main chain meanwhile: ask again", ErrNotYet, a.pub.BlockHash)
	}
	pt, err := b.txInBlock(a.pub.BlockHash, a.pub.Height, a.pub.TxIndex)
	if err != nil {
		return err
	}
	out.PoP = verify.PoPProof{TxInBlock: *pt, Vout: a.pub.Vout}
	kh, err := encodeHeader(a.header)
	if err != nil {
		return err
	}
	out.Keystone.Header = kh
	return nil
}

// checkpointBelow is the newest checkpoint below height that is on this
// node's main chain as of tip.
func (b *Builder) checkpointBelow(height int32, tip chainhash.Hash) (*verify.Checkpoint, error) {
	var best *verify.Checkpoint
	for i := range b.cfg.Checkpoints {
		cp := &b.cfg.Checkpoints[i]
		if cp.Height >= height || (best != nil && cp.Height <= best.Height) {
			continue
		}
		hi, err := b.cfg.Bitcoin.HeaderByHeight(cp.Height, tip)
		if err != nil || hi.Hash != cp.Hash {
			continue
		}
		best = cp
	}
	if _, ok := verify.Networks[b.cfg.BitcoinNetwork]; !ok {
		return nil, fmt.Errorf("%w: the verifier knows no Bitcoin network %q (it knows mainnet, testnet4, signet and regtest)", ErrNoCheckpoint, b.cfg.BitcoinNetwork)
	}
	if best == nil {
		return nil, fmt.Errorf("%w: no pinned %s checkpoint below Bitcoin height %d is on this node's chain", ErrNoCheckpoint, b.cfg.BitcoinNetwork, height)
	}
	return best, nil
}

// txInBlock is transaction index of Bitcoin block hash with its merkle
// branch and the coinbase's.
func (b *Builder) txInBlock(hash chainhash.Hash, height int32, index uint32) (*verify.TxInBlock, error) {
	blk, err := b.cfg.Bitcoin.Block(hash)
	if err != nil {
		return nil, fmt.Errorf("%w: Bitcoin block %v: %w", ErrNotFound, hash, err)
	}
	if int(index) >= len(blk.Transactions) {
		return nil, fmt.Errorf("%w: Bitcoin block %v has no transaction %d", ErrNotFound, hash, index)
	}
	ids := make([]chainhash.Hash, len(blk.Transactions))
	for i, tx := range blk.Transactions {
		ids[i] = tx.TxHash()
	}
	tx, err := noWitness(blk.Transactions[index])
	if err != nil {
		return nil, err
	}
	cb, err := noWitness(blk.Transactions[0])
	if err != nil {
		return nil, err
	}
	return &verify.TxInBlock{Tx: tx, Height: height, Index: index, Branch: MerkleBranch(ids, int(index)),
		Coinbase: cb, CoinbaseBranch: MerkleBranch(ids, 0)}, nil
}

func noWitness(tx *wire.MsgTx) ([]byte, error) {
	var buf bytes.Buffer
	if err := tx.SerializeNoWitness(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// MerkleBranch is the Bitcoin merkle branch of leaf index among ids:
// the sibling at each level from the leaf up (a level of odd length
// pairs its last node with itself).
func MerkleBranch(ids []chainhash.Hash, index int) []hexutil.Bytes {
	level := append([]chainhash.Hash(nil), ids...)
	var out []hexutil.Bytes
	for len(level) > 1 {
		if len(level)%2 == 1 {
			level = append(level, level[len(level)-1])
		}
		sib := index ^ 1
		out = append(out, append([]byte(nil), level[sib][:]...))
		next := make([]chainhash.Hash, len(level)/2)
		var buf [64]byte
		for i := range next {
			copy(buf[:32], level[2*i][:])
			copy(buf[32:], level[2*i+1][:])
			next[i] = chainhash.DoubleHashH(buf[:])
		}
		level, index = next, index/2
	}
	if out == nil {
		out = []hexutil.Bytes{}
	}
	return out
}

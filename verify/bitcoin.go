package verify

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// hnode is one header of the checked run as btcd's contextual header
// rules see it (blockchain.HeaderCtx): the checkpoint and its pinned
// ancestors' timestamps at the bottom, then every header of the run.
type hnode struct {
	height int32
	bits   uint32
	time   int64
	hash   chainhash.Hash
	parent *hnode
	work   *big.Int // cumulative work above the checkpoint
	// hdr is the header itself (zero for the checkpoint and the anchor
	// below it), held here rather than in a second map and allocation.
	hdr wire.BlockHeader
}

func (n *hnode) Height() int32    { return n.height }
func (n *hnode) Bits() uint32     { return n.bits }
func (n *hnode) Timestamp() int64 { return n.time }
func (n *hnode) Parent() blockchain.HeaderCtx {
	if n.parent == nil {
		return nil // an interface holding a nil *hnode would not be nil
	}
	return n.parent
}

func (n *hnode) RelativeAncestorCtx(distance int32) blockchain.HeaderCtx {
	a := n
	for ; a != nil && distance > 0; distance-- {
		a = a.parent
	}
	if a == nil {
		return nil
	}
	return a
}

// chainCtx is btcd's blockchain.ChainCtx for a network's parameters,
// with no checkpoints of btcd's own (the verifier's pins replace them).
type chainCtx struct{ p *chaincfg.Params }

func (c chainCtx) ChainParams() *chaincfg.Params { return c.p }
func (c chainCtx) BlocksPerRetarget() int32 {
	return int32(c.p.TargetTimespan / c.p.TargetTimePerBlock)
}
func (c chainCtx) MinRetargetTimespan() int64 {
	return int64(c.p.TargetTimespan/time.Second) / c.p.RetargetAdjustmentFactor
}
func (c chainCtx) MaxRetargetTimespan() int64 {
	return int64(c.p.TargetTimespan/time.Second) * c.p.RetargetAdjustmentFactor
}
func (c chainCtx) VerifyCheckpoint(int32, *chainhash.Hash) bool { return true }
func (c chainCtx) FindPreviousCheckpoint() (blockchain.HeaderCtx, error) {
	return nil, nil
}

// chain is a checked run of Bitcoin headers above a checkpoint.
type chain struct {
	checkpoint *hnode
	byHeight   map[int32]*hnode
	tip        *hnode
}

// at returns the header at height, if the run holds it.
func (c *chain) at(height int32) (*hnode, *wire.BlockHeader, bool) {
	n, ok := c.byHeight[height]
	if !ok || n == c.checkpoint {
		return nil, nil, false
	}
	return n, &n.hdr, true
}

// confirmations of the block at height: tip height - height + 1.
func (c *chain) confirmations(height int32) uint32 {
	return uint32(c.tip.height - height + 1)
}

// workAbove is the work of the headers above height up to the tip,
// including the block at height itself.
func (c *chain) workFrom(height int32) *big.Int {
	base := new(big.Int)
	if p, ok := c.byHeight[height-1]; ok {
		base = p.work
	}
	return new(big.Int).Sub(c.tip.work, base)
}

// checkHeaders checks a run of serialized headers from the checkpoint:
// each links to the previous by hash, has valid proof of work for its
// bits, the bits the retarget rules require (testnet4's BIP-94 included,
// via btcd's rules over params), a timestamp above the median of the 11
// before it and, for BIP-94, no time warp at a retarget. now bounds
// timestamps in the future (two hours, as Bitcoin nodes do); a zero now
// skips that check.
func checkHeaders(cp *Checkpoint, anchor []hexBytes, params *chaincfg.Params, raw [][]byte, now time.Time) (*chain, error) {
	base, err := cp.anchorNode(anchor)
	if err != nil {
		return nil, err
	}
	c := &chain{checkpoint: base, byHeight: map[int32]*hnode{base.height: base}, tip: base}
	return c.extend(base, raw, params, now)
}

// extend checks raw as headers on top of from (a header of c) and returns
// the chain they form: c's headers up to from, then raw.
func (c *chain) extend(from *hnode, raw [][]byte, params *chaincfg.Params, now time.Time) (*chain, error) {
	out := &chain{checkpoint: c.checkpoint, byHeight: make(map[int32]*hnode, len(c.byHeight)+len(raw)), tip: from}
	for h, n := range c.byHeight {
		if h <= from.height {
			out.byHeight[h] = n
		}
	}
	ctx := chainCtx{params}
	// A run's headers share a few bits values (one per retarget period):
	// their target and work are computed once per value, not per header
	// (a 256-bit division each, which in WebAssembly has no assembly).
	byBits := map[uint32]*bitsWork{}
	prev := from
	for i, b := range raw {
		height := from.height + 1 + int32(i)
		if len(b) != wire.MaxBlockHeaderPayload {
			return nil, fmt.Errorf("%w: header at height %d is %d bytes, want 80", ErrHeaders, height, len(b))
		}
		n := &hnode{height: height, parent: prev}
		h := &n.hdr
		if err := h.Deserialize(bytes.NewReader(b)); err != nil {
			return nil, fmt.Errorf("%w: header at height %d: %v", ErrHeaders, height, err)
		}
		if h.PrevBlock != prev.hash {
			return nil, fmt.Errorf("%w: header at height %d does not link to the block below it (prev %v, want %v)", ErrHeaders, height, h.PrevBlock, prev.hash)
		}
		hash := chainhash.DoubleHashH(b) // b is the 80 bytes h was read from: no re-serialization
		bw := byBits[h.Bits]
		if bw == nil {
			bw = &bitsWork{target: blockchain.CompactToBig(h.Bits), work: blockchain.CalcWork(h.Bits)}
			byBits[h.Bits] = bw
		}
		if err := checkPoW(bw.target, hash, params.PowLimit); err != nil {
			return nil, fmt.Errorf("%w: header at height %d: %v", ErrHeaders, height, err)
		}
		if !now.IsZero() && h.Timestamp.After(now.Add(2*time.Hour)) {
			return nil, fmt.Errorf("%w: header at height %d is dated %v, more than two hours ahead of now", ErrHeaders, height, h.Timestamp.UTC())
		}
		if err := blockchain.CheckBlockHeaderContext(h, prev, blockchain.BFNone, ctx, true); err != nil {
			return nil, fmt.Errorf("%w: header at height %d: %v", ErrHeaders, height, err)
		}
		n.bits, n.time, n.hash = h.Bits, h.Timestamp.Unix(), hash
		n.work = new(big.Int).Add(prev.work, bw.work)
		out.byHeight[height] = n
		prev = n
	}
	out.tip = prev
	return out, nil
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

// bitsWork is what a header's bits state: its target and its work.
type bitsWork struct{ target, work *big.Int }

// checkPoW checks that the header's hash is at or below the target its
// bits state, and that the target is positive and within the network's
// limit (btcd's checkProofOfWork, for a header).
func checkPoW(target *big.Int, hash chainhash.Hash, powLimit *big.Int) error {
	if target.Sign() <= 0 {
		return fmt.Errorf("target %064x is not positive", target)
	}
	if target.Cmp(powLimit) > 0 {
		return fmt.Errorf("target %064x is above the network's limit %064x", target, powLimit)
	}
	// The hash as a big-endian number against the target's 32 bytes
	// (it is at most powLimit, so it fits): blockchain.HashToBig would
	// allocate a big.Int for every header.
	var hv, tv [chainhash.HashSize]byte
	for i, b := range hash {
		hv[chainhash.HashSize-1-i] = b
	}
	target.FillBytes(tv[:])
	if bytes.Compare(hv[:], tv[:]) > 0 {
		return fmt.Errorf("hash %v is above its target %064x (not enough proof of work)", hash, target)
	}
	return nil
}

// ErrMerkle: a merkle branch does not lead to the block's merkle root, or
// the transaction is not what the branch claims.
var ErrMerkle = errors.New("verify: merkle proof")

// txInBlock checks t against the run: the block is in it, the transaction
// parses (non-witness), is not 64 bytes, and its branch and the coinbase's
// branch of the same length both lead to the block's merkle root. It
// returns the parsed transaction and its txid.
func (c *chain) txInBlock(what string, t *TxInBlock) (*wire.MsgTx, chainhash.Hash, error) {
	_, hdr, ok := c.at(t.Height)
	if !ok {
		return nil, chainhash.Hash{}, fmt.Errorf("%w: %s block height %d is not in the header run (%d to %d)", ErrMerkle, what, t.Height, c.checkpoint.height+1, c.tip.height)
	}
	tx, txid, err := parseTx(t.Tx)
	if err != nil {
		return nil, chainhash.Hash{}, fmt.Errorf("%w: %s transaction: %v", ErrMerkle, what, err)
	}
	cb, cbid, err := parseTx(t.Coinbase)
	if err != nil {
		return nil, chainhash.Hash{}, fmt.Errorf("%w: %s block's coinbase: %v", ErrMerkle, what, err)
	}
	if !blockchain.IsCoinBaseTx(cb) {
		return nil, chainhash.Hash{}, fmt.Errorf("%w: %s block's coinbase is not a coinbase transaction", ErrMerkle, what)
	}
	if len(t.Branch) != len(t.CoinbaseBranch) {
		return nil, chainhash.Hash{}, fmt.Errorf("%w: %s branch has %d levels but the coinbase's has %d: the tree depth is not proved (64-byte transaction forgery?)", ErrMerkle, what, len(t.Branch), len(t.CoinbaseBranch))
	}
	if len(t.Branch) < 32 && uint64(t.Index) >= 1<<len(t.Branch) {
		return nil, chainhash.Hash{}, fmt.Errorf("%w: %s index %d does not fit a tree of depth %d", ErrMerkle, what, t.Index, len(t.Branch))
	}
	if t.Index == 0 && tx.TxHash() != cbid {
		return nil, chainhash.Hash{}, fmt.Errorf("%w: %s at index 0 is not the block's coinbase", ErrMerkle, what)
	}
	if err := checkBranch(cbid, 0, t.CoinbaseBranch, hdr.MerkleRoot); err != nil {
		return nil, chainhash.Hash{}, fmt.Errorf("%w: %s block's coinbase branch: %v", ErrMerkle, what, err)
	}
	if err := checkBranch(txid, t.Index, t.Branch, hdr.MerkleRoot); err != nil {
		return nil, chainhash.Hash{}, fmt.Errorf("%w: %s branch: %v", ErrMerkle, what, err)
	}
	return tx, txid, nil
}

// parseTx decodes a non-witness serialization exactly (no trailing
// bytes) and refuses 64-byte transactions, whose bytes could be an inner
// node of a merkle tree (CVE-2017-12842).
func parseTx(b []byte) (*wire.MsgTx, chainhash.Hash, error) {
	if len(b) == 64 {
		return nil, chainhash.Hash{}, errors.New("a 64-byte transaction is refused (it could be two merkle hashes)")
	}
	var tx wire.MsgTx
	r := bytes.NewReader(b)
	if err := tx.DeserializeNoWitness(r); err != nil {
		return nil, chainhash.Hash{}, err
	}
	if r.Len() != 0 {
		return nil, chainhash.Hash{}, fmt.Errorf("%d bytes after the transaction", r.Len())
	}
	var buf bytes.Buffer
	if err := tx.SerializeNoWitness(&buf); err != nil || !bytes.Equal(buf.Bytes(), b) {
		return nil, chainhash.Hash{}, errors.New("not a canonical non-witness serialization")
	}
	return &tx, chainhash.DoubleHashH(b), nil
}

// checkBranch hashes leaf up the branch by the bits of index (0: the
// node is on the left) and compares with root.
func checkBranch(leaf chainhash.Hash, index uint32, branch []hexBytes, root chainhash.Hash) error {
	cur := leaf
	var buf [64]byte
	for i, s := range branch {
		if len(s) != chainhash.HashSize {
			return fmt.Errorf("level %d is %d bytes, want 32", i, len(s))
		}
		if index>>uint(min(i, 31))&1 == 0 || i >= 32 {
			copy(buf[:32], cur[:])
			copy(buf[32:], s)
		} else {
			copy(buf[:32], s)
			copy(buf[32:], cur[:])
		}
		cur = chainhash.DoubleHashH(buf[:])
	}
	if cur != root {
		return fmt.Errorf("computed root %v, the header has %v", cur, root)
	}
	return nil
}

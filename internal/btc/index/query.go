package index

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/big"
	"slices"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/cockroachdb/pebble/v2"

	"github.com/hemi-go/hemi/internal/pop"
)

// HeaderInfo is a header with its place in the tree.
type HeaderInfo struct {
	Hash      chainhash.Hash
	Height    int32
	Header    wire.BlockHeader
	Work      *big.Int // cumulative chain work up to this header
	MainChain bool     // on the connected chain
	HaveData  bool     // the block itself is stored
}

// TxInfo locates a confirmed transaction as of a block.
type TxInfo struct {
	Txid          chainhash.Hash
	BlockHash     chainhash.Hash
	Height        int32
	Index         uint32 // position in the block
	Confirmations int32  // as-of height - Height + 1
	Tx            *wire.MsgTx
}

// UTXO is an unspent output as of a block.
type UTXO struct {
	Outpoint  wire.OutPoint
	Value     int64
	Height    int32
	BlockHash chainhash.Hash
	Index     uint32 // position of the creating tx in its block
}

// Spend is the input that spends an outpoint.
type Spend struct {
	Outpoint      wire.OutPoint
	Txid          chainhash.Hash // spending transaction
	Input         uint32         // input index in the spending transaction
	BlockHash     chainhash.Hash
	Height        int32
	Index         uint32 // position of the spending tx in its block
	Confirmations int32
}

// Publication is one Bitcoin output carrying a keystone (pop.Publication,
// Publisher not looked up) with its confirmations as of the query's view.
type Publication struct {
	pop.Publication
	Confirmations int32
}

// view is the chain as of one block: its main-chain part up to fork and
// the side-fork nodes above fork (empty when tip is on the main chain).
type view struct {
	tip  *node
	fork *node
	side []*node // side[i] is at height fork.height+1+i
}

// viewOf resolves asOf (zero: the block tip). ix.mu must be held.
func (ix *Index) viewOf(asOf chainhash.Hash) (*view, error) {
	if asOf == (chainhash.Hash{}) {
		t := ix.main[len(ix.main)-1]
		return &view{tip: t, fork: t}, nil
	}
	n := ix.byHash[asOf]
	if n == nil {
		return nil, fmt.Errorf("as of %s: %w", asOf, ErrUnknownBlock)
	}
	if !n.has(statusIndexed) {
		return nil, fmt.Errorf("as of %s (height %d): %w", asOf, n.height, ErrNotIndexed)
	}
	v := &view{tip: n}
	f := n
	for !ix.onMain(f) {
		f = f.parent
	}
	v.fork = f
	if f != n {
		v.side = make([]*node, n.height-f.height)
		for s := n; s != f; s = s.parent {
			v.side[s.height-f.height-1] = s
		}
	}
	return v, nil
}

// at returns the view's block at height h, or nil. ix.mu must be held.
func (ix *Index) at(v *view, h int32) *node {
	switch {
	case h < 0 || h > v.tip.height:
		return nil
	case h <= v.fork.height:
		return ix.main[h]
	default:
		return v.side[h-v.fork.height-1]
	}
}

// contains returns the node of block id when it is in the view. ix.mu held.
func (ix *Index) contains(v *view, id uint32) (*node, bool) {
	if int(id) >= len(ix.nodes) {
		return nil, false
	}
	n := ix.nodes[id]
	return n, ix.at(v, n.height) == n
}

func (v *view) confirmations(h int32) int32 { return v.tip.height - h + 1 }

// prefixEnd returns the smallest key greater than every key with prefix p.
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] != 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// query runs fn with the tree read-locked and the view of asOf resolved.
func (ix *Index) query(asOf chainhash.Hash, fn func(v *view) error) error {
	if err := ix.enter(); err != nil {
		return err
	}
	defer ix.leave()
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	v, err := ix.viewOf(asOf)
	if err != nil {
		return err
	}
	return fn(v)
}

// TxByID finds a transaction confirmed in the chain as of asOf (zero: the
// block tip).
func (ix *Index) TxByID(txid, asOf chainhash.Hash) (TxInfo, error) {
	var out TxInfo
	err := ix.query(asOf, func(v *view) error {
		prefix := make([]byte, 1+32)
		prefix[0] = pfxTx
		copy(prefix[1:], txid[:])
		it, err := ix.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
		if err != nil {
			return fmt.Errorf("index: tx %s: %w", txid, err)
		}
		defer it.Close()
		var (
			best *node
			loc  txLoc
		)
		for ok := it.SeekPrefixGE(prefix); ok; ok = it.Next() {
			_, id, err := decodeTxKey(it.Key())
			if err != nil {
				return err
			}
			n, in := ix.contains(v, id)
			if !in || (best != nil && n.height <= best.height) {
				continue
			}
			val, err := it.ValueAndErr()
			if err != nil {
				return fmt.Errorf("index: tx %s: %w", txid, err)
			}
			if loc, err = decodeTxVal(val); err != nil {
				return err
			}
			best = n
		}
		if err := it.Error(); err != nil {
			return fmt.Errorf("index: tx %s: %w", txid, err)
		}
		if best == nil {
			return fmt.Errorf("tx %s: %w", txid, ErrNotFound)
		}
		tx, err := ix.readTx(best, loc)
		if err != nil {
			return err
		}
		out = TxInfo{Txid: txid, BlockHash: best.hash, Height: best.height, Index: loc.Pos,
			Confirmations: v.confirmations(best.height), Tx: tx}
		return nil
	})
	return out, err
}

// readTx decodes the transaction at loc in n's stored block.
func (ix *Index) readTx(n *node, loc txLoc) (*wire.MsgTx, error) {
	raw, closer, err := ix.db.Get(idKey(pfxBlock, n.id))
	if err != nil {
		return nil, fmt.Errorf("index: read block %s: %w", n.hash, err)
	}
	defer closer.Close()
	end := uint64(loc.Offset) + uint64(loc.Size)
	if end > uint64(len(raw)) {
		return nil, fmt.Errorf("%w: tx location %d+%d beyond block %s", ErrCorrupt, loc.Offset, loc.Size, n.hash)
	}
	tx := new(wire.MsgTx)
	if err := tx.Deserialize(bytes.NewReader(raw[loc.Offset:end])); err != nil {
		return nil, fmt.Errorf("%w: tx in block %s: %w", ErrCorrupt, n.hash, err)
	}
	return tx, nil
}

// Output is an output paying a script, spent or not, as of a block.
type Output struct {
	UTXO
	Spent bool
	Spend Spend // valid when Spent
}

// Outputs returns up to max outputs (max <= 0: 1000) paying script that
// were created at or above fromHeight in the chain as of asOf, spent or
// not, in the order of UTXOs. The tunnel uses it to see deposits to the
// vault and the vault's spends.
func (ix *Index) Outputs(script []byte, fromHeight int32, max int, asOf chainhash.Hash) ([]Output, error) {
	if max <= 0 {
		max = 1000
	}
	var out []Output
	err := ix.query(asOf, func(v *view) error {
		return ix.scanOutputs(v, script, fromHeight, true, func(o *Output) bool {
			out = append(out, *o)
			return len(out) < max
		})
	})
	return out, err
}

// scanOutputs calls fn, in key order, with each output paying script at or
// above fromHeight that is in the view; spent ones too when withSpent.
func (ix *Index) scanOutputs(v *view, script []byte, fromHeight int32, withSpent bool, fn func(*Output) bool) error {
	prefix := changePrefix(script)
	lower := be.AppendUint32(bytes.Clone(prefix), uint32(max(fromHeight, 0)))
	return ix.scanOutputsRange(v, prefix, lower, v.tip.height, withSpent, fn)
}

// changePrefix is the prefix of script's change records.
func changePrefix(script []byte) []byte {
	sh := sha256.Sum256(script)
	prefix := make([]byte, 1+32)
	prefix[0] = pfxChange
	copy(prefix[1:], sh[:])
	return prefix
}

// scanOutputsRange is scanOutputs from the change key lower (of prefix)
// up to the records at toHeight.
func (ix *Index) scanOutputsRange(v *view, prefix, lower []byte, toHeight int32, withSpent bool, fn func(*Output) bool) error {
	// Entries above the view's height cannot be in it.
	upper := be.AppendUint32(bytes.Clone(prefix), uint32(min(toHeight, v.tip.height))+1)
	it, err := ix.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return fmt.Errorf("index: outputs: %w", err)
	}
	defer it.Close()
	spends, err := ix.db.NewIter(&pebble.IterOptions{LowerBound: []byte{pfxSpend}, UpperBound: []byte{pfxSpend + 1}})
	if err != nil {
		return fmt.Errorf("index: spends: %w", err)
	}
	defer spends.Close()

	var (
		o     Output
		reads uint64
	)
	defer func() { ix.reads.Add(reads) }()
	// The script's change records of kind create are its outputs, in
	// the order of the key: height, block, position, output index.
	for ok := it.SeekPrefixGE(lower); ok; ok = it.Next() {
		reads++
		k, err := decodeChangeKey(it.Key())
		if err != nil {
			return err
		}
		if k.kind != changeCreate {
			continue
		}
		n, in := ix.contains(v, k.id)
		if !in {
			continue
		}
		val, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("index: outputs: %w", err)
		}
		u, err := decodeChange(&k, val)
		if err != nil {
			return err
		}
		txid, value := u.txid, u.value
		op := wire.OutPoint{Hash: txid, Index: k.n}
		if _, dup := duplicateTxids[txid]; dup {
			if over, err := ix.overwritten(v, txid, k.height); err != nil {
				return err
			} else if over {
				continue
			}
		}
		reads++
		sp, spent, err := ix.findSpend(v, spends, &op)
		if err != nil {
			return err
		}
		if spent && !withSpent {
			continue
		}
		o = Output{UTXO: UTXO{Outpoint: op, Value: value, Height: k.height, BlockHash: n.hash, Index: k.pos},
			Spent: spent, Spend: sp}
		if !fn(&o) {
			return nil
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("index: outputs: %w", err)
	}
	return nil
}

// duplicateTxids are the two mainnet coinbases that repeat an earlier
// coinbase's txid (before BIP30/BIP34); the later copy overwrote the
// earlier one's outputs, which can never be spent.
var duplicateTxids = map[chainhash.Hash]struct{}{
	mustHash("d5d27987d2a3dfc724e359870c6644b40e497bdc0589a033220fe15429d88599"): {},
	mustHash("e3bf3d07d4b0375638d5f1db5255fe07ba2c4cb067cd81b84ee974b6585fb468"): {},
}

func mustHash(s string) chainhash.Hash {
	h, err := chainhash.NewHashFromStr(s)
	if err != nil {
		panic(err) // constant input
	}
	return *h
}

// overwritten reports whether a later transaction with the same txid than
// the one at height is in the view.
func (ix *Index) overwritten(v *view, txid chainhash.Hash, height int32) (bool, error) {
	prefix := make([]byte, 1+32)
	prefix[0] = pfxTx
	copy(prefix[1:], txid[:])
	it, err := ix.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return false, fmt.Errorf("index: tx %s: %w", txid, err)
	}
	defer it.Close()
	for ok := it.SeekPrefixGE(prefix); ok; ok = it.Next() {
		_, id, err := decodeTxKey(it.Key())
		if err != nil {
			return false, err
		}
		if n, in := ix.contains(v, id); in && n.height > height {
			return true, nil
		}
	}
	return false, it.Error()
}

// findSpend returns the spend of op in the view, using it positioned
// anywhere in the spend table.
func (ix *Index) findSpend(v *view, it *pebble.Iterator, op *wire.OutPoint) (Spend, bool, error) {
	var prefix [spendKeyLen - 4]byte
	putSpendPrefix(prefix[:], op)
	for ok := it.SeekPrefixGE(prefix[:]); ok && bytes.HasPrefix(it.Key(), prefix[:]); ok = it.Next() {
		k, err := decodeSpendKey(it.Key())
		if err != nil {
			return Spend{}, false, err
		}
		n, in := ix.contains(v, k.ID)
		if !in {
			continue
		}
		val, err := it.ValueAndErr()
		if err != nil {
			return Spend{}, false, fmt.Errorf("index: spends: %w", err)
		}
		sv, err := decodeSpendVal(val)
		if err != nil {
			return Spend{}, false, err
		}
		return Spend{Outpoint: *op, Txid: sv.Txid, Input: sv.Vin, BlockHash: n.hash, Height: n.height,
			Index: sv.Pos, Confirmations: v.confirmations(n.height)}, true, nil
	}
	if err := it.Error(); err != nil {
		return Spend{}, false, fmt.Errorf("index: spends: %w", err)
	}
	return Spend{}, false, nil
}

// SpendOf returns the input spending op as of asOf; ErrNotFound when it is
// unspent (or unknown) there.
func (ix *Index) SpendOf(op wire.OutPoint, asOf chainhash.Hash) (Spend, error) {
	var out Spend
	err := ix.query(asOf, func(v *view) error {
		it, err := ix.db.NewIter(&pebble.IterOptions{LowerBound: []byte{pfxSpend}, UpperBound: []byte{pfxSpend + 1}})
		if err != nil {
			return fmt.Errorf("index: spends: %w", err)
		}
		defer it.Close()
		s, found, err := ix.findSpend(v, it, &op)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("spend of %s: %w", op, ErrNotFound)
		}
		out = s
		return nil
	})
	return out, err
}

// Publications returns the outputs publishing keystone id as of asOf, in
// Bitcoin order (height, position in block, output); an empty result is not an error.
func (ix *Index) Publications(keystoneID [32]byte, asOf chainhash.Hash) ([]Publication, error) {
	var out []Publication
	err := ix.query(asOf, func(v *view) error {
		prefix := make([]byte, 1+32)
		prefix[0] = pfxPop
		copy(prefix[1:], keystoneID[:])
		it, err := ix.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
		if err != nil {
			return fmt.Errorf("index: publications: %w", err)
		}
		defer it.Close()
		for ok := it.SeekPrefixGE(prefix); ok; ok = it.Next() {
			k, err := decodePopKey(it.Key())
			if err != nil {
				return err
			}
			n, in := ix.contains(v, k.ID)
			if !in {
				continue
			}
			val, err := it.ValueAndErr()
			if err != nil {
				return fmt.Errorf("index: publications: %w", err)
			}
			txid, err := decodePopVal(val)
			if err != nil {
				return err
			}
			out = append(out, Publication{Publication: pop.Publication{Keystone: keystoneID, Txid: txid, Vout: k.Vout,
				BlockHash: n.hash, Height: n.height, TxIndex: k.Pos}, Confirmations: v.confirmations(n.height)})
		}
		if err := it.Error(); err != nil {
			return fmt.Errorf("index: publications: %w", err)
		}
		sortPublications(out)
		return nil
	})
	return out, err
}

// sortPublications puts p in Bitcoin order (pop.Publication.Compare).
func sortPublications(p []Publication) {
	slices.SortStableFunc(p, func(a, b Publication) int { return a.Compare(&b.Publication) })
}

// HeaderByHeight returns the header at height in the chain as of asOf.
func (ix *Index) HeaderByHeight(height int32, asOf chainhash.Hash) (HeaderInfo, error) {
	var out HeaderInfo
	err := ix.query(asOf, func(v *view) error {
		n := ix.at(v, height)
		if n == nil {
			return fmt.Errorf("header at height %d (as-of height %d): %w", height, v.tip.height, ErrNotFound)
		}
		out = ix.headerInfo(n)
		return nil
	})
	return out, err
}

// HeaderByHash returns the header hash when it is in the chain as of asOf
// (asOf itself or an ancestor). Use Header for any known header.
func (ix *Index) HeaderByHash(hash, asOf chainhash.Hash) (HeaderInfo, error) {
	var out HeaderInfo
	err := ix.query(asOf, func(v *view) error {
		n := ix.byHash[hash]
		if n == nil {
			return fmt.Errorf("header %s: %w", hash, ErrUnknownBlock)
		}
		if ix.at(v, n.height) != n {
			return fmt.Errorf("header %s is not in the chain of %s: %w", hash, v.tip.hash, ErrNotFound)
		}
		out = ix.headerInfo(n)
		return nil
	})
	return out, err
}

// Block returns a stored block, on any fork.
func (ix *Index) Block(hash chainhash.Hash) (*wire.MsgBlock, error) {
	if err := ix.enter(); err != nil {
		return nil, err
	}
	defer ix.leave()
	ix.mu.RLock()
	n := ix.byHash[hash]
	ix.mu.RUnlock()
	if n == nil {
		return nil, fmt.Errorf("block %s: %w", hash, ErrUnknownBlock)
	}
	if !n.has(statusHaveData) {
		return nil, fmt.Errorf("block %s is not stored: %w", hash, ErrNotFound)
	}
	raw, closer, err := ix.db.Get(idKey(pfxBlock, n.id))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, fmt.Errorf("block %s is not stored: %w", hash, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("index: read block %s: %w", hash, err)
	}
	defer closer.Close()
	msg := new(wire.MsgBlock)
	if err := msg.Deserialize(bytes.NewReader(raw)); err != nil {
		return nil, fmt.Errorf("%w: block %s: %w", ErrCorrupt, hash, err)
	}
	return msg, nil
}

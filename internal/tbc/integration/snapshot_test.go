package integration

import (
	"bytes"
	"cmp"
	"encoding/hex"
	"fmt"
	"maps"
	"math"
	"math/big"
	"slices"
	"sync"
	"testing"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/btcjson"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/rpcclient"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hemi-go/hemi/internal/btc/btcdtest"
)

// txAt is btcd's answer for one confirmed transaction.
type txAt struct {
	block  chainhash.Hash
	height int32
	pos    uint32 // position in the block (getblock)
	conf   int32  // confirmations (getrawtransaction verbose)
	hex    string // raw transaction (getrawtransaction)
}

// spendAt is the input spending an outpoint, from btcd's blocks.
type spendAt struct {
	txid   chainhash.Hash
	vin    uint32
	block  chainhash.Hash
	height int32
	pos    uint32
}

// utxoAt is an unspent output of an address as btcd sees it.
type utxoAt struct {
	op     wire.OutPoint
	value  int64
	height int32
	block  chainhash.Hash
	pos    uint32
}

// addrView is btcd's view of one address: its unspent outputs (ordered as
// the index orders them: height, position, output) and their sum.
type addrView struct {
	addr    address.Address
	script  []byte
	utxos   []utxoAt
	balance int64
	spent   []wire.OutPoint // outputs paying the address that are spent
	outs    []utxoAt        // every confirmed output paying the address
}

// snapshot is what one btcd answered about its chain at one moment: every
// header, every transaction with its location and confirmations, every
// spend, and the UTXO sets of some addresses. Tests compare the index with
// it as of the snapshot's tip, at any later time.
type snapshot struct {
	node      string // btcd P2P address, for messages
	tip       chainhash.Hash
	height    int32
	chainWork *big.Int
	headers   []*btcjson.GetBlockHeaderVerboseResult // by height
	hashes    []chainhash.Hash                       // by height
	txs       map[chainhash.Hash]txAt
	spends    map[wire.OutPoint]spendAt
	addrs     []addrView
}

// parallel runs fn(0..n-1) on a few goroutines and returns the first error.
// rpcclient in HTTP POST mode is safe for concurrent use.
func parallel(n int, fn func(i int) error) error {
	const workers = 4
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  int
	)
	for range workers {
		wg.Go(func() {
			for {
				mu.Lock()
				if first != nil || next >= n {
					mu.Unlock()
					return
				}
				i := next
				next++
				mu.Unlock()
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}

// takeSnapshot records btcd's answers about its whole chain and the given
// addresses. The chain must not change meanwhile (the test mines nothing);
// the snapshot fails the test if btcd's tip moves under it.
func takeSnapshot(t *testing.T, node *btcdtest.TestNode, addrs []address.Address) *snapshot {
	t.Helper()
	rpc := node.RPC()
	tip, height := node.Tip()
	s := &snapshot{node: node.P2PAddr(), tip: tip, height: height,
		headers: make([]*btcjson.GetBlockHeaderVerboseResult, height+1),
		hashes:  make([]chainhash.Hash, height+1),
		txs:     make(map[chainhash.Hash]txAt), spends: make(map[wire.OutPoint]spendAt)}
	info, err := rpc.GetBlockChainInfo()
	if err != nil {
		t.Fatalf("getblockchaininfo: %v", err)
	}
	if info.BestBlockHash != tip.String() {
		t.Fatalf("btcd %s tip moved during snapshot", s.node)
	}
	s.chainWork, _ = new(big.Int).SetString(info.ChainWork, 16)

	blocks := make([]*wire.MsgBlock, height+1)
	err = parallel(int(height)+1, func(h int) error {
		hash, err := rpc.GetBlockHash(int64(h))
		if err != nil {
			return fmt.Errorf("getblockhash %d: %w", h, err)
		}
		hdr, err := rpc.GetBlockHeaderVerbose(hash)
		if err != nil {
			return fmt.Errorf("getblockheader %s: %w", hash, err)
		}
		blk, err := rpc.GetBlock(hash)
		if err != nil {
			return fmt.Errorf("getblock %s: %w", hash, err)
		}
		s.hashes[h], s.headers[h], blocks[h] = *hash, hdr, blk
		return nil
	})
	if err != nil {
		t.Fatalf("btcd %s: %v", s.node, err)
	}

	// Locations and spends from the blocks (the genesis coinbase is not a
	// spendable or indexed transaction, in btcd as in the index).
	type job struct {
		txid chainhash.Hash
		loc  txAt
	}
	var jobs []job
	for h := int32(1); h <= height; h++ {
		for pos, tx := range blocks[h].Transactions {
			txid := tx.TxHash()
			jobs = append(jobs, job{txid, txAt{block: s.hashes[h], height: h, pos: uint32(pos)}})
			if pos == 0 {
				continue
			}
			for vin, in := range tx.TxIn {
				s.spends[in.PreviousOutPoint] = spendAt{txid: txid, vin: uint32(vin), block: s.hashes[h], height: h, pos: uint32(pos)}
			}
		}
	}
	// btcd's own transaction index answers block and confirmations.
	locs := make([]txAt, len(jobs))
	err = parallel(len(jobs), func(i int) error {
		j := jobs[i]
		r, err := rpc.GetRawTransactionVerbose(&j.txid)
		if err != nil {
			return fmt.Errorf("getrawtransaction %s: %w", j.txid, err)
		}
		if r.BlockHash != j.loc.block.String() {
			return fmt.Errorf("getrawtransaction %s: block %s, but getblock has it in %s", j.txid, r.BlockHash, j.loc.block)
		}
		l := j.loc
		l.conf, l.hex = int32(r.Confirmations), r.Hex
		locs[i] = l
		return nil
	})
	if err != nil {
		t.Fatalf("btcd %s: %v", s.node, err)
	}
	for i, j := range jobs {
		s.txs[j.txid] = locs[i]
	}

	for _, a := range addrs {
		s.addrs = append(s.addrs, addressView(t, rpc, s, a))
	}
	if now, _ := node.Tip(); now != tip {
		t.Fatalf("btcd %s tip moved from %s to %s during snapshot", s.node, tip, now)
	}
	return s
}

// addressView asks btcd for the outputs paying a: searchrawtransactions
// (address index) for the transactions, gettxout for whether each output is
// unspent in the chain.
func addressView(t *testing.T, rpc *rpcclient.Client, s *snapshot, a address.Address) addrView {
	t.Helper()
	v := addrView{addr: a, script: mustScript(a)}
	seen := make(map[chainhash.Hash]bool)
	var outs []wire.OutPoint
	values := make(map[wire.OutPoint]int64)
	const pageSize = 500
	for skip := 0; ; skip += pageSize {
		txs, err := rpc.SearchRawTransactions(a, skip, pageSize, false, nil)
		if err != nil {
			if rerr, ok := err.(*btcjson.RPCError); ok && rerr.Code == btcjson.ErrRPCNoTxInfo {
				break // no (more) transactions
			}
			t.Fatalf("searchrawtransactions %s: %v", a, err)
		}
		for _, tx := range txs {
			txid := tx.TxHash()
			if seen[txid] {
				continue
			}
			seen[txid] = true
			for vout, o := range tx.TxOut {
				if bytes.Equal(o.PkScript, v.script) {
					op := wire.OutPoint{Hash: txid, Index: uint32(vout)}
					outs = append(outs, op)
					values[op] = o.Value
				}
			}
		}
		if len(txs) < pageSize {
			break
		}
	}
	unspent := make([]bool, len(outs))
	err := parallel(len(outs), func(i int) error {
		r, err := rpc.GetTxOut(&outs[i].Hash, outs[i].Index, false)
		if err != nil {
			return fmt.Errorf("gettxout %s: %w", outs[i], err)
		}
		if r == nil {
			return nil
		}
		if r.BestBlock != s.tip.String() {
			return fmt.Errorf("gettxout %s: best block %s, snapshot tip %s", outs[i], r.BestBlock, s.tip)
		}
		if sat := int64(math.Round(r.Value * 1e8)); sat != values[outs[i]] {
			return fmt.Errorf("gettxout %s: value %d sat, transaction says %d", outs[i], sat, values[outs[i]])
		}
		unspent[i] = true
		return nil
	})
	if err != nil {
		t.Fatalf("btcd %s: address %s: %v", s.node, a, err)
	}
	for i, op := range outs {
		loc, confirmed := s.txs[op.Hash]
		switch {
		case unspent[i] && !confirmed:
			t.Fatalf("btcd %s: gettxout says %s is unspent but its transaction is not in the chain", s.node, op)
		case unspent[i]:
			u := utxoAt{op: op, value: values[op], height: loc.height, block: loc.block, pos: loc.pos}
			v.utxos = append(v.utxos, u)
			v.outs = append(v.outs, u)
			v.balance += values[op]
		case confirmed:
			v.spent = append(v.spent, op)
			v.outs = append(v.outs, utxoAt{op: op, value: values[op], height: loc.height, block: loc.block, pos: loc.pos})
		}
	}
	sortUTXOs(v.utxos)
	sortUTXOs(v.outs)
	return v
}

// sortUTXOs orders outputs as the index does: height, position, output.
func sortUTXOs(us []utxoAt) {
	slices.SortFunc(us, func(x, y utxoAt) int {
		return cmp.Or(cmp.Compare(x.height, y.height), cmp.Compare(x.pos, y.pos), cmp.Compare(x.op.Index, y.op.Index))
	})
}

// truncate returns the snapshot as btcd's answers were when its chain
// ended at height h (an ancestor of the tip): the same blocks up to h,
// confirmations counted from h, and every address's outputs created at or
// below h and not spent at or below h. It is derived from btcd's answers
// only, for checking an index that stopped syncing at h.
func (s *snapshot) truncate(t *testing.T, h int32) *snapshot {
	t.Helper()
	if h < 0 || h > s.height {
		t.Fatalf("truncate snapshot at %d: chain is 0..%d", h, s.height)
	}
	if h == s.height {
		return s
	}
	c := &snapshot{node: s.node, tip: s.hashes[h], height: h, headers: s.headers[:h+1], hashes: s.hashes[:h+1],
		txs: make(map[chainhash.Hash]txAt), spends: make(map[wire.OutPoint]spendAt)}
	for txid, l := range s.txs {
		if l.height <= h {
			if l.conf != s.height-l.height+1 {
				t.Fatalf("btcd %s: %s has %d confirmations at height %d, mined at %d", s.node, txid, l.conf, s.height, l.height)
			}
			l.conf = h - l.height + 1
			c.txs[txid] = l
		}
	}
	for op, sp := range s.spends {
		if sp.height <= h {
			c.spends[op] = sp
		}
	}
	for _, a := range s.addrs {
		v := addrView{addr: a.addr, script: a.script}
		for _, o := range a.outs {
			if o.height > h {
				continue
			}
			v.outs = append(v.outs, o)
			if sp, spent := c.spends[o.op]; spent && sp.height <= h {
				v.spent = append(v.spent, o.op)
				continue
			}
			v.utxos = append(v.utxos, o)
			v.balance += o.value
		}
		c.addrs = append(c.addrs, v)
	}
	return c
}

// headerOf returns btcd's header at height h as a wire header.
func (s *snapshot) headerOf(t *testing.T, h int32) wire.BlockHeader {
	t.Helper()
	r := s.headers[h]
	prev := chainhash.Hash{}
	if r.PreviousHash != "" {
		p, err := chainhash.NewHashFromStr(r.PreviousHash)
		if err != nil {
			t.Fatalf("btcd header %d: previous hash %q: %v", h, r.PreviousHash, err)
		}
		prev = *p
	}
	merkle, err := chainhash.NewHashFromStr(r.MerkleRoot)
	if err != nil {
		t.Fatalf("btcd header %d: merkle root %q: %v", h, r.MerkleRoot, err)
	}
	bits, err := hex.DecodeString(r.Bits)
	if err != nil || len(bits) != 4 {
		t.Fatalf("btcd header %d: bits %q", h, r.Bits)
	}
	return wire.BlockHeader{Version: r.Version, PrevBlock: prev, MerkleRoot: *merkle,
		Timestamp: unixTime(r.Time), Bits: uint32(bits[0])<<24 | uint32(bits[1])<<16 | uint32(bits[2])<<8 | uint32(bits[3]),
		Nonce: uint32(r.Nonce)}
}

// summary describes the snapshot for logs.
func (s *snapshot) summary() string {
	n := 0
	for _, a := range s.addrs {
		n += len(a.utxos)
	}
	return fmt.Sprintf("btcd %s at %d (%s): %d txs, %d spends, %d addresses with %d utxos",
		s.node, s.height, s.tip, len(s.txs), len(s.spends), len(s.addrs), n)
}

// sameSnapshot fails t where two snapshots of the same chain and height
// disagree (chain work aside).
func sameSnapshot(t *testing.T, got, want *snapshot) {
	t.Helper()
	if got.tip != want.tip || got.height != want.height || !slices.Equal(got.hashes, want.hashes) {
		t.Fatalf("snapshots of different chains: %s@%d and %s@%d", got.tip, got.height, want.tip, want.height)
	}
	if !maps.Equal(got.txs, want.txs) {
		t.Errorf("snapshot at %d: transactions differ (%d and %d)", got.height, len(got.txs), len(want.txs))
	}
	if !maps.Equal(got.spends, want.spends) {
		t.Errorf("snapshot at %d: spends differ (%d and %d)", got.height, len(got.spends), len(want.spends))
	}
	if len(got.addrs) != len(want.addrs) {
		t.Fatalf("snapshot at %d: %d and %d addresses", got.height, len(got.addrs), len(want.addrs))
	}
	for i := range got.addrs {
		g, w := got.addrs[i], want.addrs[i]
		if g.balance != w.balance || !slices.Equal(g.utxos, w.utxos) || !slices.Equal(g.outs, w.outs) {
			t.Errorf("snapshot at %d: address %s: balance %d and %d, %d and %d utxos; first difference: %s",
				got.height, g.addr, g.balance, w.balance, len(g.utxos), len(w.utxos), firstDiff(g.utxos, w.utxos))
		}
	}
}

package p2p

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// fakeChain is an in-memory Chain for unit tests: headers connect by
// parent and the longest chain wins, blocks are checked against their
// header's merkle root and connected in height order.
type fakeChain struct {
	mu       sync.Mutex
	nodes    map[chainhash.Hash]*fakeNode
	best     []chainhash.Hash // best header chain by height
	blockTip int32
	// invalidVersion marks headers the chain rejects with ErrInvalid.
	invalidVersion int32
	// acceptErr and headersErr, if set, are returned by AcceptBlock and
	// AcceptHeaders (storage failures).
	acceptErr  error
	headersErr error
	// acceptDelay slows AcceptBlock down, to fill the pipeline.
	acceptDelay time.Duration
	accepted    int
	// onAccept, if set, runs at the start of each AcceptBlock.
	onAccept func()
}

type fakeNode struct {
	hdr    wire.BlockHeader
	height int32
	stored bool
}

var _ Chain = (*fakeChain)(nil)

func newFakeChain(params *chaincfg.Params) *fakeChain {
	g := params.GenesisBlock.Header
	h := g.BlockHash()
	return &fakeChain{
		nodes: map[chainhash.Hash]*fakeNode{h: {hdr: g, height: 0, stored: true}},
		best:  []chainhash.Hash{h},
	}
}

func (c *fakeChain) Locator() []chainhash.Hash {
	c.mu.Lock()
	defer c.mu.Unlock()
	var loc []chainhash.Hash
	step := 1
	for i := len(c.best) - 1; i > 0; i -= step {
		loc = append(loc, c.best[i])
		if len(loc) >= 10 {
			step *= 2
		}
	}
	return append(loc, c.best[0])
}

func (c *fakeChain) AcceptHeaders(hdrs []wire.BlockHeader) (int, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.headersErr != nil {
		return 0, false, c.headersErr
	}
	if len(hdrs) == 0 {
		return 0, false, nil
	}
	parent, ok := c.nodes[hdrs[0].PrevBlock]
	if !ok {
		return 0, false, ErrUnconnected
	}
	for i := range hdrs {
		if c.invalidVersion != 0 && hdrs[i].Version == c.invalidVersion {
			return 0, false, fmt.Errorf("header %d: %w: bad version", i, ErrInvalid)
		}
	}
	added := 0
	for i := range hdrs {
		h := hdrs[i].BlockHash()
		n, ok := c.nodes[h]
		if !ok {
			n = &fakeNode{hdr: hdrs[i], height: parent.height + 1}
			c.nodes[h] = n
			added++
		}
		parent = n
	}
	if int(parent.height) < len(c.best) {
		return added, false, nil
	}
	// Longer chain: rebuild the best chain from the new tip.
	best := make([]chainhash.Hash, parent.height+1)
	for h, n := parent.hdr.BlockHash(), parent; ; {
		best[n.height] = h
		if n.height == 0 {
			break
		}
		h = n.hdr.PrevBlock
		n = c.nodes[h]
	}
	fork := int32(0)
	for fork < int32(len(c.best)) && best[fork] == c.best[fork] {
		fork++
	}
	c.best = best
	if c.blockTip >= fork {
		c.blockTip = fork - 1
	}
	c.connectLocked()
	return added, true, nil
}

func (c *fakeChain) BestHeader() (chainhash.Hash, int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.best[len(c.best)-1], int32(len(c.best) - 1)
}

func (c *fakeChain) NeedBlocks(max int) []chainhash.Hash {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []chainhash.Hash
	for i := int(c.blockTip) + 1; i < len(c.best) && len(out) < max; i++ {
		if !c.nodes[c.best[i]].stored {
			out = append(out, c.best[i])
		}
	}
	return out
}

func (c *fakeChain) AcceptBlock(b *wire.MsgBlock) error {
	if c.onAccept != nil {
		c.onAccept()
	}
	if c.acceptDelay > 0 {
		time.Sleep(c.acceptDelay)
	}
	h := b.BlockHash()
	txs := make([]*btcutil.Tx, len(b.Transactions))
	for i, tx := range b.Transactions {
		txs[i] = btcutil.NewTx(tx)
	}
	root := blockchain.CalcMerkleRoot(txs, false)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.acceptErr != nil {
		return c.acceptErr
	}
	n, ok := c.nodes[h]
	if !ok {
		return fmt.Errorf("%w: unknown block %s", ErrInvalid, h)
	}
	if root != n.hdr.MerkleRoot {
		return fmt.Errorf("%w: block %s merkle root mismatch", ErrInvalid, h)
	}
	n.stored = true
	c.accepted++
	c.connectLocked()
	return nil
}

func (c *fakeChain) connectLocked() {
	for int(c.blockTip)+1 < len(c.best) && c.nodes[c.best[c.blockTip+1]].stored {
		c.blockTip++
	}
}

func (c *fakeChain) BlockTip() (chainhash.Hash, int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.best[c.blockTip], c.blockTip
}

func (c *fakeChain) storedCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, nd := range c.nodes {
		if nd.stored {
			n++
		}
	}
	return n
}

// testChain is a regtest block chain built for tests.
type testChain struct {
	params *chaincfg.Params
	blocks []*wire.MsgBlock // blocks[0] is genesis
	hashes []chainhash.Hash
	index  map[chainhash.Hash]int
}

// buildChain mines n regtest blocks on genesis, each with a coinbase and
// txsPerBlock spends of nothing (the fake chain checks no scripts).
func buildChain(t testing.TB, n, txsPerBlock int) *testChain {
	t.Helper()
	params := &chaincfg.RegressionNetParams
	tc := &testChain{params: params, index: make(map[chainhash.Hash]int)}
	tc.add(params.GenesisBlock)
	tc.extend(t, n, txsPerBlock, 0)
	return tc
}

func (tc *testChain) add(b *wire.MsgBlock) {
	h := b.BlockHash()
	tc.index[h] = len(tc.blocks)
	tc.blocks = append(tc.blocks, b)
	tc.hashes = append(tc.hashes, h)
}

func (tc *testChain) tip() (chainhash.Hash, int32) {
	return tc.hashes[len(tc.hashes)-1], int32(len(tc.hashes) - 1)
}

// extend mines n more blocks; salt makes a fork differ from the original.
func (tc *testChain) extend(t testing.TB, n, txsPerBlock int, salt byte) {
	t.Helper()
	for range n {
		prev := tc.blocks[len(tc.blocks)-1]
		height := int32(len(tc.blocks))
		b := mineBlock(t, tc.params, prev.BlockHash(), prev.Header.Timestamp, height, txsPerBlock, salt)
		tc.add(b)
	}
}

func mineBlock(t testing.TB, params *chaincfg.Params, prev chainhash.Hash, prevTime time.Time, height int32, ntx int, salt byte) *wire.MsgBlock {
	t.Helper()
	cb := wire.NewMsgTx(1)
	cb.AddTxIn(&wire.TxIn{
		PreviousOutPoint: wire.OutPoint{Index: wire.MaxPrevOutIndex},
		SignatureScript:  []byte{4, byte(height), byte(height >> 8), byte(height >> 16), salt},
		Sequence:         wire.MaxTxInSequenceNum,
	})
	cb.AddTxOut(wire.NewTxOut(50e8, []byte{0x51}))
	b := &wire.MsgBlock{Transactions: []*wire.MsgTx{cb}}
	for i := range ntx {
		tx := wire.NewMsgTx(2)
		var ph chainhash.Hash
		ph[0], ph[1], ph[2], ph[3] = byte(i), byte(height), byte(height>>8), salt
		tx.AddTxIn(wire.NewTxIn(wire.NewOutPoint(&ph, uint32(i)), []byte{0x51}, nil))
		tx.AddTxOut(wire.NewTxOut(1000, []byte{0x51}))
		b.Transactions = append(b.Transactions, tx)
	}
	txs := make([]*btcutil.Tx, len(b.Transactions))
	for i, tx := range b.Transactions {
		txs[i] = btcutil.NewTx(tx)
	}
	b.Header = wire.BlockHeader{
		Version:    0x20000000,
		PrevBlock:  prev,
		MerkleRoot: blockchain.CalcMerkleRoot(txs, false),
		Timestamp:  prevTime.Add(time.Second),
		Bits:       params.PowLimitBits,
	}
	solve(t, &b.Header, params)
	return b
}

// solve finds a nonce meeting the header's target (two tries on average on
// regtest).
func solve(t testing.TB, h *wire.BlockHeader, params *chaincfg.Params) {
	t.Helper()
	for nonce := uint32(0); nonce < 1<<20; nonce++ {
		h.Nonce = nonce
		hash := h.BlockHash()
		if checkPoW(h.Bits, &hash, params.PowLimit) == nil {
			return
		}
	}
	t.Fatal("no nonce found")
}

// failPoW changes the nonce until the header's hash misses its target.
func failPoW(h *wire.BlockHeader, params *chaincfg.Params) {
	for {
		h.Nonce++
		hash := h.BlockHash()
		if err := checkPoW(h.Bits, &hash, params.PowLimit); errors.Is(err, ErrInvalid) {
			return
		}
	}
}

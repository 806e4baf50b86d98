package finality_test

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hemi-go/hemi/internal/btc/index"
	"github.com/hemi-go/hemi/internal/btc/txgen"
	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/finality"
	"github.com/hemi-go/hemi/internal/node"
	"github.com/hemi-go/hemi/internal/pop"
	"github.com/hemi-go/hemi/internal/sequencer"
	"github.com/hemi-go/hemi/internal/tbc"
)

// bitcoinNode is what the stack needs of a Bitcoin node it mines on and
// sends transactions to: the embedded regtest node or a btcd process.
type bitcoinNode interface {
	P2PAddr() string
	Mine(n int, to address.Address) ([]chainhash.Hash, error)
	SubmitTx(tx *wire.MsgTx) error
	Block(hash chainhash.Hash) (*wire.MsgBlock, error)
	Tip() (chainhash.Hash, int32)
}

// stack is a Bitcoin node, our Bitcoin layer syncing from it over P2P, an
// L2 chain on that index with blocks built here, and a running finality
// service that is the chain's fork choice.
type stack struct {
	t      *testing.T
	btc    bitcoinNode
	ix     *index.Index
	chain  *chain.Chain
	fin    *finality.Service
	seqKey *ecdsa.PrivateKey
	key    *txgen.Key
	addr   address.Address
	funds  []txgen.UTXO // mature coinbases to spend, oldest first
	spent  map[wire.OutPoint]txgen.UTXO
	reg    *prometheus.Registry
}

func newWallet(t *testing.T) (*txgen.Key, address.Address) {
	key := txgen.DeriveKey([]byte("finality stack test"), 0)
	addr, err := key.Address(txgen.P2WPKH, &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	return key, addr
}

// startStack starts our node against btc (which already has a mature
// chain mined to addr) and an L2 chain whose genesis views the Bitcoin
// block two below the tip. depth is the superfinality depth.
func startStack(t *testing.T, btc bitcoinNode, key *txgen.Key, addr address.Address, depth uint32) *stack {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	dir := t.TempDir()
	svc, err := tbc.New(tbc.Config{Params: &chaincfg.RegressionNetParams, DataDir: filepath.Join(dir, "node"),
		Peers: []string{btc.P2PAddr()}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tbcDone := make(chan error, 1)
	go func() { tbcDone <- svc.Run(ctx) }()
	s := &stack{t: t, btc: btc, ix: svc.Index(), seqKey: sequencer.DevKey(), key: key, addr: addr}
	s.waitIndexed()

	bv := node.NewBitcoin(s.ix)
	_, tip := s.ix.BlockTip()
	view, err := bv.MainChainAt(tip - 2)
	if err != nil {
		t.Fatal(err)
	}
	spec, _, err := genesis.DevnetSpec(crypto.PubkeyToAddress(s.seqKey.PublicKey), view, uint64(time.Now().Unix())-3600)
	if err != nil {
		t.Fatal(err)
	}
	spec.Config.PoP.SuperfinalDepth = depth
	s.reg = prometheus.NewRegistry()
	// The node without a key: the chain, its PoP fork choice and the
	// finality service; the test builds the blocks.
	n, err := node.New(node.Config{Dir: filepath.Join(dir, "l2"), BTC: svc, Spec: spec, NoSync: true, Logger: log, Registerer: s.reg})
	if err != nil {
		t.Fatal(err)
	}
	s.chain, s.fin = n.Chain, n.Finality
	finDone := make(chan error, 1)
	go func() { finDone <- n.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-finDone; err != nil {
			t.Errorf("finality: %v", err)
		}
		<-tbcDone
		n.Close()
	})
	// Coinbases of blocks 1.. are mature (the node mined past 100).
	for h := int32(1); h <= tip-100; h++ {
		hi, err := s.ix.HeaderByHeight(h, chainhash.Hash{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := s.ix.Block(hi.Hash)
		if err != nil {
			t.Fatal(err)
		}
		cb := b.Transactions[0]
		s.funds = append(s.funds, txgen.UTXO{OutPoint: wire.OutPoint{Hash: cb.TxHash(), Index: 0},
			Value: cb.TxOut[0].Value, Key: key, Kind: txgen.P2WPKH})
	}
	return s
}

// waitIndexed waits until our index's tip is the Bitcoin node's tip.
func (s *stack) waitIndexed() {
	s.t.Helper()
	want, _ := s.btc.Tip()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if got, _ := s.ix.BlockTip(); got == want {
			return
		}
		if time.Now().After(deadline) {
			got, h := s.ix.BlockTip()
			s.t.Fatalf("index tip %s (%d), want %s", got, h, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// mine mines n Bitcoin blocks and waits until our index has them.
func (s *stack) mine(n int) []chainhash.Hash {
	s.t.Helper()
	hs, err := s.btc.Mine(n, s.addr)
	if err != nil {
		s.t.Fatal(err)
	}
	s.waitIndexed()
	return hs
}

// buildL2 builds, seals and commits n L2 blocks on the head, viewing the
// Bitcoin block two below the index tip.
func (s *stack) buildL2(n int) {
	s.t.Helper()
	bv := node.NewBitcoin(s.ix)
	for range n {
		_, tip := s.ix.BlockTip()
		view, err := bv.MainChainAt(tip - 2)
		if err != nil {
			s.t.Fatal(err)
		}
		head := s.chain.Head()
		b, err := s.chain.BuildBlock(chain.BuildParams{Parent: head, Time: head.Time + 1, View: view,
			Coinbase: crypto.PubkeyToAddress(s.seqKey.PublicKey)})
		if err != nil {
			s.t.Fatal(err)
		}
		if err := block.Seal(b.Block.Header, s.seqKey); err != nil {
			s.t.Fatal(err)
		}
		if err := s.chain.CommitBuilt(b); err != nil {
			s.t.Fatal(err)
		}
	}
}

// buildBranch builds, seals and inserts n L2 blocks on parent (any
// stored block), step seconds apart (so branches from the same parent
// differ), and returns their headers.
func (s *stack) buildBranch(parent *types.Header, n int, step uint64) []*types.Header {
	s.t.Helper()
	bv := node.NewBitcoin(s.ix)
	var out []*types.Header
	for range n {
		_, tip := s.ix.BlockTip()
		view, err := bv.MainChainAt(tip - 2)
		if err != nil {
			s.t.Fatal(err)
		}
		b, err := s.chain.BuildBlock(chain.BuildParams{Parent: parent, Time: parent.Time + step, View: view,
			Coinbase: crypto.PubkeyToAddress(s.seqKey.PublicKey)})
		if err != nil {
			s.t.Fatal(err)
		}
		if err := block.Seal(b.Block.Header, s.seqKey); err != nil {
			s.t.Fatal(err)
		}
		if err := s.chain.InsertBlock(b.Block); err != nil {
			s.t.Fatal(err)
		}
		parent = b.Block.Header
		out = append(out, parent)
	}
	return out
}

// waitHead waits until the L2 head is hash.
func (s *stack) waitHead(hash common.Hash) {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for s.chain.Head().Hash() != hash {
		if time.Now().After(deadline) {
			h := s.chain.Head()
			s.t.Fatalf("L2 head %d %s, want %s", h.Number, h.Hash(), hash)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// publish sends a PoP transaction for the canonical keystone at number to
// the Bitcoin node's mempool.
func (s *stack) publish(number uint64) *wire.MsgTx {
	s.t.Helper()
	k, err := s.chain.KeystoneAt(number)
	if err != nil {
		s.t.Fatal(err)
	}
	return s.publishKeystone(k)
}

// publishKeystone sends a PoP transaction for k (of any branch).
func (s *stack) publishKeystone(k *pop.L2Keystone) *wire.MsgTx {
	s.t.Helper()
	if len(s.funds) == 0 {
		s.t.Fatal("no mature coinbase left")
	}
	u := s.funds[0]
	s.funds = s.funds[1:]
	if s.spent == nil {
		s.spent = map[wire.OutPoint]txgen.UTXO{}
	}
	s.spent[u.OutPoint] = u
	return s.send(u, k.K.Script())
}

// doubleSpend sends a transaction spending the input of tx again, with
// an OP_RETURN that is not a publication.
func (s *stack) doubleSpend(tx *wire.MsgTx) *wire.MsgTx {
	s.t.Helper()
	u, ok := s.spent[tx.TxIn[0].PreviousOutPoint]
	if !ok {
		s.t.Fatal("not a transaction of publish")
	}
	script, err := txgen.OpReturnScript([]byte("not a keystone"))
	if err != nil {
		s.t.Fatal(err)
	}
	return s.send(u, script)
}

// send spends u to a zero-value output with script, change to the
// wallet.
func (s *stack) send(u txgen.UTXO, script []byte) *wire.MsgTx {
	s.t.Helper()
	change, err := s.key.PkScript(txgen.P2WPKH)
	if err != nil {
		s.t.Fatal(err)
	}
	sp := txgen.Spend{Inputs: []txgen.UTXO{u}, Outputs: []*wire.TxOut{wire.NewTxOut(0, script)}, Change: change, FeeRate: 2}
	tx, _, _, err := sp.Build()
	if err != nil {
		s.t.Fatal(err)
	}
	if err := txgen.Sign(tx, []txgen.UTXO{u}); err != nil {
		s.t.Fatal(err)
	}
	if err := s.btc.SubmitTx(tx); err != nil {
		s.t.Fatal(err)
	}
	return tx
}

// want describes the expected finality of a block.
type want struct {
	published  bool
	btcBlock   chainhash.Hash // of the effective publication
	from       uint64         // keystone number actually published
	confs      uint32
	superfinal bool
}

func (w want) String() string {
	return fmt.Sprintf("published=%v block=%s from=%d confs=%d superfinal=%v", w.published, w.btcBlock, w.from, w.confs, w.superfinal)
}

// waitFinality waits until block number's finality is w.
func (s *stack) waitFinality(number uint64, w want) {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		f, err := s.fin.Finality(number)
		if err != nil {
			s.t.Fatal(err)
		}
		got := want{published: f.Published, confs: f.Confirmations, superfinal: f.Superfinal}
		if f.Published {
			got.btcBlock = f.Publication.BlockHash
			if k, err := s.chain.KeystoneByID(f.Publication.Keystone); err == nil {
				got.from = k.Number
			}
		}
		if got == w {
			return
		}
		last = got.String()
		time.Sleep(10 * time.Millisecond)
	}
	s.t.Fatalf("block %d finality: got %s, want %s", number, last, w)
}

func (s *stack) waitHeads(safe, finalized uint64) {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if h := s.fin.Heads(); h.Safe == safe && h.Finalized == finalized {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	h := s.fin.Heads()
	s.t.Fatalf("heads safe=%d finalized=%d, want %d %d", h.Safe, h.Finalized, safe, finalized)
}

// wantMetrics waits until the service's gauges show safe, finalized,
// keystones and the index's tip height.
func (s *stack) wantMetrics(safe, finalized, keystones float64) {
	s.t.Helper()
	_, h := s.ix.BlockTip()
	want := map[string]float64{"hemi_finality_safe_block": safe, "hemi_finality_finalized_block": finalized,
		"hemi_finality_keystones": keystones, "hemi_finality_bitcoin_height": float64(h)}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mfs, err := s.reg.Gather()
		if err != nil {
			s.t.Fatal(err)
		}
		got := map[string]float64{}
		for _, mf := range mfs {
			if len(mf.GetMetric()) == 1 && mf.GetMetric()[0].GetGauge() != nil {
				got[mf.GetName()] = mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		ok := true
		for k, v := range want {
			ok = ok && got[k] == v
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("metrics %v, want %v", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// wantLost waits until the gauge of finalized blocks that are not
// superfinal shows blocks and block number's finality says whether it
// lost superfinality.
func (s *stack) wantLost(number uint64, blocks float64) {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		f, err := s.fin.Finality(number)
		if err != nil {
			s.t.Fatal(err)
		}
		var got float64 = -1
		mfs, err := s.reg.Gather()
		if err != nil {
			s.t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "hemi_finality_finalized_not_superfinal_blocks" {
				got = mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		if got == blocks && f.Finalized && f.SuperfinalityLost == (blocks > 0) {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("gauge %v, block %d %+v; want %v blocks not superfinal", got, number, f, blocks)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

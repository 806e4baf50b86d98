package tunnel_test

import (
	"crypto/ecdsa"
	"log/slog"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/hemi-go/hemi/internal/btc/index"
	"github.com/hemi-go/hemi/internal/btc/indextest"
	"github.com/hemi-go/hemi/internal/btc/txgen"
	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/chain/derive"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/clock"
	"github.com/hemi-go/hemi/internal/hvm"
	"github.com/hemi-go/hemi/internal/node/indexadapt"
	"github.com/hemi-go/hemi/internal/tunnel"
)

// depScenario is the deposit scenario helper: a regtest Bitcoin chain made
// in process (txgen; the index checks PoW and merkle roots, not scripts,
// so test transactions need no signatures) fed to a real index, and an
// L2 sequencer chain plus a follower that re-derives and verifies every
// block, both with the node's derivers for a tunnel genesis.
type depScenario struct {
	t      testing.TB
	ix     *index.Index
	btc    *indexadapt.Chain
	g      *txgen.Chain
	specs  []txgen.BlockSpec // Bitcoin blocks from height 1
	blocks []*wire.MsgBlock
	funder []byte // coinbases pay it; deposits spend coinbases
	spent  int    // coinbases used as deposit inputs
	vault  []byte
	tcfg   *genesis.TunnelConfig
	spec   *genesis.Spec
	seq    *chain.Chain
	fol    *chain.Chain
}

var (
	regtest = &chaincfg.RegressionNetParams
	seqKey  = func() *ecdsa.PrivateKey {
		k, _ := crypto.ToECDSA(crypto.Keccak256([]byte("tunnel deposit sequencer")))
		return k
	}()
)

// newDepScenario mines genesisHeight Bitcoin blocks, makes the L2 genesis
// on the last with the dev tunnel (mut may change it), and opens the
// sequencer's and the follower's chains.
func newDepScenario(t testing.TB, genesisHeight int, mut func(*genesis.TunnelConfig)) *depScenario {
	t.Helper()
	s := &depScenario{t: t, ix: indextest.Open(t, regtest, ""), g: txgen.NewChain(regtest)}
	s.btc = indexadapt.NewChain(s.ix)
	var err error
	if s.funder, err = txgen.NewWallet([]byte("tunnel funder")).Key(0).PkScript(txgen.P2WPKH); err != nil {
		t.Fatal(err)
	}
	for range genesisHeight {
		s.mine()
	}
	if s.tcfg, err = genesis.DevTunnelConfig(); err != nil {
		t.Fatal(err)
	}
	if mut != nil {
		mut(s.tcfg)
	}
	v, err := tunnel.NewVault(s.tcfg, regtest)
	if err != nil {
		t.Fatal(err)
	}
	s.vault = v.PkScript()
	sp, _, err := genesis.DevnetSpec(crypto.PubkeyToAddress(seqKey.PublicKey), s.view(int32(genesisHeight)), 1_700_000_000)
	if err != nil {
		t.Fatal(err)
	}
	sp.Config.Tunnel = s.tcfg
	s.spec = sp
	s.seq, s.fol = s.open(), s.open()
	return s
}

// open opens an in-memory chain with the node's derivers for the spec,
// without the withdrawal side.
func (s *depScenario) open() *chain.Chain {
	return s.openChain(s.tcfg.MaxDepositsPerBlock, nil)
}

// openChain opens an in-memory chain with the node's derivers for a
// tunnel genesis in node.chainDerivers' order: view, fee rate, deposits
// (at most maxDeposits a block, whatever the genesis says), then w (nil:
// none) and the PoP rewards.
func (s *depScenario) openChain(maxDeposits int, w *tunnel.Withdrawals) *chain.Chain {
	t := s.t
	cfg, err := chain.ConfigFromSpec(s.spec)
	if err != nil {
		t.Fatal(err)
	}
	deps, err := tunnel.NewDeposits(tunnel.DepositConfig{Tunnel: s.tcfg.TunnelAddress, VaultScript: s.vault,
		DepositConfirmations: s.tcfg.DepositConfirmations, MinDepositSat: s.tcfg.MinDepositSat,
		MaxDepositsPerBlock: maxDeposits})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Derivers = []chain.Deriver{derive.ViewUpdate{}, &tunnel.FeeRate{Tunnel: s.tcfg.TunnelAddress}, deps}
	if w != nil {
		cfg.Derivers = append(cfg.Derivers, w)
	}
	cfg.Derivers = append(cfg.Derivers, &derive.PoPRewards{PoP: s.spec.Config.PoP, Interval: s.spec.Config.KeystoneInterval})
	cfg.NoSync, cfg.Bitcoin = true, s.btc
	cfg.Clock = clock.Fixed{T: time.Unix(int64(s.spec.Timestamp)+10_000_000, 0)}
	cfg.Logger = slog.New(slog.DiscardHandler)
	c, err := chain.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// height is the Bitcoin tip's height.
func (s *depScenario) height() int32 { return int32(len(s.blocks)) }

// mine mines a Bitcoin block holding txs on the tip and indexes it.
func (s *depScenario) mine(txs ...*wire.MsgTx) *wire.MsgBlock {
	s.t.Helper()
	sp := txgen.BlockSpec{PayTo: s.funder, Txs: txs, ExtraNonce: uint64(len(s.specs))}
	b, err := s.g.NextBlock(sp)
	if err != nil {
		s.t.Fatal(err)
	}
	s.specs, s.blocks = append(s.specs, sp), append(s.blocks, b)
	indextest.Feed(s.t, s.ix, []*wire.MsgBlock{b})
	return b
}

// reorg replaces the Bitcoin blocks above height keep by n new blocks,
// the first holding txs (a fork with more work: the index follows it).
func (s *depScenario) reorg(keep int32, n int, txs ...*wire.MsgTx) {
	s.t.Helper()
	g := txgen.NewChain(regtest)
	for _, sp := range s.specs[:keep] {
		if _, err := g.NextBlock(sp); err != nil {
			s.t.Fatal(err)
		}
	}
	s.specs, s.blocks = s.specs[:keep], s.blocks[:keep]
	s.g = g
	var fork []*wire.MsgBlock
	for i := range n {
		sp := txgen.BlockSpec{PayTo: s.funder, ExtraNonce: uint64(1_000_000 + len(s.specs))}
		if i == 0 {
			sp.Txs = txs
		}
		b, err := g.NextBlock(sp)
		if err != nil {
			s.t.Fatal(err)
		}
		s.specs, s.blocks, fork = append(s.specs, sp), append(s.blocks, b), append(fork, b)
	}
	indextest.Feed(s.t, s.ix, fork)
}

// coinbase returns an unspent coinbase output of the funder (each once).
func (s *depScenario) coinbase() wire.OutPoint {
	s.spent++
	if s.spent > len(s.blocks) {
		s.t.Fatal("no coinbase left to spend: mine more blocks")
	}
	return wire.OutPoint{Hash: s.blocks[s.spent-1].Transactions[0].TxHash(), Index: 0}
}

// tx is a transaction spending ins with outs.
func tx(ins []wire.OutPoint, outs ...*wire.TxOut) *wire.MsgTx {
	m := wire.NewMsgTx(2)
	for _, op := range ins {
		m.AddTxIn(wire.NewTxIn(&op, nil, nil))
	}
	for _, o := range outs {
		m.AddTxOut(o)
	}
	return m
}

// view is the index's header of the Bitcoin block at height.
func (s *depScenario) view(height int32) hvm.Header {
	s.t.Helper()
	v, err := s.btc.MainChainAt(height)
	if err != nil {
		s.t.Fatal(err)
	}
	return v
}

// l2 builds, seals and commits the sequencer's next block with the
// Bitcoin view at height, then has the follower insert it.
func (s *depScenario) l2(height int32) *chain.Block {
	s.t.Helper()
	return s.l2On(s.seq.Head(), s.view(height), true)
}

// l2On builds a block on parent with view v on the sequencer (committed,
// as a side block when parent is not the head), and on the follower when
// follow.
func (s *depScenario) l2On(parent *types.Header, v hvm.Header, follow bool) *chain.Block {
	s.t.Helper()
	dt := uint64(2)
	if parent.Hash() != s.seq.Head().Hash() {
		dt = 3 // a side block differs from the canonical one on the same parent
	}
	b, err := s.seq.BuildBlock(chain.BuildParams{Parent: parent, Time: parent.Time + dt, View: v, Coinbase: crypto.PubkeyToAddress(seqKey.PublicKey)})
	if err != nil {
		s.t.Fatal(err)
	}
	if err := block.Seal(b.Block.Header, seqKey); err != nil {
		s.t.Fatal(err)
	}
	if parent.Hash() == s.seq.Head().Hash() {
		if err := s.seq.CommitBuilt(b); err != nil {
			s.t.Fatal(err)
		}
	} else if err := s.seq.InsertBlock(b.Block); err != nil { // a side branch
		s.t.Fatal(err)
	}
	if follow {
		if err := s.fol.InsertBlock(b.Block); err != nil {
			s.t.Fatalf("follower refuses block %d: %v", b.Block.NumberU64(), err)
		}
	}
	return b.Block
}

// state is the sequencer's state after block b (the head when nil).
func (s *depScenario) state(b *chain.Block) *state.StateDB {
	s.t.Helper()
	root := s.seq.Head().Root
	if b != nil {
		root = b.Header.Root
	}
	st, err := s.seq.StateAt(root)
	if err != nil {
		s.t.Fatal(err)
	}
	return st
}

// hbtc is owner's hBTC balance after b (the head when nil).
func (s *depScenario) hbtc(b *chain.Block, owner common.Address) uint64 {
	return tunnel.HBTCBalance(s.state(b), s.tcfg.HBTCAddress, owner).Uint64()
}

// deposits are the deposit system transactions (domain 0x101) of b.
func deposits(b *chain.Block) []*block.SystemTx {
	var out []*block.SystemTx
	for _, stx := range b.Body.SystemTxs {
		if len(stx.Data) >= 4 && stx.To != nil {
			switch [4]byte(stx.Data[:4]) {
			case [4]byte(tunnel.TunnelABI.Methods["mint"].ID), [4]byte(tunnel.TunnelABI.Methods["refundDeposit"].ID),
				[4]byte(tunnel.TunnelABI.Methods["recordDeposit"].ID):
				out = append(out, stx)
			}
		}
	}
	return out
}

// sourceOf is the source hash a deposit of op carries.
func sourceOf(op wire.OutPoint) common.Hash {
	return block.SourceHash(block.DomainTunnelDeposit, op.Hash, uint64(op.Index))
}

var _ = chainhash.Hash{}

package chain

import (
	"math/big"
	"slices"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"

	"github.com/hemi-go/hemi/internal/btc/index"
	"github.com/hemi-go/hemi/internal/btc/indextest"
	"github.com/hemi-go/hemi/internal/btc/txgen"
	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/node/indexadapt"
	"github.com/hemi-go/hemi/internal/pop"
)

// rewardBTC is a regtest chain whose blocks the test writes one by one:
// block i's coinbase pays payTo[i-1].
type rewardBTC struct {
	t      *testing.T
	ch     *txgen.Chain
	ix     *index.Index
	specs  []txgen.BlockSpec
	blocks []*wire.MsgBlock
}

func (r *rewardBTC) mine(spec txgen.BlockSpec) *wire.MsgBlock {
	r.t.Helper()
	b, err := r.ch.NextBlock(spec)
	if err != nil {
		r.t.Fatal(err)
	}
	r.specs, r.blocks = append(r.specs, spec), append(r.blocks, b)
	indextest.Feed(r.t, r.ix, []*wire.MsgBlock{b})
	return b
}

// coinbaseUTXO is the first output of block height's coinbase, paid to k
// as kind.
func (r *rewardBTC) coinbaseUTXO(height int, k *txgen.Key, kind txgen.Kind) txgen.UTXO {
	cb := r.blocks[height-1].Transactions[0]
	return txgen.UTXO{OutPoint: wire.OutPoint{Hash: cb.TxHash()}, Value: cb.TxOut[0].Value, Key: k, Kind: kind}
}

func mustScript(t testing.TB, k *txgen.Key, kind txgen.Kind) []byte {
	t.Helper()
	s, err := k.PkScript(kind)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestPoPRewardsChain publishes keystone 25 in the Bitcoin chain the index
// sees (twice by one P2WPKH key, once by a P2TR key two blocks later,
// plus an unknown keystone), and checks that block 25 + RewardDelay pays
// each publisher once by the schedule, that the payment moves exactly
// the reward into each balance, that a follower re-executing the blocks
// agrees, also after the Bitcoin blocks of the publications were reorged
// out, that a block with a missing, extra or wrong reward is refused, and
// that a competing L2 branch pays its own keystone 25's publisher.
func TestPoPRewardsChain(t *testing.T) {
	const delay = 5
	w := txgen.NewWallet([]byte("pop rewards chain test"))
	k0, k1, k2 := w.Key(0), w.Key(1), w.Key(2)
	ix := indextest.Open(t, regtest, t.TempDir())
	btc := &rewardBTC{t: t, ch: txgen.NewChain(regtest), ix: ix}
	btc.mine(txgen.BlockSpec{PayTo: mustScript(t, k0, txgen.P2WPKH)})
	btc.mine(txgen.BlockSpec{PayTo: mustScript(t, k1, txgen.P2TR)})
	btc.mine(txgen.BlockSpec{PayTo: mustScript(t, k2, txgen.P2WPKH)})
	btc.mine(txgen.BlockSpec{PayTo: mustScript(t, k2, txgen.P2WPKH)})

	payA, payB := ethOf(t, k0.Priv), ethOf(t, tapPriv(k1))
	gen := testGenesis(t, viewAt(t, indexadapt.NewChain(ix), btc.blocks[0]))
	gen.Config.PoP.RewardDelay = delay
	// k1's Ethereum address holds a contract that reverts on every call:
	// its reward's receipt fails and the mint stays with SystemAddress.
	gen.Alloc[payB] = types.Account{Code: revertRuntime, Balance: new(big.Int)}
	if err := gen.Config.Validate(); err != nil {
		t.Fatal(err)
	}
	seq := newHarness(t, ix, "", gen)
	v2 := viewAt(t, seq.btc, btc.blocks[1])
	var l2 []*Block
	for range 25 + delay - 1 {
		l2 = append(l2, seq.mine(v2))
	}
	ks, err := seq.chain.KeystoneAt(25)
	if err != nil {
		t.Fatal(err)
	}
	// A second sequencer's branch forks at block 21 (a transfer makes
	// it differ), so its keystone 25 is another block with another id.
	seqB := newHarness(t, ix, "", gen)
	for _, b := range l2[:20] {
		if err := seqB.chain.InsertBlock(b); err != nil {
			t.Fatal(err)
		}
	}
	branchB := []*Block{seqB.mine(v2, seqB.transfer(userKeys[0], 0, addr(userKeys[1]), 1))}
	for range 25 + delay - 1 - 21 {
		branchB = append(branchB, seqB.mine(v2))
	}
	ksB, err := seqB.chain.KeystoneAt(25)
	if err != nil {
		t.Fatal(err)
	}
	if ksB.ID == ks.ID {
		t.Fatal("both branches have the same keystone 25")
	}

	// Bitcoin blocks 5-9: the first publication (k0, P2WPKH) in 5; k0
	// again, spending its change, in 6; k1's P2TR publication and a
	// publication of a keystone no L2 block has in 7.
	txA, feeA := popSpend(t, btc.coinbaseUTXO(1, k0, txgen.P2WPKH), ks.K)
	btc.mine(txgen.BlockSpec{PayTo: mustScript(t, k2, txgen.P2WPKH), Txs: []*wire.MsgTx{txA}, Fees: feeA})
	changeA := txgen.UTXO{OutPoint: wire.OutPoint{Hash: txA.TxHash(), Index: 1}, Value: txA.TxOut[1].Value, Key: k0, Kind: txgen.P2WPKH}
	txA2, feeA2 := popSpend(t, changeA, ks.K)
	btc.mine(txgen.BlockSpec{PayTo: mustScript(t, k2, txgen.P2WPKH), Txs: []*wire.MsgTx{txA2}, Fees: feeA2})
	txB, feeB := popSpend(t, btc.coinbaseUTXO(2, k1, txgen.P2TR), ks.K)
	unknown := pop.Keystone{Version: pop.KeystoneVersion, L2Number: 25, StateRoot: [32]byte{0xee}}
	txC, feeC := popSpend(t, btc.coinbaseUTXO(3, k2, txgen.P2WPKH), unknown)
	txD, feeD := popSpend(t, btc.coinbaseUTXO(4, k2, txgen.P2WPKH), ksB.K) // branch B's keystone
	btc.mine(txgen.BlockSpec{PayTo: mustScript(t, k2, txgen.P2WPKH), Txs: []*wire.MsgTx{txB, txC, txD}, Fees: feeB + feeC + feeD})
	btc.mine(txgen.BlockSpec{PayTo: mustScript(t, k2, txgen.P2WPKH)})
	btc.mine(txgen.BlockSpec{PayTo: mustScript(t, k2, txgen.P2WPKH)})
	v7 := viewAt(t, seq.btc, btc.blocks[6])

	// The adapter: three publications of ks as of 7, with publishers.
	pubs, err := seq.btc.Publications(ks.ID, v7.Hash)
	if err != nil {
		t.Fatal(err)
	}
	wantPubs := []struct {
		txid chainhash.Hash
		h    int32
		who  common.Address
	}{{txA.TxHash(), 5, payA}, {txA2.TxHash(), 6, payA}, {txB.TxHash(), 7, payB}}
	if len(pubs) != len(wantPubs) {
		t.Fatalf("%d publications, want %d", len(pubs), len(wantPubs))
	}
	for i, p := range pubs {
		if w := wantPubs[i]; p.Txid != w.txid || p.Height != w.h || p.Vout != 0 || p.Publisher != nil {
			t.Fatalf("publication %d: %+v, want %+v", i, p, w)
		}
		who, err := seq.btc.Publisher(p.Txid, v7.Hash)
		if err != nil || who == nil || *who != wantPubs[i].who {
			t.Fatalf("publisher %d: %v %v, want %s", i, who, err, wantPubs[i].who)
		}
	}
	// A coinbase publishes nothing identifiable.
	if who, err := seq.btc.Publisher(btc.blocks[5].Transactions[0].TxHash(), v7.Hash); err != nil || who != nil {
		t.Fatalf("coinbase publisher: %v %v", who, err)
	}

	// Block 25 + delay pays: k0 the full reward for block 5 (once), k1
	// 80% for block 7 (two blocks after the first).
	l2 = append(l2, seq.mine(v7))
	payer := l2[len(l2)-1]
	reward := genesis.DefaultReward()
	want := []*block.SystemTx{payer.Body.SystemTxs[0],
		wantReward(txA.TxHash(), payA, reward),
		wantReward(txB.TxHash(), payB, new(big.Int).Div(new(big.Int).Mul(reward, big.NewInt(80)), big.NewInt(100)))}
	if err := equalSystemTxs(want, payer.Body.SystemTxs); err != nil {
		t.Fatalf("block %d: %v", payer.NumberU64(), err)
	}
	for _, b := range l2[:len(l2)-1] {
		if len(b.Body.SystemTxs) != 1 {
			t.Fatalf("block %d carries %d system txs", b.NumberU64(), len(b.Body.SystemTxs))
		}
	}
	before, after := stateOf(t, seq, l2[len(l2)-2]), stateOf(t, seq, payer)
	grew := func(a common.Address) *big.Int {
		return new(big.Int).Sub(after.GetBalance(a).ToBig(), before.GetBalance(a).ToBig())
	}
	if got := grew(payA); got.Cmp(want[1].Value) != 0 {
		t.Fatalf("balance of %s grew by %v, want %v", payA, got, want[1].Value)
	}
	if got := grew(payB); got.Sign() != 0 {
		t.Fatalf("reverting recipient %s got %v", payB, got)
	}
	if got := grew(genesis.SystemAddress); got.Cmp(want[2].Mint) != 0 {
		t.Fatalf("system address kept %v, want the reverted reward %v", got, want[2].Mint)
	}
	rs, err := seq.chain.Receipts(payer.Hash())
	if err != nil {
		t.Fatal(err)
	}
	for i, wantStatus := range []uint64{types.ReceiptStatusSuccessful, types.ReceiptStatusSuccessful, types.ReceiptStatusFailed} {
		if rs[i].Status != wantStatus || rs[i].TxHash != want[i].Hash() {
			t.Fatalf("receipt %d: status %d tx %s, want %d %s", i, rs[i].Status, rs[i].TxHash, wantStatus, want[i].Hash())
		}
	}
	// Keystone 25 is paid once: the next block pays nothing.
	next := seq.mine(v7)
	if len(next.Body.SystemTxs) != 1 {
		t.Fatalf("block %d after the payer carries %d system txs", next.NumberU64(), len(next.Body.SystemTxs))
	}
	l2 = append(l2, next)

	// A follower at the payer's parent refuses wrong rewards.
	fol := newHarness(t, ix, "", gen)
	for _, b := range l2[:len(l2)-2] {
		if err := fol.chain.InsertBlock(b); err != nil {
			t.Fatalf("block %d: %v", b.NumberU64(), err)
		}
	}
	variant := func(mut func(stxs []*block.SystemTx) []*block.SystemTx) *Block {
		h := types.CopyHeader(payer.Header)
		body := &block.Body{Txs: slices.Clone(payer.Body.Txs)}
		for _, s := range payer.Body.SystemTxs {
			body.SystemTxs = append(body.SystemTxs, s.Copy())
		}
		body.SystemTxs = mut(body.SystemTxs)
		h.TxHash = block.TxRoot(body)
		if err := block.Seal(h, seqKey); err != nil {
			t.Fatal(err)
		}
		return &Block{Header: h, Body: body}
	}
	bad := []struct {
		name string
		mut  func([]*block.SystemTx) []*block.SystemTx
	}{
		{"missing reward", func(s []*block.SystemTx) []*block.SystemTx { return s[:2] }},
		{"no rewards", func(s []*block.SystemTx) []*block.SystemTx { return s[:1] }},
		{"extra reward for the duplicate", func(s []*block.SystemTx) []*block.SystemTx {
			return append(s, wantReward(txA2.TxHash(), payA, reward))
		}},
		{"extra reward for the unknown keystone", func(s []*block.SystemTx) []*block.SystemTx {
			return append(s, wantReward(txC.TxHash(), ethOf(t, k2.Priv), reward))
		}},
		{"full reward for a late publication", func(s []*block.SystemTx) []*block.SystemTx {
			s[2].Mint, s[2].Value = reward, reward
			return s
		}},
		{"wrong recipient", func(s []*block.SystemTx) []*block.SystemTx {
			to := addr(seqKey)
			s[1].To = &to
			return s
		}},
		{"rewards swapped", func(s []*block.SystemTx) []*block.SystemTx {
			s[1], s[2] = s[2], s[1]
			return s
		}},
		{"more gas", func(s []*block.SystemTx) []*block.SystemTx {
			s[1].Gas = params.TxGas * 100
			return s
		}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			err := fol.chain.InsertBlock(variant(tc.mut))
			wantErr(t, err, ErrBadSystemTxs)
			wantErr(t, err, ErrInvalidBlock)
			if fol.chain.Head().Hash() != l2[len(l2)-3].Hash() {
				t.Fatal("the head moved")
			}
		})
	}
	for _, b := range l2[len(l2)-2:] {
		if err := fol.chain.InsertBlock(b); err != nil {
			t.Fatalf("block %d: %v", b.NumberU64(), err)
		}
	}
	if fol.chain.Head().Hash() != seq.chain.Head().Hash() {
		t.Fatal("follower disagrees")
	}

	// Branch B's block 30 pays branch B's keystone: k2, in full (its
	// first publication). The follower verifies it as a side block, and
	// refuses a B block carrying branch A's rewards.
	payerB := seqB.mine(v7)
	wantB := []*block.SystemTx{payerB.Body.SystemTxs[0], wantReward(txD.TxHash(), ethOf(t, k2.Priv), reward)}
	if err := equalSystemTxs(wantB, payerB.Body.SystemTxs); err != nil {
		t.Fatalf("branch B's block %d: %v", payerB.NumberU64(), err)
	}
	for _, b := range branchB {
		if err := fol.chain.InsertBlock(b); err != nil {
			t.Fatalf("side block %d: %v", b.NumberU64(), err)
		}
	}
	h := types.CopyHeader(payerB.Header)
	body := &block.Body{SystemTxs: append([]*block.SystemTx{payerB.Body.SystemTxs[0]}, payer.Body.SystemTxs[1:]...)}
	h.TxHash = block.TxRoot(body)
	if err := block.Seal(h, seqKey); err != nil {
		t.Fatal(err)
	}
	err = fol.chain.InsertBlock(&Block{Header: h, Body: body})
	wantErr(t, err, ErrBadSystemTxs)
	if err := fol.chain.InsertBlock(payerB); err != nil {
		t.Fatalf("branch B's payer as a side block: %v", err)
	}
	if fol.chain.Head().Hash() != seq.chain.Head().Hash() {
		t.Fatal("the follower left branch A without a fork choice")
	}

	// Bitcoin reorgs from height 4 to a longer fork without the
	// publications: the index's best chain no longer has them, yet a new
	// node re-executing the L2 blocks (views as of block 7 of the old
	// branch) derives the same rewards.
	fork := txgen.NewChain(regtest)
	for _, s := range btc.specs[:4] {
		if _, err := fork.NextBlock(s); err != nil {
			t.Fatal(err)
		}
	}
	var side []*wire.MsgBlock
	for i := range 7 {
		b, err := fork.NextBlock(txgen.BlockSpec{PayTo: mustScript(t, k2, txgen.P2WPKH), ExtraNonce: uint64(100 + i)})
		if err != nil {
			t.Fatal(err)
		}
		side = append(side, b)
	}
	indextest.Feed(t, ix, side)
	if ps, err := seq.btc.Publications(ks.ID, chainhash.Hash{}); err != nil || len(ps) != 0 {
		t.Fatalf("publications at the new tip: %d %v", len(ps), err)
	}
	late := newHarness(t, ix, "", gen)
	for _, b := range l2 {
		if err := late.chain.InsertBlock(b); err != nil {
			t.Fatalf("after the reorg, block %d: %v", b.NumberU64(), err)
		}
	}
	if late.chain.Head().Hash() != seq.chain.Head().Hash() {
		t.Fatal("node syncing after the reorg disagrees")
	}

	// Publications as of a block the index does not know, or knows only
	// by its header, are not ready: wait, not "none".
	if _, err := seq.btc.Publications(ks.ID, chainhash.Hash{0x42}); !errorsIs(err, ErrViewNotReady) {
		t.Fatalf("unknown view: %v", err)
	}
	next12, err := fork.NextBlock(txgen.BlockSpec{PayTo: mustScript(t, k2, txgen.P2WPKH), ExtraNonce: 200})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ix.AcceptHeaders([]wire.BlockHeader{next12.Header}); err != nil {
		t.Fatal(err)
	}
	if _, err := seq.btc.Publications(ks.ID, next12.BlockHash()); !errorsIs(err, ErrViewNotReady) {
		t.Fatalf("header-only view: %v", err)
	}
}

// revertRuntime is PUSH1 0 DUP1 REVERT.
var revertRuntime = []byte{0x60, 0x00, 0x80, 0xfd}

func wantReward(txid chainhash.Hash, to common.Address, amount *big.Int) *block.SystemTx {
	return &block.SystemTx{
		SourceHash: block.SourceHash(block.DomainPoPReward, txid, 0),
		From:       genesis.SystemAddress, To: &to, Mint: amount, Value: amount, Gas: genesis.RewardGas,
	}
}

// stateOf opens the state after b.
func stateOf(t *testing.T, h *harness, b *Block) *state.StateDB {
	t.Helper()
	st, err := h.chain.StateAt(b.Header.Root)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

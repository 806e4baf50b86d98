package chain

import (
	"math/big"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/hemi-go/hemi/internal/btc/indextest"
	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/chain/rules"
	"github.com/hemi-go/hemi/internal/node/indexadapt"
)

// TestInsertValidation feeds a follower blocks that break one rule each;
// every one is refused with its kind and leaves the head where it was;
// the valid block is accepted afterwards.
func TestInsertValidation(t *testing.T) {
	f := newBTCFixture(t, 12)
	ix := indextest.Open(t, regtest, t.TempDir())
	defer ix.Close()
	indextest.Feed(t, ix, f.Blocks)
	gen := testGenesis(t, viewAt(t, indexadapt.NewChain(ix), f.Blocks[1]))
	seq := newHarness(t, ix, "", gen)
	fol := newHarness(t, ix, "", gen)
	v8 := viewAt(t, seq.btc, f.Blocks[7])
	b1 := seq.mine(v8, seq.transfer(userKeys[0], 0, addr(userKeys[1]), 1))
	if err := fol.chain.InsertBlock(b1); err != nil {
		t.Fatal(err)
	}
	good := seq.build(viewAt(t, seq.btc, f.Blocks[9]), seq.transfer(userKeys[0], 1, addr(userKeys[1]), 1), seq.transfer(userKeys[1], 0, addr(userKeys[2]), 1))
	if len(good.Skipped) != 0 {
		t.Fatal(good.Skipped[0].Err)
	}

	// variant copies the good block, applies mut, recomputes the tx root
	// when asked, and reseals with key (nil: keep the seal).
	variant := func(mut func(b *Block), retxroot bool, resealWith bool) *Block {
		h := types.CopyHeader(good.Block.Header)
		body := &block.Body{Txs: slices.Clone(good.Block.Body.Txs)}
		for _, s := range good.Block.Body.SystemTxs {
			body.SystemTxs = append(body.SystemTxs, s.Copy())
		}
		b := &Block{Header: h, Body: body}
		mut(b)
		if retxroot {
			b.Header.TxHash = block.TxRoot(b.Body)
		}
		if resealWith {
			if err := block.Seal(b.Header, seqKey); err != nil {
				t.Fatal(err)
			}
		}
		return b
	}
	setView := func(b *Block, hash chainhash.Hash, height uint32) {
		e := block.Extra{BitcoinHeight: height, BitcoinHash: hash}
		enc, err := e.Encode()
		if err != nil {
			t.Fatal(err)
		}
		b.Header.Extra, b.Header.MixDigest = enc, rules.Random(hash)
	}
	tooHigh := seq.transfer(userKeys[3], 7, addr(userKeys[1]), 1)

	tests := []struct {
		name string
		b    *Block
		want error
	}{
		{"no base fee", variant(func(b *Block) { b.Header.BaseFee = nil }, false, false), ErrBadHeader},
		{"no number", variant(func(b *Block) { b.Header.Number = nil }, false, false), ErrBadHeader},
		{"no difficulty", variant(func(b *Block) { b.Header.Difficulty = nil }, false, false), ErrBadHeader},
		{"nil user tx", variant(func(b *Block) { b.Body.Txs = append(b.Body.Txs, nil) }, false, true), ErrBadTx},
		{"sealed by another key", variant(func(b *Block) {
			if err := block.Seal(b.Header, userKeys[0]); err != nil {
				t.Fatal(err)
			}
		}, false, false), ErrBadSeal},
		{"changed after sealing", variant(func(b *Block) { b.Header.Coinbase = common.Address{1} }, false, false), ErrBadSeal},
		{"unsealed", variant(func(b *Block) { setView(b, f.Blocks[9].BlockHash(), 10) }, false, false), ErrBadSeal},
		{"unknown parent", variant(func(b *Block) { b.Header.ParentHash = common.Hash{1} }, false, true), ErrUnknownParent},
		// A side block is checked against its own parent (the genesis),
		// whose base fee differs from the head's.
		{"side block checked against its parent", variant(func(b *Block) {
			b.Header.ParentHash, b.Header.Number = genesisHeader(t, gen).Hash(), big.NewInt(1)
		}, false, true), ErrBadBaseFee},
		{"wrong number", variant(func(b *Block) { b.Header.Number = big.NewInt(3) }, false, true), ErrBadNumber},
		{"timestamp not after parent", variant(func(b *Block) { b.Header.Time = b1.Header.Time }, false, true), ErrBadTimestamp},
		{"timestamp in the future", variant(func(b *Block) {
			b.Header.Time = uint64(fol.cfg.Clock.Now().Add(time.Hour).Unix())
		}, false, true), ErrFutureBlock},
		{"gas limit jump", variant(func(b *Block) { b.Header.GasLimit += 1_000_000 }, false, true), ErrBadGasLimit},
		{"base fee", variant(func(b *Block) { b.Header.BaseFee = new(big.Int).Add(b.Header.BaseFee, big.NewInt(1)) }, false, true), ErrBadBaseFee},
		{"difficulty", variant(func(b *Block) { b.Header.Difficulty = big.NewInt(1) }, false, true), ErrBadHeader},
		{"no withdrawals hash", variant(func(b *Block) { b.Header.WithdrawalsHash = nil }, false, true), ErrBadHeader},
		{"mix digest not the view", variant(func(b *Block) { b.Header.MixDigest = common.Hash{1} }, false, true), ErrBadHeader},
		{"garbage extra", variant(func(b *Block) { b.Header.Extra = []byte{9, 9} }, false, false), ErrBadExtra},
		{"tx root", variant(func(b *Block) { slices.Reverse(b.Body.Txs) }, false, false), ErrBadTxRoot},
		{"system tx changed", variant(func(b *Block) { b.Body.SystemTxs[0].Gas++ }, true, true), ErrBadSystemTxs},
		{"system tx missing", variant(func(b *Block) { b.Body.SystemTxs = nil }, true, true), ErrBadSystemTxs},
		{"system tx added", variant(func(b *Block) { b.Body.SystemTxs = append(b.Body.SystemTxs, b.Body.SystemTxs[0].Copy()) }, true, true), ErrBadSystemTxs},
		{"user tx that cannot apply", variant(func(b *Block) { b.Body.Txs = append(b.Body.Txs, tooHigh) }, true, true), ErrBadTx},
		{"state root", variant(func(b *Block) { b.Header.Root = common.Hash{1} }, false, true), ErrStateRoot},
		{"receipts root", variant(func(b *Block) { b.Header.ReceiptHash = common.Hash{1} }, false, true), ErrReceiptRoot},
		{"gas used", variant(func(b *Block) { b.Header.GasUsed++ }, false, true), ErrGasUsed},
		{"bloom", variant(func(b *Block) { b.Header.Bloom[0] ^= 1 }, false, true), ErrBloom},
		{"view unknown", variant(func(b *Block) { setView(b, chainhash.Hash{7}, 10) }, false, true), ErrViewNotReady},
		{"view within the lag of the tip", variant(func(b *Block) { setView(b, f.Blocks[11].BlockHash(), 12) }, false, true), ErrViewNotReady},
		{"view height lies", variant(func(b *Block) { setView(b, f.Blocks[9].BlockHash(), 9) }, false, true), ErrBadView},
		{"view goes backwards", variant(func(b *Block) { setView(b, f.Blocks[4].BlockHash(), 5) }, false, true), ErrBadView},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := fol.chain.InsertBlock(tt.b)
			wantErr(t, err, tt.want)
			if tt.want != ErrViewNotReady && !errorsIs(err, ErrInvalidBlock) {
				t.Fatalf("%v does not wrap ErrInvalidBlock", err)
			}
			if tt.want == ErrViewNotReady && errorsIs(err, ErrInvalidBlock) {
				t.Fatalf("not-ready %v wraps ErrInvalidBlock", err)
			}
			if fol.chain.Head().Hash() != b1.Hash() {
				t.Fatal("the head moved")
			}
		})
	}
	wantErr(t, fol.chain.InsertBlock(nil), ErrInvalidBlock)
	wantErr(t, fol.chain.InsertBlock(&Block{Header: good.Block.Header}), ErrInvalidBlock)
	if err := fol.chain.InsertBlock(good.Block); err != nil {
		t.Fatalf("the valid block after the bad ones: %v", err)
	}
	wantErr(t, fol.chain.InsertBlock(good.Block), ErrKnownBlock)
	if _, err := fol.chain.StateAt(good.Block.Header.Root); err != nil {
		t.Fatal(err)
	}
}

// TestRulesShadowNothing: Rules embeds rules.Rules and adds the indexed
// view check under a name of its own, so every method of rules.Rules is
// reached unchanged through a Rules. A method of Rules with a rules.Rules
// name and another signature (CheckView was one) would make r.CheckView
// mean two different rules depending on the receiver's type.
func TestRulesShadowNothing(t *testing.T) {
	inner, outer := reflect.TypeOf(&rules.Rules{}), reflect.TypeOf(&Rules{})
	for i := range inner.NumMethod() {
		m := inner.Method(i)
		o, ok := outer.MethodByName(m.Name)
		if !ok {
			t.Errorf("Rules lacks rules.Rules.%s", m.Name)
			continue
		}
		if !sameParams(m.Type, o.Type) {
			t.Errorf("Rules.%s is %s, shadowing rules.Rules.%s %s: give it a name of its own", m.Name, o.Type, m.Name, m.Type)
		}
	}
}

// sameParams reports whether two method types (receiver first) take and
// return the same types after their receivers.
func sameParams(a, b reflect.Type) bool {
	if a.NumIn() != b.NumIn() || a.NumOut() != b.NumOut() || a.IsVariadic() != b.IsVariadic() {
		return false
	}
	for i := 1; i < a.NumIn(); i++ {
		if a.In(i) != b.In(i) {
			return false
		}
	}
	for i := range a.NumOut() {
		if a.Out(i) != b.Out(i) {
			return false
		}
	}
	return true
}

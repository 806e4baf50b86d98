package txpool

import (
	"errors"
	"math/big"
	"path/filepath"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/txpool"
	"github.com/ethereum/go-ethereum/core/txpool/legacypool"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
	"github.com/holiman/uint256"

	"github.com/hemi-go/hemi/internal/chain/genesis"
)

func TestPoolAdd(t *testing.T) {
	e := newEnv(t, 8, 3)
	to := common.Address{0xaa}
	k0, k1 := dev[0].Key, dev[1].Key
	tests := []struct {
		name    string
		limits  legacypool.Config
		first   func(e *env) []*types.Transaction // accepted first
		tx      func(e *env) *types.Transaction
		wantErr error
	}{
		{name: "accepted", tx: func(e *env) *types.Transaction { return e.transfer(k0, 0, to, 1, 1) }},
		{name: "replacement below the bump",
			first:   func(e *env) []*types.Transaction { return []*types.Transaction{e.transfer(k0, 0, to, 1, 10)} },
			tx:      func(e *env) *types.Transaction { return e.transfer(k0, 0, to, 2, 10) }, // same tip, fee cap +0
			wantErr: txpool.ErrReplaceUnderpriced},
		{name: "replacement by fee",
			first: func(e *env) []*types.Transaction { return []*types.Transaction{e.transfer(k0, 0, to, 1, 10)} },
			tx:    func(e *env) *types.Transaction { return e.transfer(k0, 0, to, 2, 25) }}, // tip and fee cap up >= 10%
		{name: "wrong chain id",
			tx: func(e *env) *types.Transaction {
				tx, err := types.SignNewTx(k0, types.LatestSignerForChainID(big.NewInt(1)), &types.DynamicFeeTx{ChainID: big.NewInt(1),
					GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(100 * params.GWei), Gas: params.TxGas, To: &to})
				if err != nil {
					t.Fatal(err)
				}
				return tx
			}, wantErr: txpool.ErrInvalidSender},
		{name: "blob type refused",
			tx: func(e *env) *types.Transaction {
				return types.NewTx(&types.BlobTx{ChainID: uint256.NewInt(e.spec.Config.ChainID), Gas: params.TxGas, GasFeeCap: uint256.NewInt(1)})
			}, wantErr: genesis.ErrTxType},
		{name: "intrinsic gas too low",
			tx: func(e *env) *types.Transaction {
				tx, _ := types.SignNewTx(k1, e.signer(), &types.DynamicFeeTx{ChainID: e.chain.Config().ChainConfig.ChainID,
					GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(100 * params.GWei), Gas: 20_000, To: &to})
				return tx
			}, wantErr: core.ErrIntrinsicGas},
		{name: "global limit: a cheaper tx when full",
			limits: legacypool.Config{AccountSlots: 1, GlobalSlots: 1, AccountQueue: 1, GlobalQueue: 1},
			first: func(e *env) []*types.Transaction {
				return []*types.Transaction{e.transfer(k0, 0, to, 1, 5), e.transfer(k1, 0, to, 1, 5)}
			},
			tx:      func(e *env) *types.Transaction { return e.transfer(dev[2].Key, 0, to, 1, 1) },
			wantErr: txpool.ErrUnderpriced},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := e.newPool("", Config{Limits: tc.limits})
			defer p.Close()
			if tc.first != nil {
				for i, err := range p.Add(tc.first(e)) {
					if err != nil {
						t.Fatalf("setup tx %d: %v", i, err)
					}
				}
				if err := p.Sync(); err != nil {
					t.Fatal(err)
				}
			}
			tx := tc.tx(e)
			err := p.Add([]*types.Transaction{tx})[0]
			if tc.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				if p.Get(tx.Hash()) == nil {
					t.Fatal("accepted tx not in the pool")
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestPoolPendingAndContent(t *testing.T) {
	e := newEnv(t, 8, 3)
	p := e.newPool("", Config{})
	to := common.Address{0xbb}
	txs := []*types.Transaction{e.transfer(dev[0].Key, 0, to, 1, 1), e.transfer(dev[0].Key, 1, to, 1, 1), e.transfer(dev[0].Key, 3, to, 1, 1)}
	for i, err := range p.Add(txs) {
		if err != nil {
			t.Fatalf("tx %d: %v", i, err)
		}
	}
	if err := p.Sync(); err != nil {
		t.Fatal(err)
	}
	pend := p.Pending(e.chain.Head().BaseFee)
	if got := len(pend[dev[0].Address]); got != 2 {
		t.Fatalf("%d pending, want 2 (nonce 3 waits for 2)", got)
	}
	if np, nq := p.Stats(); np != 2 || nq != 1 {
		t.Fatalf("stats %d/%d, want 2/1", np, nq)
	}
	if s := p.Status(txs[2].Hash()); s != txpool.TxStatusQueued {
		t.Fatalf("status %v, want queued", s)
	}
	if n := p.Nonce(dev[0].Address); n != 2 {
		t.Fatalf("pool nonce %d, want 2", n)
	}
}

// TestPoolJournalRestart: accepted transactions survive a restart, also
// one without Close (a kill): Add writes the journal before returning.
func TestPoolJournalRestart(t *testing.T) {
	for _, closeFirst := range []bool{true, false} {
		name := "clean stop"
		if !closeFirst {
			name = "no close (kill)"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, 8, 3)
			path := filepath.Join(t.TempDir(), "txpool", "transactions.rlp")
			p1 := e.newPool(path, Config{})
			to := common.Address{0xcc}
			txs := []*types.Transaction{e.transfer(dev[0].Key, 0, to, 1, 1), e.transfer(dev[0].Key, 1, to, 1, 2), e.transfer(dev[1].Key, 0, to, 1, 3),
				e.transfer(dev[2].Key, 4, to, 1, 1)} // queued
			for i, err := range p1.Add(txs) {
				if err != nil {
					t.Fatalf("tx %d: %v", i, err)
				}
			}
			if closeFirst {
				if err := p1.Close(); err != nil {
					t.Fatal(err)
				}
			}
			p2 := e.newPool(path, Config{})
			for _, tx := range txs {
				if !p2.Has(tx.Hash()) {
					t.Fatalf("tx %s lost over the restart", tx.Hash())
				}
			}
			if err := p2.Add([]*types.Transaction{txs[0]})[0]; !errors.Is(err, txpool.ErrAlreadyKnown) {
				t.Fatalf("re-add: %v, want already known", err)
			}
		})
	}
}

// TestPoolJournalDropsIncluded: after a restart, journaled transactions
// the chain included meanwhile are not back in the pool, and the
// rewritten journal no longer holds them.
func TestPoolJournalDropsIncluded(t *testing.T) {
	e := newEnv(t, 8, 3)
	path := filepath.Join(t.TempDir(), "transactions.rlp")
	p1 := e.newPool(path, Config{})
	to := common.Address{0xdd}
	included, waiting := e.transfer(dev[0].Key, 0, to, 1, 1), e.transfer(dev[1].Key, 3, to, 1, 1)
	for i, err := range p1.Add([]*types.Transaction{included, waiting}) {
		if err != nil {
			t.Fatalf("tx %d: %v", i, err)
		}
	}
	if err := p1.Sync(); err != nil {
		t.Fatal(err)
	}
	b, err := e.buildNext(p1)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Body.Txs) != 1 || b.Body.Txs[0].Hash() != included.Hash() {
		t.Fatalf("block holds %d txs, want the executable one", len(b.Body.Txs))
	}
	p2 := e.newPool(path, Config{})
	if p2.Has(included.Hash()) || !p2.Has(waiting.Hash()) {
		t.Fatalf("after restart: included in pool %v, waiting in pool %v", p2.Has(included.Hash()), p2.Has(waiting.Hash()))
	}
	j := &journal{path: path}
	txs, err := j.load()
	if err != nil || len(txs) != 1 || txs[0].Hash() != waiting.Hash() {
		t.Fatalf("rewritten journal holds %d txs (%v), want the waiting one", len(txs), err)
	}
}

func TestPoolAddBadInput(t *testing.T) {
	e := newEnv(t, 8, 3)
	p := e.newPool("", Config{})
	unsigned := types.NewTx(&types.DynamicFeeTx{ChainID: e.chain.Config().ChainConfig.ChainID, Gas: params.TxGas,
		GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(100 * params.GWei)})
	errs := p.Add([]*types.Transaction{nil, unsigned, e.transfer(dev[0].Key, 0, common.Address{1}, 1, 1)})
	if errs[0] == nil || errs[1] == nil || errs[2] != nil {
		t.Fatalf("errors %v: want nil tx and unsigned tx refused, the valid one accepted", errs)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Add([]*types.Transaction{e.transfer(dev[0].Key, 1, common.Address{1}, 1, 1)})[0]; !errors.Is(err, ErrClosed) {
		t.Fatalf("add after close: %v", err)
	}
}

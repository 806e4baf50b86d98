package explorer

import (
	"testing"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"

	"github.com/hemi-go/hemi/internal/btc/index"
	"github.com/hemi-go/hemi/internal/btc/indextest"
	"github.com/hemi-go/hemi/internal/btc/txgen"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/pop"
	"github.com/hemi-go/hemi/internal/tunnel"
)

// btcFixture is a regtest Bitcoin chain made in process (txgen, signed
// transactions) in a real index, the explorer's Bitcoin pages' source:
// blocks 1-3 pay the funder; block 4 holds a payment (spending block 1's
// coinbase), a PoP publication (block 2's) and a deposit to the dev
// tunnel's vault naming recipient (block 3's); blocks 5 and 6 are empty.
type btcFixture struct {
	ix                  *index.Index
	params              *chaincfg.Params
	blocks              []*wire.MsgBlock // from height 1
	pay, popTx, deposit *wire.MsgTx
	payFee, depositFee  int64
	payTo               []byte
	ks                  pop.Keystone
	tunnel              *genesis.TunnelConfig
	vault               []byte
	recipient           common.Address
}

func newBTCFixture(t testing.TB) *btcFixture {
	t.Helper()
	params := &chaincfg.RegressionNetParams
	f := &btcFixture{ix: indextest.Open(t, params, ""), params: params, recipient: common.HexToAddress("0x00000000000000000000000000000000000a11ce")}
	key := txgen.NewWallet([]byte("explorer btc fixture")).Key(0)
	funder, err := key.PkScript(txgen.P2WPKH)
	if err != nil {
		t.Fatal(err)
	}
	if f.payTo, err = txgen.NewWallet([]byte("explorer btc payee")).Key(0).PkScript(txgen.P2TR); err != nil {
		t.Fatal(err)
	}
	if f.tunnel, err = genesis.DevTunnelConfig(); err != nil {
		t.Fatal(err)
	}
	v, err := tunnel.NewVault(f.tunnel, params)
	if err != nil {
		t.Fatal(err)
	}
	f.vault = v.PkScript()
	g := txgen.NewChain(params)
	next := func(s txgen.BlockSpec) *wire.MsgBlock {
		s.PayTo = funder
		b, err := g.NextBlock(s)
		if err != nil {
			t.Fatal(err)
		}
		f.blocks = append(f.blocks, b)
		return b
	}
	for range 3 {
		next(txgen.BlockSpec{})
	}
	spend := func(height int, outs []*wire.TxOut, rate int64) (*wire.MsgTx, int64) {
		cb := f.blocks[height-1].Transactions[0]
		sp := txgen.Spend{Inputs: []txgen.UTXO{{OutPoint: wire.OutPoint{Hash: cb.TxHash()}, Value: cb.TxOut[0].Value, Key: key, Kind: txgen.P2WPKH}},
			Outputs: outs, Change: funder, FeeRate: rate}
		tx, fee, _, err := sp.Build()
		if err != nil {
			t.Fatal(err)
		}
		if err := txgen.Sign(tx, sp.Inputs); err != nil {
			t.Fatal(err)
		}
		return tx, fee
	}
	f.pay, f.payFee = spend(1, []*wire.TxOut{wire.NewTxOut(123_456_789, f.payTo)}, 7)
	f.ks = pop.Keystone{Version: pop.KeystoneVersion, BTCViewHeight: 2, L2Number: 25, StateRoot: [32]byte{1}}
	f.popTx, _ = spend(2, []*wire.TxOut{wire.NewTxOut(0, f.ks.Script())}, 3)
	f.deposit, f.depositFee = spend(3, []*wire.TxOut{wire.NewTxOut(50_000_000, f.vault), wire.NewTxOut(0, tunnel.RecipientScript(f.recipient))}, 2)
	fees := f.payFee + f.depositFee + (f.blocks[1].Transactions[0].TxOut[0].Value - f.popTx.TxOut[0].Value - f.popTx.TxOut[1].Value)
	next(txgen.BlockSpec{Txs: []*wire.MsgTx{f.pay, f.popTx, f.deposit}, Fees: fees})
	next(txgen.BlockSpec{})
	next(txgen.BlockSpec{})
	indextest.Feed(t, f.ix, f.blocks)
	return f
}

package txgen

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/database"
	_ "github.com/btcsuite/btcd/database/ffldb"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hemi-go/hemi/internal/pop"
)

// newBTCDChain opens btcd's consensus engine on a fresh ffldb database.
func newBTCDChain(t *testing.T, params *chaincfg.Params) *blockchain.BlockChain {
	t.Helper()
	db, err := database.Create("ffldb", t.TempDir(), params.Net)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	chain, err := blockchain.New(&blockchain.Config{
		DB:               db,
		ChainParams:      params,
		TimeSource:       blockchain.NewMedianTime(),
		UtxoCacheMaxSize: 16 << 20,
	})
	if err != nil {
		t.Fatal(err)
	}
	return chain
}

// testGen is a minimal sequential spender for the chain test: coinbases pay
// the wallet, matured coinbases and earlier outputs are spent with 1-3
// inputs into a payment and a change output.
type testGen struct {
	t      *testing.T
	w      *Wallet
	rng    *rand.Rand
	chain  *Chain
	pool   []UTXO
	cbs    []UTXO // coinbase outputs by height-1
	nextK  uint32
	txs    int
	kinds  map[Kind]int
	opRets int
}

func (g *testGen) key() (*Key, Kind) {
	g.nextK++
	kind := P2WPKH
	if g.nextK%2 == 0 {
		kind = P2TR
	}
	return g.w.Key(g.nextK % 64), kind
}

func (g *testGen) script() []byte {
	k, kind := g.key()
	s, err := k.PkScript(kind)
	if err != nil {
		g.t.Fatal(err)
	}
	return s
}

// block returns the next block's transactions and fees.
func (g *testGen) block(height int32) ([]*wire.MsgTx, int64) {
	var txs []*wire.MsgTx
	var fees int64
	if m := height - 100; m >= 1 {
		// Fan the matured coinbase out into pool outputs.
		cb := g.cbs[m-1]
		sp := Spend{Inputs: []UTXO{cb}, Outputs: []*wire.TxOut{wire.NewTxOut(cb.Value/3, g.script())}, Change: g.script(), FeeRate: 1}
		tx, fee := g.sign(sp)
		txs, fees = append(txs, tx), fees+fee
	}
	n := g.rng.IntN(16)
	for range n {
		if len(g.pool) < 3 {
			break
		}
		nin := 1 + g.rng.IntN(3)
		var ins []UTXO
		var total int64
		for range nin {
			i := g.rng.IntN(len(g.pool))
			ins = append(ins, g.pool[i])
			total += g.pool[i].Value
			g.pool = slices.Delete(g.pool, i, i+1)
		}
		outs := []*wire.TxOut{wire.NewTxOut(total/2, g.script())}
		switch g.rng.IntN(6) {
		case 0:
			s, err := OpReturnScript([]byte("txgen test"))
			if err != nil {
				g.t.Fatal(err)
			}
			outs = append(outs, wire.NewTxOut(0, s))
			g.opRets++
		case 1:
			ks := pop.Keystone{Version: pop.KeystoneVersion, BTCViewHeight: uint32(height), L2Number: uint32(height * 25)}
			outs = append(outs, wire.NewTxOut(0, ks.Script()))
			g.opRets++
		}
		tx, fee := g.sign(Spend{Inputs: ins, Outputs: outs, Change: g.script(), FeeRate: 1 + int64(g.rng.IntN(5))})
		txs, fees = append(txs, tx), fees+fee
	}
	return txs, fees
}

// sign builds and signs sp and adds its wallet outputs to the pool (so
// later transactions of the same block may spend them).
func (g *testGen) sign(sp Spend) (*wire.MsgTx, int64) {
	tx, fee, _, err := sp.Build()
	if err != nil {
		g.t.Fatal(err)
	}
	if err := Sign(tx, sp.Inputs); err != nil {
		g.t.Fatal(err)
	}
	for _, in := range sp.Inputs {
		g.kinds[in.Kind]++
	}
	txid := tx.TxHash()
	for i, o := range tx.TxOut {
		if o.Value == 0 {
			continue
		}
		u := g.ownerOf(o.PkScript)
		u.OutPoint = wire.OutPoint{Hash: txid, Index: uint32(i)}
		u.Value = o.Value
		g.pool = append(g.pool, u)
	}
	g.txs++
	return tx, fee
}

func (g *testGen) ownerOf(script []byte) UTXO {
	for i := range uint32(64) {
		k := g.w.Key(i)
		for _, kind := range []Kind{P2WPKH, P2TR} {
			if s, _ := k.PkScript(kind); string(s) == string(script) {
				return UTXO{Key: k, Kind: kind}
			}
		}
	}
	g.t.Fatalf("script %x is not the wallet's", script)
	return UTXO{}
}

func TestChainAcceptedByBTCD(t *testing.T) {
	params := &chaincfg.RegressionNetParams
	bc := newBTCDChain(t, params)
	g := &testGen{t: t, w: NewWallet([]byte("chain")), rng: rand.New(rand.NewPCG(1, 2)), chain: NewChain(params), kinds: map[Kind]int{}}
	const blocks = 250
	for h := int32(1); h <= blocks; h++ {
		txs, fees := g.block(h)
		k, kind := g.key()
		payTo, _ := k.PkScript(kind)
		blk, err := g.chain.NextBlock(BlockSpec{PayTo: payTo, Txs: txs, Fees: fees, ExtraNonce: uint64(h)})
		if err != nil {
			t.Fatal(err)
		}
		g.cbs = append(g.cbs, UTXO{OutPoint: wire.OutPoint{Hash: blk.Transactions[0].TxHash()}, Value: blk.Transactions[0].TxOut[0].Value, Key: k, Kind: kind})
		main, orphan, err := bc.ProcessBlock(btcutil.NewBlock(blk), blockchain.BFNone)
		if err != nil || !main || orphan {
			t.Fatalf("block %d: main %v orphan %v: %v", h, main, orphan, err)
		}
	}
	best := bc.BestSnapshot()
	if tip, h := g.chain.Tip(); best.Height != blocks || best.Hash != tip || h != blocks {
		t.Fatalf("btcd tip %d %v, builder %d %v", best.Height, best.Hash, h, tip)
	}
	if g.txs < 1000 || g.kinds[P2WPKH] < 300 || g.kinds[P2TR] < 300 || g.opRets < 50 {
		t.Fatalf("chain too thin: %d txs, inputs %v, %d OP_RETURNs", g.txs, g.kinds, g.opRets)
	}
	t.Logf("btcd accepted %d blocks, %d txs, inputs %v, %d OP_RETURNs", blocks, g.txs, g.kinds, g.opRets)

	// Each broken variant of the next block must be rejected by btcd.
	tests := []struct {
		name   string
		mutate func(b *wire.MsgBlock)
		want   blockchain.ErrorCode
	}{
		{"bad merkle root", func(b *wire.MsgBlock) { b.Header.MerkleRoot[0] ^= 1 }, blockchain.ErrBadMerkleRoot},
		{"coinbase overpays", func(b *wire.MsgBlock) { b.Transactions[0].TxOut[0].Value++ }, blockchain.ErrBadCoinbaseValue},
		{"bad signature", func(b *wire.MsgBlock) {
			w := b.Transactions[1].TxIn[0].Witness
			w[0][10] ^= 1
			cb := b.Transactions[0]
			cb.TxOut = cb.TxOut[:len(cb.TxOut)-1]
			AddWitnessCommitment(cb, b.Transactions[1:])
		}, blockchain.ErrScriptValidation},
		{"bad witness commitment", func(b *wire.MsgBlock) {
			cb := b.Transactions[0]
			cb.TxOut[len(cb.TxOut)-1].PkScript[10] ^= 1
		}, blockchain.ErrWitnessCommitmentMismatch},
	}
	txs, fees := g.block(blocks + 1)
	next, err := g.chain.NextBlock(BlockSpec{PayTo: g.script(), Txs: txs, Fees: fees})
	if err != nil {
		t.Fatal(err)
	}
	var raw bytes.Buffer
	if err := next.Serialize(&raw); err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var blk wire.MsgBlock
			if err := blk.Deserialize(bytes.NewReader(raw.Bytes())); err != nil {
				t.Fatal(err)
			}
			tc.mutate(&blk)
			if tc.want != blockchain.ErrBadMerkleRoot {
				// Keep the header consistent so the intended rule fires.
				blk.Header.MerkleRoot = TxMerkleRoot(blk.Transactions)
			}
			if err := Solve(&blk.Header, 1<<20); err != nil {
				t.Fatal(err)
			}
			_, _, err := bc.ProcessBlock(btcutil.NewBlock(&blk), blockchain.BFNone)
			var rerr blockchain.RuleError
			if !errors.As(err, &rerr) || rerr.ErrorCode != tc.want {
				t.Fatalf("got %v, want rule error %v", err, tc.want)
			}
		})
	}
	if main, _, err := bc.ProcessBlock(btcutil.NewBlock(next), blockchain.BFNone); err != nil || !main {
		t.Fatalf("unmutated next block: main %v: %v", main, err)
	}
}

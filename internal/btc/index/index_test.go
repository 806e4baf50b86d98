package index

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

var regtest = &chaincfg.RegressionNetParams

func TestSyncAndQueries(t *testing.T) {
	g := newGen(regtest)
	a, b, c := script(1), script(2), script(3)
	bs := g.chain(t, *regtest.GenesisHash, 3, a)
	cb1 := bs[0].Transactions[0].TxHash()
	tx1 := spend([]wire.OutPoint{{Hash: cb1, Index: 0}},
		&wire.TxOut{Value: 30e8, PkScript: b}, &wire.TxOut{Value: 1999e6, PkScript: a})
	b4 := g.block(t, bs[2].BlockHash(), c, tx1)
	tx2 := spend([]wire.OutPoint{{Hash: tx1.TxHash(), Index: 0}}, &wire.TxOut{Value: 29e8, PkScript: c})
	b5 := g.block(t, b4.BlockHash(), a, tx2)
	bs = append(bs, b4, b5)

	ix := openTest(t, t.TempDir(), regtest)
	defer ix.Close()

	if _, _, err := ix.AcceptHeaders(headers(bs)); err != nil {
		t.Fatal(err)
	}
	// Blocks arrive shuffled from several goroutines.
	order := rand.Perm(len(bs))
	var wg sync.WaitGroup
	for _, i := range order {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := ix.AcceptBlock(bs[i]); err != nil {
				t.Errorf("block %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	mustTip(t, ix, b5.BlockHash(), 5)

	info, err := ix.TxByID(tx1.TxHash(), chainhash.Hash{})
	if err != nil {
		t.Fatal(err)
	}
	if info.Height != 4 || info.Index != 1 || info.Confirmations != 2 || info.BlockHash != b4.BlockHash() || info.Tx.TxHash() != tx1.TxHash() {
		t.Fatalf("TxByID: %+v", info)
	}
	// As of block 3 the tx does not exist yet.
	if _, err := ix.TxByID(tx1.TxHash(), bs[2].BlockHash()); !isErr(err, ErrNotFound) {
		t.Fatalf("TxByID as of 3: %v", err)
	}

	balances := []struct {
		name   string
		script []byte
		asOf   chainhash.Hash
		want   int64
	}{
		{"A at tip", a, chainhash.Hash{}, 50e8*2 + 1999e6 + 50e8},
		{"A as of 3", a, bs[2].BlockHash(), 150e8},
		{"A as of 4", a, b4.BlockHash(), 100e8 + 1999e6},
		{"B at tip (spent)", b, chainhash.Hash{}, 0},
		{"B as of 4", b, b4.BlockHash(), 30e8},
		{"C at tip", c, chainhash.Hash{}, 50e8 + 29e8},
	}
	for _, tc := range balances {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ix.Balance(tc.script, tc.asOf)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("balance %d, want %d", got, tc.want)
			}
		})
	}

	us, err := ix.UTXOs(a, 0, 10, chainhash.Hash{})
	if err != nil {
		t.Fatal(err)
	}
	if len(us) != 4 || us[0].Height != 2 || us[1].Height != 3 || us[2].Height != 4 || us[2].Outpoint.Hash != tx1.TxHash() || us[3].Height != 5 {
		t.Fatalf("UTXOs: %+v", us)
	}
	page, err := ix.UTXOs(a, 1, 3, chainhash.Hash{})
	if err != nil || len(page) != 1 || page[0] != us[3] {
		t.Fatalf("page 1: %+v %v", page, err)
	}

	sp, err := ix.SpendOf(wire.OutPoint{Hash: tx1.TxHash(), Index: 0}, chainhash.Hash{})
	if err != nil || sp.Txid != tx2.TxHash() || sp.Height != 5 || sp.Input != 0 || sp.Index != 1 {
		t.Fatalf("SpendOf: %+v %v", sp, err)
	}
	if _, err := ix.SpendOf(wire.OutPoint{Hash: tx1.TxHash(), Index: 0}, b4.BlockHash()); !isErr(err, ErrNotFound) {
		t.Fatalf("SpendOf as of 4: %v", err)
	}

	h, err := ix.HeaderByHeight(4, chainhash.Hash{})
	if err != nil || h.Hash != b4.BlockHash() || !h.MainChain || h.Work.Int64() != 10 {
		t.Fatalf("HeaderByHeight: %+v %v", h, err)
	}
	if _, err := ix.HeaderByHeight(5, b4.BlockHash()); !isErr(err, ErrNotFound) {
		t.Fatalf("HeaderByHeight above as-of: %v", err)
	}
	if _, err := ix.HeaderByHash(b5.BlockHash(), b4.BlockHash()); !isErr(err, ErrNotFound) {
		t.Fatalf("HeaderByHash above as-of: %v", err)
	}
	if _, err := ix.TxByID(tx1.TxHash(), chainhash.Hash{1}); !isErr(err, ErrUnknownBlock) {
		t.Fatalf("unknown as-of: %v", err)
	}
}

func TestEventsInOrder(t *testing.T) {
	g := newGen(regtest)
	ix := openTest(t, t.TempDir(), regtest)
	defer ix.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := ix.Subscribe(ctx, ix.NextEventSeq())
	bs := g.chain(t, *regtest.GenesisHash, 5, script(1))
	feed(t, ix, bs)
	for i, b := range bs {
		select {
		case e := <-ch:
			if e.Kind != EventConnected || e.Hash != b.BlockHash() || e.Height != int32(i+1) || e.Seq != uint64(i) {
				t.Fatalf("event %d: %+v", i, e)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no event")
		}
	}
}

// TestDuplicateTxid: a coinbase repeating an earlier coinbase's txid (as
// twice on mainnet before BIP30) overwrites the earlier outputs.
func TestDuplicateTxid(t *testing.T) {
	g := newGen(regtest)
	a := script(1)
	bs := g.chain(t, *regtest.GenesisHash, 2, a)
	dup := g.block(t, bs[1].BlockHash(), a)
	dup.Transactions[0] = bs[0].Transactions[0].Copy()
	dup.Header.MerkleRoot = dup.Transactions[0].TxHash()
	solve(&dup.Header)
	g.blocks[dup.BlockHash()] = dup
	g.height[dup.BlockHash()] = 3
	txid := dup.Transactions[0].TxHash()
	duplicateTxids[txid] = struct{}{}
	defer delete(duplicateTxids, txid)

	ix := openTest(t, t.TempDir(), regtest)
	defer ix.Close()
	feed(t, ix, append(bs, dup))
	mustTip(t, ix, dup.BlockHash(), 3)
	if got, err := ix.Balance(a, chainhash.Hash{}); err != nil || got != 100e8 {
		t.Fatalf("balance with duplicate coinbase: %d %v", got, err)
	}
	if got, err := ix.Balance(a, bs[1].BlockHash()); err != nil || got != 100e8 {
		t.Fatalf("balance before the duplicate: %d %v", got, err)
	}
	info, err := ix.TxByID(txid, chainhash.Hash{})
	if err != nil || info.Height != 3 {
		t.Fatalf("TxByID picks the later copy: %+v %v", info, err)
	}
}

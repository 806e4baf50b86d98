package hvm

import (
	"testing"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/database"
	_ "github.com/btcsuite/btcd/database/ffldb"
)

// TestFixtureIsValidBitcoin feeds the fixture chain and its fork to btcd's
// consensus engine (scripts, amounts, maturity, witness commitments): the
// golden vectors describe a real regtest chain, not made-up data.
func TestFixtureIsValidBitcoin(t *testing.T) {
	f, _, _ := sharedFixture(t)
	db, err := database.Create("ffldb", t.TempDir(), regtest.Net)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	bc, err := blockchain.New(&blockchain.Config{
		DB:               db,
		ChainParams:      regtest,
		TimeSource:       blockchain.NewMedianTime(),
		UtxoCacheMaxSize: 16 << 20,
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range append(f.blocks, f.fork(t)...) {
		if _, orphan, err := bc.ProcessBlock(btcutil.NewBlock(b), blockchain.BFNone); err != nil || orphan {
			t.Fatalf("block %d (%s): orphan %v, %v", i, b.BlockHash(), orphan, err)
		}
	}
	if tip := bc.BestSnapshot(); tip.Height != 107 {
		t.Fatalf("btcd tip at %d, want the fork's 107", tip.Height)
	}
}

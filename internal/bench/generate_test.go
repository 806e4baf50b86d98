package bench

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/database"
	_ "github.com/btcsuite/btcd/database/ffldb"

	"github.com/hemi-go/hemi/internal/btc/txgen"
)

func generateFile(t *testing.T, cfg GenConfig) ([]byte, GenStats) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "g.chain")
	w, err := NewChainWriter(path, regtest.Net, *regtest.GenesisHash)
	if err != nil {
		t.Fatal(err)
	}
	st, err := Generate(context.Background(), cfg, w)
	if err != nil {
		w.Abort()
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data, st
}

// TestGeneratedChainValid feeds a generated chain to btcd's consensus
// engine (full script validation) and checks its shape.
func TestGeneratedChainValid(t *testing.T) {
	cfg := GenConfig{Params: regtest, Blocks: 160, Txs: 3000, Seed: "test", Workers: 2}
	if raceEnabled {
		cfg.Blocks, cfg.Txs = 125, 800
	}
	data, st := generateFile(t, cfg)
	c, err := DecodeChainFile(data, regtest.Net, *regtest.GenesisHash)
	if err != nil {
		t.Fatal(err)
	}
	if c.Blocks() != cfg.Blocks {
		t.Fatalf("%d blocks, want %d", c.Blocks(), cfg.Blocks)
	}
	// Fan-out transactions of matured coinbases come on top of cfg.Txs.
	fanouts := uint64(cfg.Blocks - 100)
	if want := uint64(cfg.Blocks) + uint64(cfg.Txs) + fanouts; c.Txs() != want || st.Txs != want {
		t.Fatalf("file has %d txs, stats %d, want %d", c.Txs(), st.Txs, want)
	}
	if st.Inputs[txgen.P2WPKH] < cfg.Txs/3 || st.Inputs[txgen.P2TR] < cfg.Txs/3 || st.OpReturns == 0 || st.PoPs == 0 {
		t.Fatalf("shape: inputs %v, %d OP_RETURNs, %d PoPs", st.Inputs, st.OpReturns, st.PoPs)
	}

	db, err := database.Create("ffldb", t.TempDir(), regtest.Net)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	bc, err := blockchain.New(&blockchain.Config{DB: db, ChainParams: regtest, TimeSource: blockchain.NewMedianTime(), UtxoCacheMaxSize: 32 << 20})
	if err != nil {
		t.Fatal(err)
	}
	for h := int32(1); h <= c.Blocks(); h++ {
		raw, _ := c.Raw(h)
		b, err := btcutil.NewBlockFromBytes(raw)
		if err != nil {
			t.Fatal(err)
		}
		if main, orphan, err := bc.ProcessBlock(b, blockchain.BFNone); err != nil || !main || orphan {
			t.Fatalf("block %d: main %v orphan %v: %v", h, main, orphan, err)
		}
	}
	tip, _ := c.Hash(c.Blocks())
	if best := bc.BestSnapshot(); best.Hash != tip {
		t.Fatalf("btcd tip %v, file tip %v", best.Hash, tip)
	}
}

func TestGenerateDeterministic(t *testing.T) {
	cfg := GenConfig{Params: regtest, Blocks: 115, Txs: 400, Seed: "det", Workers: 3}
	if raceEnabled {
		cfg.Txs = 100
	}
	a, _ := generateFile(t, cfg)
	cfg.Workers = 1
	b, _ := generateFile(t, cfg)
	if !bytes.Equal(a, b) {
		t.Fatal("same parameters gave different chains")
	}
	cfg.Seed = "other"
	if c, _ := generateFile(t, cfg); bytes.Equal(a, c) {
		t.Fatal("different seeds gave the same chain")
	}
}

func TestGenConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  GenConfig
	}{
		{"no params", GenConfig{Blocks: 200, Txs: 10}},
		{"too few blocks", GenConfig{Params: regtest, Blocks: 50, Txs: 10}},
		{"negative txs", GenConfig{Params: regtest, Blocks: 200, Txs: -1}},
		{"too many txs", GenConfig{Params: regtest, Blocks: 200, Txs: 100*maxBlockTxs + 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Generate(context.Background(), tc.cfg, nil); !errors.Is(err, ErrGenConfig) {
				t.Fatalf("got %v, want ErrGenConfig", err)
			}
		})
	}
}

// BenchmarkGenerate measures chain generation (planning, signing on all
// cores, block assembly and writing), reported in transactions per second.
func BenchmarkGenerate(b *testing.B) {
	cfg := GenConfig{Params: regtest, Blocks: 120, Txs: 4000, Seed: "bench"}
	var txs uint64
	for b.Loop() {
		w, err := NewChainWriter(filepath.Join(b.TempDir(), "b.chain"), regtest.Net, *regtest.GenesisHash)
		if err != nil {
			b.Fatal(err)
		}
		st, err := Generate(context.Background(), cfg, w)
		w.Abort()
		if err != nil {
			b.Fatal(err)
		}
		txs += st.Txs
	}
	b.ReportMetric(float64(txs)/b.Elapsed().Seconds(), "tx/s")
}

func TestGenerateCanceled(t *testing.T) {
	for _, after := range []time.Duration{0, 50 * time.Millisecond, 300 * time.Millisecond} {
		t.Run(after.String(), func(t *testing.T) {
			w, err := NewChainWriter(filepath.Join(t.TempDir(), "c.chain"), regtest.Net, *regtest.GenesisHash)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Abort()
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(after, cancel)
			done := make(chan error, 1)
			go func() {
				_, err := Generate(ctx, GenConfig{Params: regtest, Blocks: 2000, Txs: 500_000, Seed: "cancel"}, w)
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("got %v, want context.Canceled", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("Generate did not return after cancel")
			}
		})
	}
}

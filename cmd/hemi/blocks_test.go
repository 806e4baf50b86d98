package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/hemi-go/hemi/internal/btc/indextest"
	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/node"
)

// TestExportImportCommands: `hemi export` writes the chain of a node's
// data directory to a gzip file and `hemi import` inserts it into
// another data directory (holding the same Bitcoin index) up to the same
// head; importing again skips every block; bad arguments are errors.
func TestExportImportCommands(t *testing.T) {
	seq, err := crypto.ToECDSA(crypto.Keccak256([]byte("export test sequencer")))
	if err != nil {
		t.Fatal(err)
	}
	seqAddr := crypto.PubkeyToAddress(seq.PublicKey)
	src, dst := t.TempDir(), t.TempDir()
	params := &chaincfg.RegressionNetParams
	btcChain := indextest.NewChain(t, params, []byte("export test"), 5)
	ix := indextest.Open(t, params, filepath.Join(src, "regtest", "tbc"))
	indextest.Feed(t, ix, btcChain.Blocks)
	btc := node.NewBitcoin(ix)
	v, err := btc.MainChainAt(1)
	if err != nil {
		t.Fatal(err)
	}
	gf, _, err := genesis.DevnetFile(seqAddr, genesis.BitcoinBlock{Height: v.Height, Hash: v.Hash}, 1700000000)
	if err != nil {
		t.Fatal(err)
	}
	data, err := gf.Encode()
	if err != nil {
		t.Fatal(err)
	}
	genesisFile := filepath.Join(t.TempDir(), "genesis.json")
	if err := os.WriteFile(genesisFile, data, 0o644); err != nil {
		t.Fatal(err)
	}
	cfgFile := writeConfig(t, "genesis = \""+genesisFile+"\"\n")
	spec, err := node.GenesisSpec(gf, btc)
	if err != nil {
		t.Fatal(err)
	}
	c, err := node.OpenChain(spec, btc, node.ChainOptions{Dir: filepath.Join(src, "regtest", "l2"), NoSync: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	for range 30 {
		head := c.Head()
		b, err := c.BuildBlock(chain.BuildParams{Parent: head, Time: head.Time + 2, View: spec.View, Coinbase: seqAddr, Txs: types.Transactions{}})
		if err != nil {
			t.Fatal(err)
		}
		if err := block.Seal(b.Block.Header, seq); err != nil {
			t.Fatal(err)
		}
		if err := c.CommitBuilt(b); err != nil {
			t.Fatal(err)
		}
	}
	want := c.Head().Hash()
	c.Close()
	ix.Close()
	// The other node has the same Bitcoin index and no L2 chain.
	if err := os.CopyFS(filepath.Join(dst, "regtest", "tbc"), os.DirFS(filepath.Join(src, "regtest", "tbc"))); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) error {
		app := newApp()
		app.Writer, app.ErrWriter = io.Discard, io.Discard
		return app.Run(context.Background(), append([]string{"hemi", "--config", cfgFile, "--log-level", "error"}, args...))
	}
	file := filepath.Join(t.TempDir(), "blocks.rlp.gz")
	if err := run("--datadir", src, "export", "--network", "regtest", file); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second import skips every block
		if err := run("--datadir", dst, "import", "--network", "regtest", file); err != nil {
			t.Fatal(err)
		}
	}
	ix2 := indextest.Open(t, params, filepath.Join(dst, "regtest", "tbc"))
	c2, err := node.OpenChain(spec, node.NewBitcoin(ix2), node.ChainOptions{Dir: filepath.Join(dst, "regtest", "l2"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	got := c2.Head()
	c2.Close()
	ix2.Close()
	if got.Number.Uint64() != 30 || got.Hash() != want {
		t.Fatalf("imported head %d %s, want 30 %s", got.Number, got.Hash(), want)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--datadir", src, "export", "--network", "regtest"}, "one FILE"},
		{[]string{"--datadir", src, "export", "--network", "regtest", "--to", "31", file + "2"}, "above the head"},
		{[]string{"--datadir", t.TempDir(), "export", "--network", "regtest", file + "3"}, "no L2 chain"},
		{[]string{"--datadir", dst, "import", "--network", "regtest", file + ".missing"}, "no such file"},
	} {
		if err := run(tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("hemi %s: %v, want an error with %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
}

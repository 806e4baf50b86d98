package devnettest

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/hemi-go/hemi/internal/devnet"
	"github.com/hemi-go/hemi/internal/popm"
)

// TestStack: the harness without a PoP miner: manual mining waits for the
// indexer, empty blocks are empty, L2 blocks and their arrival are
// recorded, the RPC answers, waits fail with the cause, and Close stops
// everything, removes its temporary directory and is idempotent.
func TestStack(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a regtest node, an indexer and an L2")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := StartStack(ctx, StackConfig{L2BlockTime: time.Second, KeystoneInterval: 2, RPC: true, PoPM: devnet.PoPMConfig{Off: true}})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			s.Close()
		}
	}()
	if _, h := s.BTC.Tip(); h != StackInitialBlocks || s.Wallet != nil || s.Miner != nil {
		t.Fatalf("start: height %d (want %d), wallet %v, miner %v", h, StackInitialBlocks, s.Wallet, s.Miner)
	}
	hs, err := s.MineBTC(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if ix, _ := s.TBC.Index().BlockTip(); len(hs) != 2 || ix != hs[1] {
		t.Fatalf("mined %v; the index tip %s is not the last", hs, ix)
	}
	empty, err := s.MineEmptyBTC(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := s.BTC.Block(empty[0]); err != nil || len(b.Transactions) != 1 {
		t.Fatalf("empty block: %v, %v", b, err)
	}
	if n := s.MinedBTC(); n != 3 {
		t.Fatalf("MinedBTC = %d, want 3", n)
	}

	h, err := s.WaitL2(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	at, hash, ok := s.SealedAt(2)
	if !ok || hash != h.Hash() || at.IsZero() {
		t.Fatalf("SealedAt(2) = %s %s %v, want block %s", at, hash, ok, h.Hash())
	}
	if _, _, ok := s.SealedAt(1 << 40); ok {
		t.Fatal("SealedAt of a block never made")
	}
	rc, err := gethrpc.DialContext(ctx, s.RPCURL)
	if err != nil {
		t.Fatal(err)
	}
	var bn hexutil.Uint64
	if err := rc.CallContext(ctx, &bn, "eth_blockNumber"); err != nil || bn < 2 {
		t.Fatalf("eth_blockNumber = %d, %v", bn, err)
	}
	rc.Close()
	if f, err := s.Finality(2); err != nil || f.Published || f.KeystoneNumber != 2 {
		t.Fatalf("finality of block 2 (never published): %+v, %v", f, err)
	}

	short, stop := context.WithTimeout(ctx, 50*time.Millisecond)
	defer stop()
	if _, err := s.WaitEvent(short, 0, popm.NotePublished, 2); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitEvent without a miner: %v, want a deadline error", err)
	}
	if evs := s.Events(0); len(evs) != 0 {
		t.Fatalf("events without a miner: %v", evs)
	}

	dir := s.Dir()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	closed = true
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("temporary dir %s after Close: %v", dir, err)
	}
	if err := s.WaitFor(ctx, "something after Close", func() bool { return false }); !errors.Is(err, ErrStack) {
		t.Fatalf("WaitFor after Close: %v, want ErrStack", err)
	}
}

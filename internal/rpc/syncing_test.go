package rpc

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/ethereum/go-ethereum/ethclient"
)

// fakeSync is a catch-up whose progress the test sets.
type fakeSync struct {
	syncing                    atomic.Bool
	starting, current, highest uint64
}

func (f *fakeSync) SyncProgress() (uint64, uint64, uint64, bool) {
	return f.starting, f.current, f.highest, f.syncing.Load()
}

// TestSyncing: eth_syncing answers false without a sync source and when
// no sync runs, and the progress object (as ethclient decodes it) while
// one runs.
func TestSyncing(t *testing.T) {
	fs := &fakeSync{starting: 3, current: 1500, highest: 10_000}
	e := newEnv(t, Config{Sync: fs})
	ec := ethclient.NewClient(e.rc)
	ctx := context.Background()
	if p, err := ec.SyncProgress(ctx); err != nil || p != nil {
		t.Fatalf("not syncing: %+v, %v", p, err)
	}
	fs.syncing.Store(true)
	p, err := ec.SyncProgress(ctx)
	if err != nil || p == nil {
		t.Fatalf("syncing: %+v, %v", p, err)
	}
	if p.StartingBlock != 3 || p.CurrentBlock != 1500 || p.HighestBlock != 10_000 {
		t.Fatalf("progress %+v, want 3, 1500, 10000", p)
	}
	var raw map[string]string
	if err := e.rc.Call(&raw, "eth_syncing"); err != nil {
		t.Fatal(err)
	}
	if raw["startingBlock"] != "0x3" || raw["currentBlock"] != "0x5dc" || raw["highestBlock"] != "0x2710" {
		t.Fatalf("eth_syncing %v", raw)
	}
}

package popm

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hemi-go/hemi/internal/pop"
)

// heldBitcoin is a Bitcoin whose chain stays at one tip with one coin of
// the wallet, and whose broadcasts are all held until release is closed:
// peers that take their time to answer.
type heldBitcoin struct {
	coin    Coin
	release chan struct{}
	mu      sync.Mutex
	begun   []chainhash.Hash
}

func (b *heldBitcoin) Tip(context.Context) (chainhash.Hash, int32, error) {
	return chainhash.Hash{0xb1}, 100, nil
}

func (b *heldBitcoin) TipChanges(ctx context.Context) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		<-ctx.Done()
		close(ch)
	}()
	return ch
}

func (b *heldBitcoin) Coins(context.Context, []byte, chainhash.Hash) ([]Coin, error) {
	return []Coin{b.coin}, nil
}

func (b *heldBitcoin) Mined(context.Context, chainhash.Hash, chainhash.Hash) (Mined, bool, error) {
	return Mined{}, false, nil
}

func (b *heldBitcoin) Spender(context.Context, wire.OutPoint, chainhash.Hash) (chainhash.Hash, bool, error) {
	return chainhash.Hash{}, false, nil
}

func (b *heldBitcoin) FeeRate(context.Context, int) (int64, error) { return 1, nil }

func (b *heldBitcoin) Broadcast(ctx context.Context, tx *wire.MsgTx) (Verdict, string, error) {
	b.mu.Lock()
	b.begun = append(b.begun, tx.TxHash())
	b.mu.Unlock()
	select {
	case <-b.release:
		return VerdictAccepted, "released", nil
	case <-ctx.Done():
		return VerdictUnknown, "", ctx.Err()
	}
}

func (b *heldBitcoin) started() []chainhash.Hash {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.begun)
}

// TestMinerBroadcastsDoNotHoldBack: while the broadcast of one keystone's
// transaction waits for its peers, the next keystone is published and its
// broadcast starts, without waiting for the first.
func TestMinerBroadcastsDoNotHoldBack(t *testing.T) {
	w := testWallet(t)
	btc := &heldBitcoin{coin: Coin{OutPoint: wire.OutPoint{Hash: chainhash.Hash{0xc0}}, Value: 1_000_000}, release: make(chan struct{})}
	ks := chanKeystones{ch: make(chan pop.L2Keystone)}
	events := make(chan Event, 100)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := runMinerConfig(t, ctx, Config{Wallet: w, Keystones: ks, Bitcoin: btc, DataDir: t.TempDir(), Tick: time.Hour}, events)
	defer stop()
	defer close(btc.release) // before stop: the held broadcasts end

	ks.ch <- testKS(1)
	first := nextEvent(t, events, NotePublished)
	waitFor(t, "the first broadcast to start", func() bool { return len(btc.started()) == 1 })
	ks.ch <- testKS(2)
	second := nextEvent(t, events, NotePublished)
	if second.KeystoneID != testKS(2).ID {
		t.Fatalf("published %+v, want keystone 2", second)
	}
	waitFor(t, "the second broadcast to start while the first waits", func() bool { return len(btc.started()) == 2 })
	if got := btc.started(); got[0] != first.Txid || got[1] != second.Txid {
		t.Fatalf("broadcasts %v, want %s then %s", got, first.Txid, second.Txid)
	}
}

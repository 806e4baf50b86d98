package chain

import (
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/core/types"
)

// TestSenderCache: entries are the cache's own recoveries, bounded
// (least recently used forgotten first), used only by an equal signer;
// a transaction tampered with after signing has another hash and misses
// (and recovers to another address), so no entry can answer for it.
func TestSenderCache(t *testing.T) {
	src := newForkScenario(t, "", nil)
	signer := src.signer()
	txs := []*types.Transaction{src.transfer(userKeys[0], 0, toA, 1), src.transfer(userKeys[1], 0, toA, 1), src.transfer(userKeys[2], 0, toA, 1)}
	c := NewSenderCache(2)
	for _, tx := range txs {
		if _, err := c.Add(signer, tx); err != nil {
			t.Fatal(err)
		}
	}
	if c.Len() != 2 || c.Contains(txs[0].Hash()) || !c.Contains(txs[2].Hash()) {
		t.Fatalf("cache of 2 after 3 adds: len %d, first kept %v, last kept %v", c.Len(), c.Contains(txs[0].Hash()), c.Contains(txs[2].Hash()))
	}
	bad, err := txs[1].WithSignature(signer, make([]byte, 65))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Add(signer, bad); err == nil || c.Contains(bad.Hash()) {
		t.Fatalf("a signature that does not recover: err %v, cached %v", err, c.Contains(bad.Hash()))
	}

	// A hit: the sender is the signer's and lands in the transaction, so
	// the execution's types.Sender(inner, tx) finds it there.
	w := c.Signer(signer)
	tx := freshTx(t, txs[2])
	from, err := types.Sender(w, tx)
	if err != nil || from != addr(userKeys[2]) {
		t.Fatalf("hit: %s %v, want %s", from, err, addr(userKeys[2]))
	}
	if h, m := c.Stats(); h != 1 || m != 0 {
		t.Fatalf("stats after a hit: %d hits %d misses", h, m)
	}
	if again, err := types.Sender(signer, tx); err != nil || again != from {
		t.Fatalf("inner signer after the wrapper: %s %v", again, err)
	}
	if h, m := c.Stats(); h != 1 || m != 0 {
		t.Fatalf("the inner signer looked up the cache again: %d hits %d misses", h, m)
	}
	// A miss: recovered by the inner signer.
	if from, err := types.Sender(w, freshTx(t, txs[0])); err != nil || from != addr(userKeys[0]) {
		t.Fatalf("miss: %s %v", from, err)
	}
	// A tampered transaction: same signature, another value.
	v, r, sv := txs[2].RawSignatureValues()
	to := *txs[2].To()
	dyn := &types.DynamicFeeTx{ChainID: txs[2].ChainId(), Nonce: txs[2].Nonce(), GasTipCap: txs[2].GasTipCap(), GasFeeCap: txs[2].GasFeeCap(),
		Gas: txs[2].Gas(), To: &to, Value: big.NewInt(2), V: v, R: r, S: sv}
	tampered := types.NewTx(dyn)
	if tampered.Hash() == txs[2].Hash() || c.Contains(tampered.Hash()) {
		t.Fatal("a tampered transaction has the original's hash")
	}
	if from, err := types.Sender(w, tampered); err == nil && from == addr(userKeys[2]) {
		t.Fatal("a tampered transaction recovered to the original sender")
	}
	// Another chain id's signer misses the entry.
	other := types.LatestSignerForChainID(new(big.Int).Add(src.cfg.ChainConfig.ChainID, big.NewInt(1)))
	if _, err := types.Sender(c.Signer(other), freshTx(t, txs[2])); err == nil {
		t.Fatal("another chain's signer accepted the transaction: the entry answered for it")
	}
	if h, m := c.Stats(); h != 1 || m != 3 {
		t.Fatalf("stats at the end: %d hits %d misses, want 1 and 3", h, m)
	}
	var nilCache *SenderCache
	if nilCache.Signer(signer) != signer {
		t.Fatal("a nil cache's Signer is not the inner signer")
	}
}

// TestSenderCacheInsert: a chain whose SenderCache holds the senders of
// some blocks' transactions takes them from it (counted as hits, by
// InsertBlock alone and through Prepare) and recovers the others (a
// transaction never announced), and ends on the same head and state
// root as a chain without a cache.
func TestSenderCacheInsert(t *testing.T) {
	src := newForkScenario(t, "", nil)
	a := src.grow(src.chain.Genesis(), 4, userKeys[0], toA)
	plain := src.open(t, "").chain
	cache := NewSenderCache(0)
	cfg := src.cfg
	cfg.Dir, cfg.SenderCache = "", cache
	cached, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cached.Close() })
	for _, b := range freshBlocks(t, a[:3]) { // a[3]'s transaction is never announced
		for _, tx := range b.Body.Txs {
			if _, err := cache.Add(src.signer(), tx); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, b := range freshBlocks(t, a) {
		if err := plain.InsertBlock(b); err != nil {
			t.Fatal(err)
		}
	}
	for i, b := range freshBlocks(t, a) {
		if i == 1 {
			cached.Prepare(b)
		}
		if err := cached.InsertBlock(b); err != nil {
			t.Fatal(err)
		}
	}
	if h1, h2 := plain.Head(), cached.Head(); h1.Hash() != h2.Hash() || h1.Root != h2.Root {
		t.Fatalf("heads: plain %d %s, cached %d %s", h1.Number, h1.Hash(), h2.Number, h2.Hash())
	}
	if h, m := cache.Stats(); h != 3 || m != 1 {
		t.Fatalf("insertions: %d hits %d misses, want 3 hits (announced) and 1 miss (never announced)", h, m)
	}
}

package rpc

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/hemi-go/hemi/internal/btc/index"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/finality"
	"github.com/hemi-go/hemi/internal/pop"
)

// popIndex is a Bitcoin event source for the finality service: the test
// connects and disconnects blocks holding real PoP outputs.
type popIndex struct {
	mu     sync.Mutex
	blocks map[chainhash.Hash]*wire.MsgBlock
	stack  []chainhash.Hash
	events chan index.Event
	seq    uint64
}

func newPopIndex() *popIndex {
	return &popIndex{blocks: map[chainhash.Hash]*wire.MsgBlock{}, events: make(chan index.Event, 64)}
}

func (p *popIndex) Subscribe(ctx context.Context, _ uint64) <-chan index.Event { return p.events }
func (p *popIndex) SeqAfter(chainhash.Hash) (uint64, error)                    { return 0, nil }
func (p *popIndex) HeaderByHeight(h int32, _ chainhash.Hash) (index.HeaderInfo, error) {
	return index.HeaderInfo{}, fmt.Errorf("height %d: %w", h, index.ErrNotFound)
}

func (p *popIndex) Block(hash chainhash.Hash) (*wire.MsgBlock, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	b, ok := p.blocks[hash]
	if !ok {
		return nil, index.ErrNotFound
	}
	return b, nil
}

func (p *popIndex) BlockTip() (chainhash.Hash, int32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.stack) == 0 {
		return chainhash.Hash{}, -1
	}
	return p.stack[len(p.stack)-1], int32(len(p.stack) - 1)
}

// connect adds a block publishing ks (one tx each, after a coinbase).
func (p *popIndex) connect(ks ...*pop.L2Keystone) {
	p.mu.Lock()
	b := wire.NewMsgBlock(&wire.BlockHeader{Nonce: uint32(len(p.blocks))})
	cb := wire.NewMsgTx(1)
	cb.AddTxIn(&wire.TxIn{SignatureScript: []byte{byte(len(p.blocks)), 1}})
	cb.AddTxOut(wire.NewTxOut(1, []byte{0x51}))
	b.AddTransaction(cb)
	for _, k := range ks {
		tx := wire.NewMsgTx(2)
		tx.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Index: uint32(len(p.blocks))}})
		tx.AddTxOut(wire.NewTxOut(0, k.K.Script()))
		b.AddTransaction(tx)
	}
	b.Header.PrevBlock = chainhash.Hash{}
	if len(p.stack) > 0 {
		b.Header.PrevBlock = p.stack[len(p.stack)-1]
	}
	h := b.BlockHash()
	p.blocks[h] = b
	p.stack = append(p.stack, h)
	ev := index.Event{Seq: p.seq, Kind: index.EventConnected, Hash: h, Height: int32(len(p.stack) - 1)}
	p.seq++
	p.mu.Unlock()
	p.events <- ev
}

func (p *popIndex) disconnect() {
	p.mu.Lock()
	h := p.stack[len(p.stack)-1]
	p.stack = p.stack[:len(p.stack)-1]
	ev := index.Event{Seq: p.seq, Kind: index.EventDisconnected, Hash: h, Height: int32(len(p.stack))}
	p.seq++
	p.mu.Unlock()
	p.events <- ev
}

// newPopEnv is a test server with a running finality service of depth 3
// over a popIndex.
func newPopEnv(t *testing.T) (*testEnv, *finality.Service, *popIndex) {
	t.Helper()
	pix := newPopIndex()
	svc, err := finality.New(finality.Config{Index: pix, PoP: genesis.PoPConfig{SuperfinalDepth: 3},
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, Config{Finality: svc})
	svc.Bind(e.chain)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("finality: %v", err)
		}
	})
	return e, svc, pix
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (e *testEnv) tagNumber(t *testing.T, tag string) uint64 {
	t.Helper()
	var h struct {
		Number hexutil.Uint64 `json:"number"`
	}
	if err := e.rc.Call(&h, "eth_getBlockByNumber", tag, false); err != nil {
		t.Fatal(err)
	}
	return uint64(h.Number)
}

func TestHemiKeystones(t *testing.T) {
	e, _, _ := newPopEnv(t)
	for range 50 {
		e.mine()
	}
	k25, err := e.chain.KeystoneAt(25)
	if err != nil {
		t.Fatal(err)
	}
	k50, err := e.chain.KeystoneAt(50)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	if err := e.rc.Call(&got, "hemi_getKeystone", "0x19"); err != nil {
		t.Fatal(err)
	}
	enc := k25.K.Encode()
	id1 := sha256.Sum256(enc[:])
	id := sha256.Sum256(id1[:])
	want := map[string]string{
		"number":        "0x19",
		"hash":          k25.Hash.Hex(),
		"id":            hexutil.Encode(id[:]),
		"prevId":        hexutil.Encode(make([]byte, 32)),
		"btcViewHeight": hexutil.EncodeUint64(uint64(k25.K.BTCViewHeight)),
		"encoded":       hexutil.Encode(enc[:]),
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("hemi_getKeystone(25) =\n%v\nwant\n%v", got, want)
	}

	lookups := []struct {
		name   string
		arg    any
		number string // "" = null
		code   int    // JSON-RPC error code, 0 = none
	}{
		{"by id", hexutil.Encode(k50.ID[:]), "0x32", 0},
		{"by block hash", k50.Hash.Hex(), "0x32", 0},
		{"by JSON number", 25, "0x19", 0},
		{"latest", "latest", "0x32", 0},
		{"safe before any publication", "safe", "", 0},
		{"unknown id", hexutil.Encode(make([]byte, 32)), "", 0},
		{"not a keystone", "0x1a", "", -32602},
		{"above the head", "0x4b", "", 0},
		{"garbage", "0xzz", "", -32602},
		{"object", map[string]int{"a": 1}, "", -32602},
	}
	for _, tc := range lookups {
		t.Run(tc.name, func(t *testing.T) {
			var k *rpcKeystone
			err := e.rc.Call(&k, "hemi_getKeystone", tc.arg)
			if tc.code != 0 {
				if code, _, _ := rpcErr(t, err); code != tc.code {
					t.Fatalf("error %v, want code %d", err, tc.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.number == "" {
				if k != nil {
					t.Fatalf("got keystone %d, want null", k.Number)
				}
				return
			}
			if k == nil || hexutil.EncodeUint64(uint64(k.Number)) != tc.number {
				t.Fatalf("got %+v, want number %s", k, tc.number)
			}
		})
	}

	var list []rpcKeystone
	if err := e.rc.Call(&list, "hemi_latestKeystones", 5); err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Number != 50 || list[1].Number != 25 || common.Hash(list[0].PrevID) != common.Hash(k25.ID) {
		t.Fatalf("hemi_latestKeystones(5) = %+v, want keystones 50 (prev = 25's id) and 25", list)
	}
	for _, n := range []any{0, 101, "0x65", -1} {
		if err := e.rc.Call(&list, "hemi_latestKeystones", n); err == nil {
			t.Fatalf("hemi_latestKeystones(%v) accepted", n)
		} else if code, _, _ := rpcErr(t, err); code != -32602 {
			t.Fatalf("hemi_latestKeystones(%v): %v, want -32602", n, err)
		}
	}
}

func TestHemiFinalityAndTags(t *testing.T) {
	e, svc, pix := newPopEnv(t)
	for range 60 {
		e.mine()
	}
	k25, _ := e.chain.KeystoneAt(25)
	k50, _ := e.chain.KeystoneAt(50)
	finalityOf := func(n any) *rpcFinality {
		t.Helper()
		var f *rpcFinality
		if err := e.rc.Call(&f, "hemi_getFinality", n); err != nil {
			t.Fatal(err)
		}
		return f
	}
	if f := finalityOf("0xa"); f.Published || !f.KeystoneExists || f.KeystoneNumber != 25 || f.Depth != 3 ||
		f.KeystoneID == nil || common.Hash(*f.KeystoneID) != common.Hash(k25.ID) {
		t.Fatalf("before publication: %+v", f)
	}
	if got := e.tagNumber(t, "safe"); got != 0 {
		t.Fatalf("safe = %d before any publication, want the genesis", got)
	}
	wsc, err := gethrpc.Dial(e.ws)
	if err != nil {
		t.Fatal(err)
	}
	defer wsc.Close()
	heads := make(chan rpcHeads, 64)
	hsub, err := wsc.Subscribe(context.Background(), "hemi", heads, "finality")
	if err != nil {
		t.Fatal(err)
	}
	defer hsub.Unsubscribe()
	expectHeads := func(safe, finalized uint64) {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case h := <-heads:
				if uint64(h.Safe) == safe && uint64(h.Finalized) == finalized {
					return
				}
			case err := <-hsub.Err():
				t.Fatal(err)
			case <-timeout:
				t.Fatalf("no finality notification safe=%d finalized=%d", safe, finalized)
			}
		}
	}
	expectHeads(0, 0)

	pix.connect()    // height 0
	pix.connect(k25) // height 1
	waitFor(t, "keystone 25 safe", func() bool { return svc.Safe() == 25 })
	f := finalityOf("0xa")
	if !f.Published || f.Confirmations != 1 || f.Superfinal || f.Publication == nil ||
		f.Publication.BTCHeight != 1 || common.Hash(f.Publication.KeystoneID) != common.Hash(k25.ID) {
		t.Fatalf("after publication: %+v %+v", f, f.Publication)
	}
	if got := e.tagNumber(t, "safe"); got != 25 {
		t.Fatalf("safe = %d, want 25", got)
	}
	if got := e.tagNumber(t, "finalized"); got != 0 {
		t.Fatalf("finalized = %d, want 0", got)
	}
	pix.connect()
	pix.connect()
	waitFor(t, "keystone 25 superfinal", func() bool { return svc.Finalized() == 25 })
	if f := finalityOf("0x19"); !f.Superfinal || f.Confirmations != 3 {
		t.Fatalf("at depth: %+v", f)
	}
	if got := e.tagNumber(t, "finalized"); got != 25 {
		t.Fatalf("finalized = %d, want 25", got)
	}
	expectHeads(25, 25)

	// Keystone 50's publication makes 26..50 safe; a Bitcoin reorg
	// removes it again.
	pix.connect(k50)
	waitFor(t, "keystone 50 safe", func() bool { return svc.Safe() == 50 })
	if f := finalityOf(hexutil.EncodeUint64(30)); !f.Published || f.KeystoneNumber != 50 || f.Publication.BTCHeight != 4 {
		t.Fatalf("block 30: %+v", f)
	}
	expectHeads(50, 25)
	pix.disconnect()
	waitFor(t, "keystone 50 unpublished", func() bool { return svc.Safe() == 25 })
	if f := finalityOf(hexutil.EncodeUint64(30)); f.Published {
		t.Fatalf("block 30 after the reorg: %+v", f)
	}
	if got := e.tagNumber(t, "safe"); got != 25 {
		t.Fatalf("safe after the Bitcoin reorg = %d, want 25", got)
	}
	expectHeads(25, 25) // back from 50, 25

	// Block 55's keystone (75) does not exist yet; unknown blocks are null.
	if f := finalityOf(hexutil.EncodeUint64(55)); f.KeystoneExists || f.KeystoneNumber != 75 || f.Published || f.KeystoneID != nil {
		t.Fatalf("block 55: %+v", f)
	}
	if f := finalityOf(hexutil.EncodeUint64(500)); f != nil {
		t.Fatalf("block 500: %+v, want null", f)
	}
	head := e.chain.Head()
	if f := finalityOf(map[string]any{"blockHash": head.Hash()}); f == nil || uint64(f.Number) != head.Number.Uint64() {
		t.Fatalf("by hash: %+v", f)
	}
}

func TestHemiFinalityWithoutService(t *testing.T) {
	e := newEnv(t, Config{})
	e.mine()
	var f *rpcFinality
	err := e.rc.Call(&f, "hemi_getFinality", "latest")
	if code, msg, _ := rpcErr(t, err); code != codeServer || msg != ErrNoFinality.Error() {
		t.Fatalf("got %v", err)
	}
	wsc, err := gethrpc.Dial(e.ws)
	if err != nil {
		t.Fatal(err)
	}
	defer wsc.Close()
	if _, err := wsc.Subscribe(context.Background(), "hemi", make(chan rpcHeads), "finality"); err == nil {
		t.Fatal("finality subscription without a finality service")
	}
	if got := e.tagNumber(t, "finalized"); got != 0 {
		t.Fatalf("finalized without a service = %d, want the genesis", got)
	}
}

func TestHemiNewKeystonesSubscription(t *testing.T) {
	e, _, _ := newPopEnv(t)
	for range 20 {
		e.mine()
	}
	c, err := gethrpc.Dial(e.ws)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ch := make(chan json.RawMessage, 4)
	sub, err := c.Subscribe(context.Background(), "hemi", ch, "newKeystones")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	for range 31 {
		e.mine()
	}
	k25, err := e.chain.KeystoneAt(25)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []uint64{25, 50} {
		select {
		case raw := <-ch:
			var k rpcKeystone
			if err := json.Unmarshal(raw, &k); err != nil {
				t.Fatal(err)
			}
			if uint64(k.Number) != want || len(k.Encoded) != pop.KeystoneSize {
				t.Fatalf("notification %s, want keystone %d", raw, want)
			}
			if want == 25 && common.Hash(k.ID) != common.Hash(k25.ID) {
				t.Fatalf("keystone 25 id %x, want %x", k.ID, k25.ID)
			}
		case err := <-sub.Err():
			t.Fatal(err)
		case <-time.After(10 * time.Second):
			t.Fatalf("no notification for keystone %d", want)
		}
	}
	select {
	case raw := <-ch:
		t.Fatalf("unexpected notification %s", raw)
	case <-time.After(50 * time.Millisecond):
	}
}

// FuzzCount: hemi_latestKeystones' count decodes any JSON without
// panicking, and every value round-trips through both spellings.
func FuzzCount(f *testing.F) {
	f.Add([]byte(`5`), uint64(5))
	f.Add([]byte(`"0x64"`), uint64(1<<40))
	f.Add([]byte(`-1`), uint64(0))
	f.Add([]byte(`"0x"`), ^uint64(0))
	f.Fuzz(func(t *testing.T, raw []byte, n uint64) {
		var c count
		_ = c.UnmarshalJSON(raw)
		for _, enc := range []string{fmt.Sprint(n), `"` + hexutil.EncodeUint64(n) + `"`} {
			var got count
			if err := got.UnmarshalJSON([]byte(enc)); err != nil || uint64(got) != n {
				t.Fatalf("%s: got %d, %v; want %d", enc, got, err, n)
			}
		}
	})
}

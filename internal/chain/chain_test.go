package chain

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/core/vm"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/holiman/uint256"

	"github.com/hemi-go/hemi/internal/btc/indextest"
	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/hvm"
	"github.com/hemi-go/hemi/internal/node/indexadapt"
)

// btcReaderRuntime STATICCALLs 0x44 (the view's header record, 116
// bytes), stores its first two words in slots 0 and 1 and logs the record
// with topic 0xb7c.
var btcReaderRuntime = []byte{
	0x60, 0x74, 0x60, 0x00, 0x60, 0x00, 0x60, 0x00, 0x60, 0x44, 0x5a, 0xfa, // STATICCALL(gas, 0x44, 0, 0, 0, 116)
	0x50,                               // POP
	0x60, 0x00, 0x51, 0x60, 0x00, 0x55, // SSTORE(0, MLOAD(0))
	0x60, 0x20, 0x51, 0x60, 0x01, 0x55, // SSTORE(1, MLOAD(32))
	0x61, 0x0b, 0x7c, 0x60, 0x74, 0x60, 0x00, 0xa1, // LOG1(0, 116, 0xb7c)
	0x00, // STOP
}

// initCode returns init code deploying runtime.
func initCode(runtime []byte) []byte {
	n := byte(len(runtime))
	return append([]byte{0x60, n, 0x80, 0x60, 0x0b, 0x60, 0x00, 0x39, 0x60, 0x00, 0xf3}, runtime...)
}

// headerRecord is hVM's 116-byte record of a view header.
func headerRecord(t *testing.T, v hvm.Header) []byte {
	t.Helper()
	out := binary.BigEndian.AppendUint32(nil, uint32(v.Height))
	for i := range 32 {
		out = append(out, v.Hash[31-i])
	}
	out = binary.BigEndian.AppendUint32(out, uint32(v.Header.Version))
	for i := range 32 {
		out = append(out, v.Header.PrevBlock[31-i])
	}
	for i := range 32 {
		out = append(out, v.Header.MerkleRoot[31-i])
	}
	out = binary.BigEndian.AppendUint32(out, uint32(v.Header.Timestamp.Unix()))
	out = binary.BigEndian.AppendUint32(out, v.Header.Bits)
	return binary.BigEndian.AppendUint32(out, v.Header.Nonce)
}

// TestExecution: ETH transfers and a contract that reads Bitcoin through
// 0x44, built by one node and re-executed by another; receipts, logs,
// lookups and balances.
func TestExecution(t *testing.T) {
	f := newBTCFixture(t, 12)
	ix := indextest.Open(t, regtest, t.TempDir())
	defer ix.Close()
	indextest.Feed(t, ix, f.Blocks)
	gen := testGenesis(t, viewAt(t, indexadapt.NewChain(ix), f.Blocks[1]))
	seq := newHarness(t, ix, "", gen)
	fol := newHarness(t, ix, "", gen)
	v8 := viewAt(t, seq.btc, f.Blocks[7])
	v9 := viewAt(t, seq.btc, f.Blocks[8])

	u0, u1, u2 := userKeys[0], userKeys[1], userKeys[2]
	deploy := seq.signTx(u0, &types.DynamicFeeTx{ChainID: seq.cfg.ChainConfig.ChainID, Nonce: 0, GasTipCap: big.NewInt(2),
		GasFeeCap: big.NewInt(params.GWei), Gas: 200_000, Data: initCode(btcReaderRuntime)})
	contract := crypto.CreateAddress(addr(u0), 0)
	b1 := seq.mine(v8, deploy, seq.transfer(u1, 0, addr(u2), 12345), seq.transfer(u1, 1, addr(u2), 1))
	call := seq.signTx(u0, &types.LegacyTx{Nonce: 1, GasPrice: big.NewInt(params.GWei), Gas: 100_000, To: &contract})
	b2 := seq.mine(v9, call)

	for i, b := range []*Block{b1, b2} {
		if err := fol.chain.InsertBlock(b); err != nil {
			t.Fatalf("follower block %d: %v", i+1, err)
		}
	}
	if fol.chain.Head().Hash() != b2.Hash() || seq.chain.Head().Hash() != b2.Hash() {
		t.Fatal("heads differ")
	}

	st, err := fol.chain.StateAt(b2.Header.Root)
	if err != nil {
		t.Fatal(err)
	}
	gen2 := new(uint256.Int).Add(mustU256(t, gen, addr(u2)), uint256.NewInt(12346))
	if got := st.GetBalance(addr(u2)); got.Cmp(gen2) != 0 {
		t.Fatalf("u2 balance %v, want %v", got, gen2)
	}
	rec := headerRecord(t, v9)
	if got := st.GetState(contract, common.Hash{}); !bytes.Equal(got[:], rec[:32]) {
		t.Fatalf("slot 0 %x, want %x", got, rec[:32])
	}
	if got := st.GetState(contract, common.Hash{31: 1}); !bytes.Equal(got[:], rec[32:64]) {
		t.Fatalf("slot 1 %x, want %x", got, rec[32:64])
	}

	// Receipts: the view update first (type 0x7E), then the users'.
	rs, err := fol.chain.Receipts(b1.Hash())
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 4 || rs[0].Type != block.SystemTxType || rs[0].Status != types.ReceiptStatusSuccessful {
		t.Fatalf("block 1 receipts: %d, first type %#x status %d", len(rs), rs[0].Type, rs[0].Status)
	}
	if rs[1].ContractAddress != contract || rs[1].Status != 1 || rs[3].CumulativeGasUsed != b1.Header.GasUsed {
		t.Fatalf("deploy receipt %+v, last cumulative %d, header %d", rs[1], rs[3].CumulativeGasUsed, b1.Header.GasUsed)
	}
	if block.ReceiptRoot(rs) != b1.Header.ReceiptHash {
		t.Fatal("stored receipts do not hash to the header's root")
	}
	r, loc, err := fol.chain.Receipt(call.Hash())
	if err != nil {
		t.Fatal(err)
	}
	if loc.BlockNumber != 2 || loc.Index != 1 || loc.Tx == nil || r.Status != 1 || len(r.Logs) != 1 {
		t.Fatalf("call: loc %+v receipt status %d logs %d", loc, r.Status, len(r.Logs))
	}
	if l := r.Logs[0]; l.Address != contract || !bytes.Equal(l.Data, rec) || l.Topics[0] != (common.Hash{30: 0x0b, 31: 0x7c}) || l.BlockHash != b2.Hash() || l.TxIndex != 1 {
		t.Fatalf("log %+v", l)
	}
	if !types.BloomLookup(b2.Header.Bloom, contract) {
		t.Fatal("header bloom misses the contract")
	}
	sys := b2.Body.SystemTxs[0].Hash()
	if loc, err := fol.chain.TxLookup(sys); err != nil || loc.System == nil || loc.Index != 0 || loc.BlockNumber != 2 {
		t.Fatalf("system tx lookup %+v %v", loc, err)
	}
	if _, err := fol.chain.TxLookup(common.Hash{1}); !isNotFound(err) {
		t.Fatalf("unknown tx: %v", err)
	}
	// An eth_call-style EVM on the head answers as of the head's view.
	head := fol.chain.Head()
	view, err := fol.chain.ViewOf(head)
	if err != nil {
		t.Fatal(err)
	}
	evm := fol.chain.Processor().NewEVM(head, fol.chain.GetHashFn(head), st, view, vm.Config{NoBaseFee: true})
	ret, _, err := evm.StaticCall(addr(u0), hvm.AddrLastHeader, nil, vm.NewGasBudget(100_000, 0))
	if err != nil || !bytes.Equal(ret, rec) {
		t.Fatalf("0x44 through NewEVM: %x %v", ret, err)
	}
	if bb, err := fol.chain.BlockByNumber(1); err != nil || bb.Hash() != b1.Hash() || len(bb.Body.Txs) != 3 {
		t.Fatalf("block by number: %v", err)
	}
}

// TestBuildSkips: invalid candidates are left out with their error.
func TestBuildSkips(t *testing.T) {
	h, f := newFedHarness(t)
	v := viewAt(t, h.btc, f.Blocks[2])
	poor := mustKey("poor")
	b := h.build(v,
		h.transfer(userKeys[0], 0, addr(userKeys[1]), 1),
		h.transfer(userKeys[0], 0, addr(userKeys[1]), 2), // nonce too low now
		h.transfer(poor, 0, addr(userKeys[1]), 1),        // no funds
		h.transfer(userKeys[0], 5, addr(userKeys[1]), 1), // nonce gap
		h.transfer(userKeys[0], 1, addr(userKeys[1]), 3),
	)
	if len(b.Block.Body.Txs) != 2 || len(b.Skipped) != 3 {
		t.Fatalf("included %d skipped %d", len(b.Block.Body.Txs), len(b.Skipped))
	}
	if err := h.chain.CommitBuilt(b); err != nil {
		t.Fatal(err)
	}
	if err := h.chain.CommitBuilt(b); err == nil {
		t.Fatal("a built block committed twice")
	}
}

// TestSubscribe: headers arrive in order, from a past number on.
func TestSubscribe(t *testing.T) {
	h, f := newFedHarness(t)
	v := viewAt(t, h.btc, f.Blocks[2])
	h.mine(v)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub := h.chain.Subscribe(ctx, 0)
	h.mine(v)
	h.mine(v)
	for want := uint64(0); want <= 3; want++ {
		select {
		case hd := <-sub:
			if hd.Number.Uint64() != want {
				t.Fatalf("got %d want %d", hd.Number, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no header %d", want)
		}
	}
	cancel()
	for range sub {
	}
	// Closing the chain ends a subscription waiting for new heads.
	sub = h.chain.Subscribe(context.Background(), 4)
	h.chain.Close()
	select {
	case _, ok := <-sub:
		if ok {
			t.Fatal("a header after close")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("subscription still open after Close")
	}
	if err := h.chain.InsertBlock(&Block{Header: h.chain.Head(), Body: &block.Body{}}); !errors.Is(err, ErrClosed) {
		t.Fatalf("insert after close: %v", err)
	}
}

// TestSubscribeSettled: SubscribeSettled delivers the heads up to the
// head at the call at once, holds a new head for its settle time (ending
// when ctx does, also while it waits), then delivers in order every head
// that came meanwhile.
func TestSubscribeSettled(t *testing.T) {
	h, f := newFedHarness(t)
	v := viewAt(t, h.btc, f.Blocks[2])
	h.mine(v)
	next := func(sub <-chan *types.Header, want uint64) {
		t.Helper()
		select {
		case hd, ok := <-sub:
			if !ok || hd.Number.Uint64() != want {
				t.Fatalf("got %v (open %v), want header %d", hd, ok, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no header %d", want)
		}
	}

	// An hour's settle: the past heads come at once, the new one waits.
	ctx, cancel := context.WithCancel(context.Background())
	held := h.chain.SubscribeSettled(ctx, 0, time.Hour)
	now := h.chain.Subscribe(ctx, 2)
	next(held, 0)
	next(held, 1)
	h.mine(v)
	next(now, 2)
	time.Sleep(20 * time.Millisecond) // what Subscribe delivered, the settled reader has not
	select {
	case hd := <-held:
		t.Fatalf("header %d delivered before its settle time", hd.Number)
	default:
	}
	cancel() // while it waits out the settle time
	for range held {
	}

	// A short settle: the heads mined meanwhile all come, in order.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	sub := h.chain.SubscribeSettled(ctx, 3, 20*time.Millisecond)
	for range 3 {
		h.mine(v)
	}
	for want := uint64(3); want <= 5; want++ {
		next(sub, want)
	}
}

func mustU256(t *testing.T, gen *genesis.Spec, a common.Address) *uint256.Int {
	t.Helper()
	b, ok := genesisBalance(gen, a)
	if !ok {
		t.Fatalf("%s not funded at genesis", a)
	}
	return b
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// TestConcurrentQueries reads the chain while blocks are inserted (run
// with -race).
func TestConcurrentQueries(t *testing.T) {
	f := newBTCFixture(t, 12)
	ix := indextest.Open(t, regtest, t.TempDir())
	defer ix.Close()
	indextest.Feed(t, ix, f.Blocks)
	h := newHarness(t, ix, t.TempDir(), testGenesis(t, viewAt(t, indexadapt.NewChain(ix), f.Blocks[1])))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			head := h.chain.Head()
			b, err := h.chain.BlockByNumber(head.Number.Uint64())
			if err != nil {
				done <- err
				return
			}
			if _, err := h.chain.Receipts(b.Hash()); err != nil {
				done <- err
				return
			}
			if _, err := h.chain.StateAt(b.Header.Root); err != nil {
				done <- err
				return
			}
		}
	}()
	for range 8 {
		nextBlock(h, f)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

package genesis

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/vm"
	"github.com/ethereum/go-ethereum/params"
	"github.com/holiman/uint256"

	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/hvm"
)

// evmEnv executes messages on a real go-ethereum EVM over the genesis
// state, the way the block processor does (core.ApplyMessage).
type evmEnv struct {
	t   *testing.T
	st  *state.StateDB
	cfg *params.ChainConfig
}

func newEVMEnv(t *testing.T) (*evmEnv, *Spec, []DevAccount) {
	s, accs := devSpec(t)
	_, st, err := s.InMemory()
	if err != nil {
		t.Fatal(err)
	}
	return &evmEnv{t: t, st: st, cfg: s.Config.ChainConfig()}, s, accs
}

func (e *evmEnv) apply(from common.Address, to *common.Address, data []byte, gas uint64) *core.ExecutionResult {
	e.t.Helper()
	bctx := vm.BlockContext{
		CanTransfer: core.CanTransfer,
		Transfer:    core.Transfer,
		GetHash:     func(uint64) common.Hash { return common.Hash{} },
		BlockNumber: big.NewInt(1),
		Time:        1_700_000_002,
		GasLimit:    DefaultGasLimit,
		BaseFee:     new(big.Int),
		BlobBaseFee: big.NewInt(1),
		Random:      &common.Hash{},
	}
	evm := vm.NewEVM(bctx, e.st, e.cfg, vm.Config{})
	msg := &core.Message{
		From: from, To: to, Nonce: e.st.GetNonce(from), Value: new(uint256.Int), GasLimit: gas,
		GasPrice: new(uint256.Int), GasFeeCap: new(uint256.Int), GasTipCap: new(uint256.Int), Data: data,
	}
	res, err := core.ApplyMessage(evm, msg, core.NewGasPool(DefaultGasLimit))
	if err != nil {
		e.t.Fatalf("apply: %v", err)
	}
	return res
}

func (e *evmEnv) call(sel [4]byte) []byte {
	e.t.Helper()
	to := HVMStateAddress
	res := e.apply(common.Address{0xee}, &to, sel[:], 100_000)
	if res.Err != nil {
		e.t.Fatalf("getter %x: %v", sel, res.Err)
	}
	return res.ReturnData
}

func word32(u uint32) []byte {
	var w [32]byte
	binary.BigEndian.PutUint32(w[28:], u)
	return w[:]
}

// wantHeaderABI is header()'s ABI answer for v: eight words in the 0x44
// record's field order.
func wantHeaderABI(v hvm.Header) []byte {
	var out []byte
	out = append(out, word32(uint32(v.Height))...)
	out = append(out, display(v.Hash).Bytes()...)
	out = append(out, word32(uint32(v.Header.Version))...)
	out = append(out, display(v.Header.PrevBlock).Bytes()...)
	out = append(out, display(v.Header.MerkleRoot).Bytes()...)
	out = append(out, word32(uint32(v.Header.Timestamp.Unix()))...)
	out = append(out, word32(v.Header.Bits)...)
	out = append(out, word32(v.Header.Nonce)...)
	return out
}

func (e *evmEnv) checkView(v hvm.Header) {
	e.t.Helper()
	if got := e.call(SelectorBitcoinHeight); !bytes.Equal(got, word32(uint32(v.Height))) {
		e.t.Fatalf("bitcoinHeight() = %x, want %d", got, v.Height)
	}
	if got := e.call(SelectorBitcoinHash); !bytes.Equal(got, display(v.Hash).Bytes()) {
		e.t.Fatalf("bitcoinHash() = %x, want %v", got, v.Hash)
	}
	if got := e.call(SelectorHeader); !bytes.Equal(got, wantHeaderABI(v)) {
		e.t.Fatalf("header() = %x\nwant %x", got, wantHeaderABI(v))
	}
	if got := ReadView(e.st); !sameView(got, v) {
		e.t.Fatalf("ReadView = %+v, want %+v", got, v)
	}
}

// TestHVMStateEVM executes the predeploy on go-ethereum's EVM: the genesis
// view is readable, the view update system transaction from SystemAddress
// writes the next views, anyone else reverts with NotSystem() and changes
// nothing.
func TestHVMStateEVM(t *testing.T) {
	env, s, accs := newEVMEnv(t)
	env.checkView(s.View)

	if got := env.call(SelectorSystem); !bytes.Equal(got, common.LeftPadBytes(SystemAddress.Bytes(), 32)) {
		t.Fatalf("SYSTEM() = %x", got)
	}
	views := regtestViews(t, 3)
	for n, v := range views[1:] {
		tx, err := DeriveViewUpdate(v, uint64(n+1))
		if err != nil {
			t.Fatal(err)
		}
		res := env.apply(tx.From, tx.To, tx.Data, tx.Gas)
		if res.Err != nil {
			t.Fatalf("view update %d: %v", n+1, res.Err)
		}
		if res.UsedGas > 130_000 {
			t.Fatalf("view update used %d gas", res.UsedGas)
		}
		env.checkView(v)
	}
	last := views[len(views)-1]

	// Writes from anyone else revert with NotSystem() and change nothing.
	forged, _ := SetViewCalldata(views[1])
	to := HVMStateAddress
	for _, from := range []common.Address{accs[0].Address, {}, {0x01}} {
		res := env.apply(from, &to, forged, ViewUpdateGas)
		if !errors.Is(res.Err, vm.ErrExecutionReverted) || !bytes.Equal(res.Revert(), SelectorNotSystem[:]) {
			t.Fatalf("setView from %v: err %v, revert %x", from, res.Err, res.Revert())
		}
		env.checkView(last)
	}

	// Unknown selectors, short calldata and value transfers revert.
	for _, data := range [][]byte{{}, {0x01}, {0xde, 0xad, 0xbe, 0xef}, SelectorSetView[:]} {
		res := env.apply(SystemAddress, &to, data, ViewUpdateGas)
		if res.Err == nil {
			t.Fatalf("calldata %x did not revert", data)
		}
	}
	env.checkView(last)
}

func TestDeriveViewUpdate(t *testing.T) {
	views := regtestViews(t, 2)
	a, err := DeriveViewUpdate(views[1], 7)
	if err != nil {
		t.Fatal(err)
	}
	if a.From != SystemAddress || a.To == nil || *a.To != HVMStateAddress || a.Mint != nil || a.Value.Sign() != 0 ||
		a.Gas != ViewUpdateGas || a.IsSystemTx || len(a.Data) != 4+8*32 || !bytes.Equal(a.Data[:4], SelectorSetView[:]) {
		t.Fatalf("fields %+v", a)
	}
	if a.SourceHash != block.SourceHash(block.DomainBitcoinView, views[1].Hash, 7) {
		t.Fatal("source hash")
	}
	if !bytes.Equal(a.Data[4:], wantHeaderABI(views[1])) {
		t.Fatal("calldata is not the header record's words")
	}
	b, _ := DeriveViewUpdate(views[1], 7)
	if !a.Equal(b) {
		t.Fatal("not deterministic")
	}
	// Same view, next block: another transaction. Another view: another.
	c, _ := DeriveViewUpdate(views[1], 8)
	d, _ := DeriveViewUpdate(views[2], 7)
	if a.Hash() == c.Hash() || a.Hash() == d.Hash() {
		t.Fatal("view updates collide")
	}
	cases := []struct {
		name string
		v    hvm.Header
	}{
		{"negative height", hvm.Header{Height: -1}},
		{"time before 1970", hvm.Header{Header: wire.BlockHeader{Timestamp: time.Unix(-1, 0)}}},
		{"time after 2106", hvm.Header{Header: wire.BlockHeader{Timestamp: time.Unix(1<<32, 0)}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := DeriveViewUpdate(c.v, 1); !errors.Is(err, ErrView) {
				t.Fatalf("got %v", err)
			}
		})
	}
}

// TestSelectors pins the ABI selectors (the ABI of contracts/HVMState.sol)
// and checks solc put each one in the dispatcher.
func TestSelectors(t *testing.T) {
	cases := []struct {
		name string
		got  [4]byte
		want string
	}{
		{"bitcoinHeight()", SelectorBitcoinHeight, "72b2f656"},
		{"bitcoinHash()", SelectorBitcoinHash, "4997a8f3"},
		{"header()", SelectorHeader, "0d7163c6"},
		{"SYSTEM()", SelectorSystem, "51351d53"},
		{"setView(...)", SelectorSetView, "a9abfab8"},
	}
	code := HVMStateCode()
	for _, c := range cases {
		if common.Bytes2Hex(c.got[:]) != c.want {
			t.Errorf("%s: %x want %s", c.name, c.got, c.want)
		}
		// The compiled dispatcher holds each selector (PUSH4 <selector>).
		if !bytes.Contains(code, append([]byte{0x63}, c.got[:]...)) {
			t.Errorf("%s: selector not in the bytecode", c.name)
		}
	}
}

// FuzzViewStorage: any storable view survives storage and calldata.
func FuzzViewStorage(f *testing.F) {
	f.Add(int32(0), []byte{1}, int32(1), uint32(1296688602), uint32(0x207fffff), uint32(2))
	f.Add(int32(-1), []byte{}, int32(-1), uint32(0), uint32(0), uint32(0))
	f.Fuzz(func(t *testing.T, height int32, hash []byte, version int32, ts, bits, nonce uint32) {
		var v hvm.Header
		v.Height = height
		copy(v.Hash[:], hash)
		copy(v.Header.PrevBlock[:], bytes.Repeat(hash, 2))
		copy(v.Header.MerkleRoot[:], bytes.Repeat(hash, 3))
		v.Header.Version = version
		v.Header.Timestamp = time.Unix(int64(ts), 0)
		v.Header.Bits, v.Header.Nonce = bits, nonce
		storage, err := ViewStorage(v)
		data, err2 := SetViewCalldata(v)
		if (err == nil) != (err2 == nil) {
			t.Fatal("storage and calldata disagree on validity")
		}
		if err != nil {
			if !errors.Is(err, ErrView) || height >= 0 {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		got := ReadView(mapState(storage))
		if got.Height != v.Height || got.Hash != v.Hash || got.Header.BlockHash() != v.Header.BlockHash() {
			t.Fatalf("round trip %+v != %+v", got, v)
		}
		if len(data) != 260 {
			t.Fatal("calldata length")
		}
	})
}

type mapState map[common.Hash]common.Hash

func (m mapState) GetState(addr common.Address, slot common.Hash) common.Hash {
	if addr != HVMStateAddress {
		return common.Hash{}
	}
	return m[slot]
}

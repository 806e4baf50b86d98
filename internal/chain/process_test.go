package chain

import (
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/holiman/uint256"

	"github.com/hemi-go/hemi/internal/btc/indextest"
	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/chain/rules"
	"github.com/hemi-go/hemi/internal/hvm"
	"github.com/hemi-go/hemi/internal/node/indexadapt"
)

// failingView is a view whose index failed during execution.
type failingView struct{ hvm.BitcoinView }

func (failingView) Err() error { return errors.New("disk on fire") }

// TestSystemTxSemantics runs system transactions through the processor
// directly: mint, value, contract creation, a revert and a transfer From
// cannot pay each get a receipt with the documented effects.
func TestSystemTxSemantics(t *testing.T) {
	f := newBTCFixture(t, 12)
	ix := indextest.Open(t, regtest, t.TempDir())
	defer ix.Close()
	indextest.Feed(t, ix, f.Blocks)
	spec := testGenesis(t, viewAt(t, indexadapt.NewChain(ix), f.Blocks[1]))
	h := newHarness(t, ix, "", spec)
	view, err := h.btc.View(f.Blocks[5].BlockHash())
	if err != nil {
		t.Fatal(err)
	}
	vh := view.Tip()
	parent := h.chain.Head()
	header := &types.Header{ParentHash: parent.Hash(), Number: big.NewInt(1), GasLimit: parent.GasLimit, Time: parent.Time + 2,
		BaseFee: genesis.NextBaseFee(h.cfg.ChainConfig, parent), MixDigest: rules.Random(vh.Hash)}
	rules.ShapeHeader(h.cfg.ChainConfig, header)

	x, y, z := common.Address{0x0a}, common.Address{0x0b}, common.Address{0x0c}
	eth := big.NewInt(params.Ether)
	setView, err := genesis.SetViewCalldata(vh)
	if err != nil {
		t.Fatal(err)
	}
	hvmState := genesis.HVMStateAddress
	stx := func(i int, from common.Address, to *common.Address, mint, value *big.Int, data []byte) *block.SystemTx {
		return &block.SystemTx{SourceHash: common.Hash{byte(i)}, From: from, To: to, Mint: mint, Value: value, Gas: 300_000, Data: data}
	}
	stxs := []*block.SystemTx{
		stx(1, x, &y, new(big.Int).Mul(eth, big.NewInt(5)), eth, nil), // mint 5, send 1
		stx(2, x, &hvmState, nil, nil, setView),                       // not the system address: reverts
		stx(3, z, &y, nil, eth, nil),                                  // z has nothing: fails
		stx(4, x, nil, nil, nil, initCode(btcReaderRuntime)),          // create, nonce 2
	}
	tx := h.transfer(userKeys[0], 0, y, 7)
	run := func(stxs []*block.SystemTx, v hvm.BitcoinView) (*Result, error) {
		st, err := h.chain.StateAt(parent.Root)
		if err != nil {
			t.Fatal(err)
		}
		res, err := h.chain.Processor().Process(parent, header, common.Hash{}, st, stxs, []*types.Transaction{tx}, v, h.chain.GetHashFn(parent))
		if err == nil {
			st2 := st
			if got := st2.GetBalance(x); got.Cmp(uint256.MustFromBig(new(big.Int).Mul(eth, big.NewInt(4)))) != 0 {
				t.Fatalf("x balance %v", got)
			}
			if got := st2.GetBalance(y); got.Cmp(uint256.MustFromBig(new(big.Int).Add(eth, big.NewInt(7)))) != 0 {
				t.Fatalf("y balance %v", got)
			}
			if n := st2.GetNonce(x); n != 3 {
				t.Fatalf("x nonce %d, want 3", n)
			}
			if len(st2.GetCode(crypto.CreateAddress(x, 2))) == 0 {
				t.Fatal("system create left no code")
			}
		}
		return res, err
	}
	res, err := run(stxs, view)
	if err != nil {
		t.Fatal(err)
	}
	wantStatus := []uint64{1, 0, 0, 1, 1}
	var cum uint64
	for i, r := range res.Receipts {
		if r.Status != wantStatus[i] {
			t.Fatalf("receipt %d status %d, want %d", i, r.Status, wantStatus[i])
		}
		cum += r.GasUsed
		if r.CumulativeGasUsed != cum {
			t.Fatalf("receipt %d cumulative %d, sum %d", i, r.CumulativeGasUsed, cum)
		}
		if i < 4 && (r.Type != block.SystemTxType || r.TxHash != stxs[i].Hash()) {
			t.Fatalf("receipt %d type %#x", i, r.Type)
		}
	}
	if res.Receipts[1].GasUsed == 0 || res.Receipts[1].GasUsed > 300_000 {
		t.Fatalf("reverted system tx used %d gas", res.Receipts[1].GasUsed)
	}
	if res.Receipts[3].ContractAddress != crypto.CreateAddress(x, 2) {
		t.Fatalf("created %s", res.Receipts[3].ContractAddress)
	}
	if res.GasUsed != cum || res.ReceiptRoot != block.ReceiptRoot(res.Receipts) {
		t.Fatalf("gas used %d, receipts %d", res.GasUsed, cum)
	}

	// Too much system gas for the block, and a failing view.
	tooBig := stx(9, x, &y, nil, nil, nil)
	tooBig.Gas = header.GasLimit
	if _, err := run(append([]*block.SystemTx{tooBig}, stxs...), view); !errors.Is(err, ErrBadSystemTxs) {
		t.Fatalf("system gas above the limit: %v", err)
	}
	if _, err := run(stxs, failingView{view}); !errors.Is(err, ErrViewFailed) || errors.Is(err, ErrInvalidBlock) {
		t.Fatalf("failing view: %v", err)
	}
}

package compat

import (
	"context"
	"encoding/json"
	"math/big"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// jsReport is what testdata/ethers.mjs and testdata/viem.mjs print.
type jsReport struct {
	Client  string
	ChainID string
	Tags    map[string]struct {
		Number uint64
		Hash   common.Hash
	}
	Deploy struct {
		Address         common.Address
		Hash            common.Hash
		Block           uint64
		Status          int
		ContractAddress common.Address
	}
	Txs []struct {
		Hash   common.Hash
		Type   int
		Status int
		Block  uint64
	}
	Live, Events []jsTransfer
	Logs         int
	Balance      string
	// TransferBlock is the block of the first transfer, by number.
	TransferBlock struct {
		Number uint64
		Hash   common.Hash
		Txs    []common.Hash
	}
	Revert string
}

type jsTransfer struct {
	From, To common.Address
	Value    string
	Hash     common.Hash
	Block    uint64
}

// TestEthers runs testdata/ethers.mjs (ethers v6) against the stack.
func TestEthers(t *testing.T) { testJS(t, "ethers", 4) }

// TestViem runs testdata/viem.mjs against the stack.
func TestViem(t *testing.T) { testJS(t, "viem", 5) }

// testJS makes finality advance, runs testdata/<lib>.mjs from dev account
// acct and checks its report against the chain: blocks by tag (safe and
// finalized the finality service's heads), the deployment, the three
// transfers' types and receipts, the events delivered live and queried,
// the balance and the revert reason.
func testJS(t *testing.T, lib string, acct int) {
	dir, node := npmDir(t, lib)
	p := getProject(t)
	s := getStack(t)
	fromHex, key := s.account(acct)
	from := common.HexToAddress(fromHex)
	recipient := common.HexToAddress("0x00000000000000000000000000000000000005C1")
	script, err := filepath.Abs(filepath.Join("testdata", lib+".mjs"))
	if err != nil {
		t.Fatal(err)
	}
	// Finality moves past what it was (another test may have moved it)
	// before the client reads the safe and finalized blocks.
	heads := s.finalize(t, s.l2.Finality.Finalized()+1)
	out := mustRun(t, "", []string{"HEMI_ETHERS_DIR=" + dir}, node, script, s.url, key, p.artifacts["Token"].Path, recipient.Hex())
	var r jsReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%s report: %v\n%s", lib, err, out)
	}
	t.Logf("%s: safe %d, finalized %d; deployed at %s, transfers in blocks %d, %d, %d", r.Client, r.Tags["safe"].Number, r.Tags["finalized"].Number,
		r.Deploy.Address, r.Txs[0].Block, r.Txs[1].Block, r.Txs[2].Block)
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf(lib+": "+format+"\nreport: %s", append(args, out)...)
	}
	if r.ChainID != "7431337" {
		fail("chain id %s", r.ChainID)
	}
	// Blocks by tag are the chain's: safe and finalized the finality
	// service's heads (above the genesis), earliest the genesis.
	genesis := s.l2.Chain.Genesis().Hash()
	for _, tag := range []string{"latest", "pending", "earliest", "safe", "finalized"} {
		b, ok := r.Tags[tag]
		if !ok {
			fail("no block for tag %s", tag)
		}
		cb, err := s.l2.Chain.BlockByNumber(b.Number)
		if err != nil || cb.Hash() != b.Hash {
			fail("block %s: number %d hash %s is not the chain's (%v)", tag, b.Number, b.Hash, err)
		}
		var good bool
		switch tag {
		case "earliest":
			good = b.Hash == genesis
		case "safe":
			good = b.Number == heads.Safe
		case "finalized":
			good = b.Number == heads.Finalized
		default:
			good = b.Number >= heads.Safe
		}
		if !good || (tag != "earliest") == (b.Number == 0) {
			fail("block %s is number %d (genesis %s; finality heads: safe %d, finalized %d)", tag, b.Number, genesis, heads.Safe, heads.Finalized)
		}
	}
	s.checkHeads(t, heads)
	ctx := context.Background()
	// The deployment.
	d := r.Deploy
	if d.Status != 1 || d.Address != d.ContractAddress || d.Address == (common.Address{}) {
		fail("deployment %+v", d)
	}
	if rc, err := s.ec.TransactionReceipt(ctx, d.Hash); err != nil || rc.ContractAddress != d.Address || rc.BlockNumber.Uint64() != d.Block {
		fail("deployment receipt on the chain: %+v %v", rc, err)
	}
	p.checkCode(t, s, "Token", d.Address)
	// The transfers: EIP-1559, EIP-2930, legacy; receipts as on the chain.
	wantTypes := []int{types.DynamicFeeTxType, types.AccessListTxType, types.LegacyTxType}
	if len(r.Txs) != 3 {
		fail("%d transfers", len(r.Txs))
	}
	for i, tx := range r.Txs {
		rc, err := s.ec.TransactionReceipt(ctx, tx.Hash)
		if err != nil {
			fail("transfer %d receipt: %v", i, err)
		}
		if tx.Type != wantTypes[i] || tx.Status != 1 || int(rc.Type) != tx.Type || rc.Status != 1 || rc.BlockNumber.Uint64() != tx.Block {
			fail("transfer %d: reported type %d status %d block %d; chain type %d status %d block %d", i, tx.Type, tx.Status, tx.Block, rc.Type, rc.Status, rc.BlockNumber)
		}
		if len(rc.Logs) != 1 || rc.Logs[0].Address != d.Address || rc.Logs[0].Topics[0] != transferTopic {
			fail("transfer %d: chain logs %+v", i, rc.Logs)
		}
	}
	// Events: the live one is the first transfer; the query finds all three.
	wantValues := []string{"100", "200", "300"}
	if len(r.Live) == 0 || r.Live[0].Hash != r.Txs[0].Hash || r.Live[0].Value != "100" || r.Live[0].From != from || r.Live[0].To != recipient {
		fail("live Transfer events %+v, want the first transfer's", r.Live)
	}
	if len(r.Events) != 3 {
		fail("%d queried Transfer events to the recipient, want 3", len(r.Events))
	}
	for i, e := range r.Events {
		if e.Hash != r.Txs[i].Hash || e.Block != r.Txs[i].Block || e.Value != wantValues[i] || e.From != from || e.To != recipient {
			fail("queried event %d %+v, transfer %+v", i, e, r.Txs[i])
		}
	}
	if r.Logs != 4 {
		fail("getLogs found %d Transfer logs, want the mint and 3 transfers", r.Logs)
	}
	tok := p.artifacts["Token"]
	if got := tok.call(t, s, d.Address, nil, "balanceOf", recipient)[0].(*big.Int); r.Balance != "600" || got.Int64() != 600 {
		fail("recipient balance: reported %s, chain %v, want 600", r.Balance, got)
	}
	// The first transfer's block, as the client read it.
	cb, err := s.l2.Chain.BlockByNumber(r.Txs[0].Block)
	if err != nil {
		t.Fatal(err)
	}
	tb := r.TransferBlock
	if tb.Hash != cb.Hash() || !slices.Equal(tb.Txs, cb.Body.TxHashes()) || !slices.Contains(tb.Txs, r.Txs[0].Hash) {
		fail("block %d: reported %s with transactions %v; chain %s with %v", tb.Number, tb.Hash, tb.Txs, cb.Hash(), cb.Body.TxHashes())
	}
	if r.Revert != "Token: transfer amount exceeds balance" {
		fail("revert reason %q", r.Revert)
	}
}

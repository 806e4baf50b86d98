package compat

import (
	"context"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
)

// transferTopic is keccak256("Transfer(address,address,uint256)").
var transferTopic = crypto.Keccak256Hash([]byte("Transfer(address,address,uint256)"))

// btcHeader is BitcoinReader.Header as go-ethereum's ABI decodes it.
type btcHeader struct {
	Height     uint32
	Hash       [32]byte
	Version    uint32
	PrevHash   [32]byte
	MerkleRoot [32]byte
	Time       uint32
	Bits       uint32
	Nonce      uint32
}

// TestForgeCreate deploys the ERC-20 and the Bitcoin reader with `forge
// create` (compiled by solc-js through testdata/solc.mjs) and checks them on
// the chain: the receipts, the runtime code against the artifacts, the
// mint's Transfer event, the token's state and a precompile read.
func TestForgeCreate(t *testing.T) {
	p := getProject(t)
	s := getStack(t)
	from, key := s.account(1)
	supply := ether(1_000_000)

	token, rcpt := p.forgeCreate(t, s, key, "Token", "Forge Token", "FGT", supply.String())
	if len(rcpt.Logs) != 1 {
		t.Fatalf("deploy receipt has %d logs, want the mint's Transfer", len(rcpt.Logs))
	}
	l := rcpt.Logs[0]
	if l.Address != token || len(l.Topics) != 3 || l.Topics[0] != transferTopic || l.Topics[1] != (common.Hash{}) ||
		l.Topics[2] != common.BytesToHash(common.HexToAddress(from).Bytes()) || new(big.Int).SetBytes(l.Data).Cmp(supply) != 0 {
		t.Fatalf("mint event %+v", l)
	}
	tok := p.artifacts["Token"]
	if got := tok.call(t, s, token, nil, "name")[0].(string); got != "Forge Token" {
		t.Fatalf("name %q", got)
	}
	if got := tok.call(t, s, token, nil, "balanceOf", common.HexToAddress(from))[0].(*big.Int); got.Cmp(supply) != 0 {
		t.Fatalf("deployer balance %v, want %v", got, supply)
	}

	reader, _ := p.forgeCreate(t, s, key, "BitcoinReader")
	// Read at the head: the view header equals the index's for the head's view.
	head, err := s.ec.BlockNumber(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	view := s.viewOf(t, head)
	var got btcHeader
	abi.ConvertType(p.artifacts["BitcoinReader"].call(t, s, reader, new(big.Int).SetUint64(head), "viewHeader")[0], &got)
	if got.Height != view.BitcoinHeight || common.Hash(got.Hash).Hex() != displayHash(view.BitcoinHash) {
		t.Fatalf("viewHeader at L2 block %d: height %d hash %x, the block's view is %d %s", head, got.Height, got.Hash, view.BitcoinHeight, view.BitcoinHash)
	}
}

// TestForgeScript runs `forge script --broadcast` (testdata/forge/script/
// Deploy.s.sol): it deploys a Token and a BitcoinReader and sends a
// transfer and an approval. The broadcast record, the receipts and the
// contracts' state must agree.
func TestForgeScript(t *testing.T) {
	p := getProject(t)
	s := getStack(t)
	from, key := s.account(2)
	recipient := common.HexToAddress("0x00000000000000000000000000000000000c0FFe")
	env := append([]string{"HEMI_DEPLOYER_KEY=" + key, "HEMI_RECIPIENT=" + recipient.Hex()}, p.env...)
	// --slow sends one transaction at a time: forge 1.7.1 sends them
	// concurrently and records each hash at the index of its response's
	// arrival, so the broadcast record can pair hashes with the wrong
	// transactions (foundry-rs/foundry#16715, fixed after 1.7.1).
	out := mustRun(t, p.dir, env, p.forge, "script", "script/Deploy.s.sol:Deploy", "--rpc-url", s.url, "--broadcast", "--slow")
	if !strings.Contains(out, "ONCHAIN EXECUTION COMPLETE & SUCCESSFUL") {
		t.Fatalf("forge script did not report success:\n%s", out)
	}
	raw, err := os.ReadFile(filepath.Join(p.dir, "broadcast", "Deploy.s.sol", "7431337", "run-latest.json"))
	if err != nil {
		t.Fatalf("broadcast record: %v\n%s", err, out)
	}
	var rec struct {
		Transactions []struct {
			Hash            common.Hash
			TransactionType string
			ContractName    string
			ContractAddress *common.Address
			Function        *string
		}
		Receipts []struct {
			TransactionHash common.Hash
			Status          string
			BlockNumber     string
		}
	}
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatalf("broadcast record: %v", err)
	}
	want := []struct{ typ, name string }{{"CREATE", "Token"}, {"CREATE", "BitcoinReader"}, {"CALL", "Token"}, {"CALL", "Token"}}
	if len(rec.Transactions) != len(want) || len(rec.Receipts) != len(want) {
		t.Fatalf("broadcast record has %d transactions and %d receipts, want %d\n%s", len(rec.Transactions), len(rec.Receipts), len(want), raw)
	}
	recorded := map[common.Hash]int{}
	for i, r := range rec.Receipts {
		recorded[r.TransactionHash] = i
	}
	addrs := map[string]common.Address{}
	for i, tx := range rec.Transactions {
		if tx.TransactionType != want[i].typ || tx.ContractName != want[i].name || tx.ContractAddress == nil {
			t.Fatalf("transaction %d: %s %s, want %s %s", i, tx.TransactionType, tx.ContractName, want[i].typ, want[i].name)
		}
		r, err := s.ec.TransactionReceipt(context.Background(), tx.Hash)
		if err != nil {
			t.Fatalf("receipt of script transaction %d (%s): %v", i, tx.Hash, err)
		}
		ri, ok := recorded[tx.Hash]
		if !ok {
			t.Fatalf("transaction %d %s has no receipt in the broadcast record", i, tx.Hash)
		}
		fr := rec.Receipts[ri]
		n, _ := strconv.ParseUint(strings.TrimPrefix(fr.BlockNumber, "0x"), 16, 64)
		if r.Status != types.ReceiptStatusSuccessful || fr.Status != "0x1" || fr.TransactionHash != tx.Hash || n != r.BlockNumber.Uint64() {
			t.Fatalf("transaction %d %s: chain status %d block %d; forge recorded %+v", i, tx.Hash, r.Status, r.BlockNumber, fr)
		}
		if tx.TransactionType == "CREATE" {
			if r.ContractAddress != *tx.ContractAddress {
				t.Fatalf("%s created at %s, forge recorded %s", tx.ContractName, r.ContractAddress, tx.ContractAddress)
			}
			addrs[tx.ContractName] = r.ContractAddress
			p.checkCode(t, s, tx.ContractName, r.ContractAddress)
		} else if *tx.ContractAddress != addrs["Token"] {
			t.Fatalf("call %d to %s, not the token %s", i, tx.ContractAddress, addrs["Token"])
		}
	}
	tok, token := p.artifacts["Token"], addrs["Token"]
	if got := tok.call(t, s, token, nil, "balanceOf", recipient)[0].(*big.Int); got.Cmp(ether(1234)) != 0 {
		t.Fatalf("recipient balance %v, want 1234 ether", got)
	}
	if got := tok.call(t, s, token, nil, "balanceOf", common.HexToAddress(from))[0].(*big.Int); got.Cmp(new(big.Int).Sub(ether(1_000_000), ether(1234))) != 0 {
		t.Fatalf("deployer balance %v", got)
	}
	if got := tok.call(t, s, token, nil, "allowance", common.HexToAddress(from), recipient)[0].(*big.Int); got.Cmp(ether(77)) != 0 {
		t.Fatalf("allowance %v, want 77 ether", got)
	}
	// The script's reader reads Bitcoin: the payee's script through 0x46.
	reader := addrs["BitcoinReader"]
	script := p.artifacts["BitcoinReader"].call(t, s, reader, nil, "script", s.pAddr)[0].([]byte)
	if hexutil.Encode(script) != hexutil.Encode(s.pScript) {
		t.Fatalf("script(%s) = %x, want %x", s.pAddr, script, s.pScript)
	}
}

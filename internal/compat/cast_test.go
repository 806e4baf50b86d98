package compat

import (
	"bytes"
	"context"
	"encoding/json"
	"math/big"
	"slices"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
)

// castReceipt is what the tests read of cast's JSON receipts.
type castReceipt struct {
	Type            hexutil.Uint64
	Status          hexutil.Uint64
	TransactionHash common.Hash
	BlockNumber     hexutil.Uint64
	BlockHash       common.Hash
	GasUsed         hexutil.Uint64
	Logs            []types.Log
	RevertReason    string
}

// castClient runs cast against the stack.
type castClient struct {
	t   *testing.T
	bin string
	url string
}

func (c castClient) run(args ...string) (string, string, error) {
	c.t.Helper()
	full := append([]string{args[0], "--rpc-url", c.url}, args[1:]...)
	return run(c.t, "", nil, c.bin, full...)
}

func (c castClient) must(args ...string) string {
	c.t.Helper()
	full := append([]string{args[0], "--rpc-url", c.url}, args[1:]...)
	return mustRun(c.t, "", nil, c.bin, full...)
}

// send runs `cast send --json` and decodes the receipt cast prints.
func (c castClient) send(args ...string) castReceipt {
	c.t.Helper()
	out := c.must(append([]string{"send", "--json"}, args...)...)
	var r castReceipt
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		c.t.Fatalf("cast send %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return r
}

// balanceSlot is the storage slot of Token.balanceOf[a] (the mapping is
// the fourth state variable: slot 3).
func balanceSlot(a common.Address) common.Hash {
	return crypto.Keccak256Hash(common.LeftPadBytes(a.Bytes(), 32), common.LeftPadBytes([]byte{3}, 32))
}

// TestCast drives a forge-deployed ERC-20 with cast: token transfers as
// EIP-1559, legacy and EIP-2930 (access list from eth_createAccessList)
// transactions, receipts, transactions, Transfer logs with topic filters,
// blocks, code and balances at every block tag (safe and finalized once
// Bitcoin has confirmed keystones past the transfers: the finality
// service's heads), and a revert whose reason cast decodes, both from
// eth_call and from a mined failed transaction.
func TestCast(t *testing.T) {
	p := getProject(t)
	s := getStack(t)
	c := castClient{t: t, bin: castBin(t), url: s.url}
	ctx := context.Background()
	fromHex, key := s.account(3)
	from := common.HexToAddress(fromHex)
	recipient := common.HexToAddress("0x00000000000000000000000000000000000CA570")
	const supply = 1_000_000
	token, deploy := p.forgeCreate(t, s, key, "Token", "Cast Token", "CST", "1000000")

	// Transfers of each transaction type.
	var sent []castReceipt
	for _, tc := range []struct {
		name   string
		flags  []string
		typ    uint64
		amount int64
	}{
		{"eip1559", nil, types.DynamicFeeTxType, 100},
		{"legacy", []string{"--legacy"}, types.LegacyTxType, 200},
		// --access-list last and empty: cast asks eth_createAccessList.
		{"eip2930", []string{"--legacy", "--access-list"}, types.AccessListTxType, 300},
	} {
		args := append([]string{"--private-key", key, token.Hex(), "transfer(address,uint256)", recipient.Hex(), big.NewInt(tc.amount).String()}, tc.flags...)
		r := c.send(args...)
		if uint64(r.Status) != 1 || uint64(r.Type) != tc.typ || len(r.Logs) != 1 {
			t.Fatalf("%s: cast receipt status %d type %d logs %d, want status 1 type %d and one Transfer", tc.name, r.Status, r.Type, len(r.Logs), tc.typ)
		}
		l := r.Logs[0]
		if l.Address != token || l.Topics[0] != transferTopic || l.Topics[1] != common.BytesToHash(from.Bytes()) ||
			l.Topics[2] != common.BytesToHash(recipient.Bytes()) || new(big.Int).SetBytes(l.Data).Int64() != tc.amount {
			t.Fatalf("%s: Transfer log %+v", tc.name, l)
		}
		// The chain agrees with cast's receipt.
		gr, err := s.ec.TransactionReceipt(ctx, r.TransactionHash)
		if err != nil {
			t.Fatalf("%s: receipt %s: %v", tc.name, r.TransactionHash, err)
		}
		if gr.Type != uint8(tc.typ) || gr.BlockHash != r.BlockHash || gr.GasUsed != uint64(r.GasUsed) || gr.BlockNumber.Uint64() != uint64(r.BlockNumber) {
			t.Fatalf("%s: chain receipt type %d block %s gas %d; cast printed %+v", tc.name, gr.Type, gr.BlockHash, gr.GasUsed, r)
		}
		sent = append(sent, r)
	}
	// cast tx shows the access list cast built: the token's two balance slots.
	var tx struct {
		Type       hexutil.Uint64
		AccessList types.AccessList
	}
	if out := c.must("tx", sent[2].TransactionHash.Hex(), "--json"); json.Unmarshal([]byte(out), &tx) != nil || len(tx.AccessList) != 1 {
		t.Fatalf("cast tx of the EIP-2930 transfer: %s", out)
	}
	keys := tx.AccessList[0].StorageKeys
	want := []common.Hash{balanceSlot(from), balanceSlot(recipient)}
	slices.SortFunc(keys, func(a, b common.Hash) int { return bytes.Compare(a[:], b[:]) })
	slices.SortFunc(want, func(a, b common.Hash) int { return bytes.Compare(a[:], b[:]) })
	if uint64(tx.Type) != types.AccessListTxType || tx.AccessList[0].Address != token || !slices.Equal(keys, want) {
		t.Fatalf("access list %+v, want the token %s with the balance slots %v", tx.AccessList, token, want)
	}
	// cast receipt of the legacy transfer.
	var rc castReceipt
	if out := c.must("receipt", sent[1].TransactionHash.Hex(), "--json"); json.Unmarshal([]byte(out), &rc) != nil ||
		rc.BlockHash != sent[1].BlockHash || uint64(rc.Type) != types.LegacyTxType || uint64(rc.Status) != 1 {
		t.Fatalf("cast receipt %s: %s", sent[1].TransactionHash, out)
	}
	if out := c.must("call", token.Hex(), "balanceOf(address)(uint256)", recipient.Hex()); out != "600" {
		t.Fatalf("balanceOf(recipient) = %q, want 600", out)
	}

	// Logs: every Transfer of the token, then only those to the recipient.
	sig := "Transfer(address indexed from,address indexed to,uint256 value)"
	var logs []types.Log
	out := c.must("logs", "--from-block", deploy.BlockNumber.String(), "--address", token.Hex(), sig, "--json")
	if err := json.Unmarshal([]byte(out), &logs); err != nil || len(logs) != 4 {
		t.Fatalf("cast logs: %d logs (want the mint and 3 transfers): %v\n%s", len(logs), err, out)
	}
	if logs[0].TxHash != deploy.TxHash || logs[0].Topics[1] != (common.Hash{}) {
		t.Fatalf("first Transfer is not the mint: %+v", logs[0])
	}
	for i, r := range sent {
		if logs[i+1].TxHash != r.TransactionHash || logs[i+1].BlockHash != r.BlockHash {
			t.Fatalf("Transfer %d: log of %s, sent %s", i+1, logs[i+1].TxHash, r.TransactionHash)
		}
	}
	out = c.must("logs", "--from-block", "0", "--address", token.Hex(), sig, "", recipient.Hex(), "--json")
	if err := json.Unmarshal([]byte(out), &logs); err != nil || len(logs) != 3 {
		t.Fatalf("cast logs to the recipient: %d logs, want 3: %v\n%s", len(logs), err, out)
	}

	// Every block tag. Bitcoin first confirms a keystone at or after the
	// last transfer to the superfinal depth, then a later one once, so
	// safe and finalized are the finality service's heads, distinct,
	// above the genesis and past the transfers; earliest is the genesis.
	last := uint64(sent[2].BlockNumber)
	final := s.finalize(t, last)
	heads := s.confirm(t, final.Safe+1, 1)
	if heads.Finalized < last || heads.Safe <= heads.Finalized {
		t.Fatalf("finality heads: safe %d, finalized %d; want finalized at or after the last transfer (%d) and safe after it", heads.Safe, heads.Finalized, last)
	}
	t.Logf("finality heads: safe %d, finalized %d (last transfer in %d)", heads.Safe, heads.Finalized, last)
	genesis := s.l2.Chain.Genesis().Hash()
	runtime := hexutil.Encode(p.artifacts["Token"].Runtime)
	for _, tag := range []string{"latest", "pending", "earliest", "safe", "finalized"} {
		var b struct {
			Number hexutil.Uint64
			Hash   common.Hash
		}
		out := c.must("block", tag, "--json")
		if err := json.Unmarshal([]byte(out), &b); err != nil {
			t.Fatalf("cast block %s: %v\n%s", tag, err, out)
		}
		onChain, err := s.l2.Chain.BlockByNumber(uint64(b.Number))
		if err != nil || onChain.Hash() != b.Hash {
			t.Fatalf("cast block %s: number %d hash %s is not the chain's block (%v)", tag, b.Number, b.Hash, err)
		}
		switch want := map[string]uint64{"safe": heads.Safe, "finalized": heads.Finalized}; tag {
		case "safe", "finalized":
			if uint64(b.Number) != want[tag] {
				t.Fatalf("cast block %s: number %d, the finality service's %s head is %d", tag, b.Number, tag, want[tag])
			}
		}
		code := c.must("code", "--block", tag, token.Hex())
		bal := c.must("balance", "--block", tag, from.Hex())
		switch tag {
		case "earliest":
			if b.Number != 0 || b.Hash != genesis || code != "0x" || bal != "10000000000000000000000" {
				t.Fatalf("%s: block %d %s (genesis %s), token code %q, sender balance %s (want the genesis' 10000 ETH)", tag, b.Number, b.Hash, genesis, code, bal)
			}
		default:
			if uint64(b.Number) < last || code != runtime {
				t.Fatalf("%s: block %d (last transfer in %d), token code %.20s...", tag, b.Number, last, code)
			}
			if out := c.must("call", "--block", tag, token.Hex(), "balanceOf(address)(uint256)", from.Hex()); out != "999400 [9.994e5]" {
				t.Fatalf("%s: balanceOf(sender) = %q, want 999400", tag, out)
			}
			if bal == "10000000000000000000000" {
				t.Fatalf("%s: the sender's ETH balance %s did not pay any fee", tag, bal)
			}
		}
	}
	s.checkHeads(t, heads)
	// A number: before the first transfer the recipient had nothing.
	if out := c.must("call", "--block", deploy.BlockNumber.String(), token.Hex(), "balanceOf(address)(uint256)", recipient.Hex()); out != "0" {
		t.Fatalf("balanceOf(recipient) at the deploy block = %q, want 0", out)
	}

	// Reverts: eth_call's reason, then a mined failed transfer (gas limit
	// set so cast does not estimate) whose reason cast replays.
	const reason = "Token: transfer amount exceeds balance"
	tooMuch := big.NewInt(supply + 1).String()
	if out, errOut, err := c.run("call", "--from", from.Hex(), token.Hex(), "transfer(address,uint256)", recipient.Hex(), tooMuch); err == nil ||
		!strings.Contains(errOut, "execution reverted: "+reason) {
		t.Fatalf("cast call of a failing transfer: %v, want the revert reason %q\nstdout: %s\nstderr: %s", err, reason, out, errOut)
	}
	r := c.send("--private-key", key, "--gas-limit", "100000", token.Hex(), "transfer(address,uint256)", recipient.Hex(), tooMuch)
	if uint64(r.Status) != 0 || !strings.HasPrefix(r.RevertReason, reason) || len(r.Logs) != 0 {
		t.Fatalf("failed transfer: status %d revert reason %q logs %d, want status 0 and %q", r.Status, r.RevertReason, len(r.Logs), reason)
	}
	if gr, err := s.ec.TransactionReceipt(ctx, r.TransactionHash); err != nil || gr.Status != types.ReceiptStatusFailed {
		t.Fatalf("chain receipt of the failed transfer: %+v %v", gr, err)
	}
	if out := c.must("call", token.Hex(), "balanceOf(address)(uint256)", recipient.Hex()); out != "600" {
		t.Fatalf("balanceOf(recipient) after the failed transfer = %q, want 600", out)
	}
}

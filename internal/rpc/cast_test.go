package rpc

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/consensus/misc/eip1559"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/sequencer"
	"github.com/hemi-go/hemi/internal/testtools"
)

// autoMine builds a block from the pool's pending transactions every
// interval until ctx is done, empty blocks included (a stand-in for the
// sequencer; clients such as ethers wait for the next block to look for
// a receipt again).
func (e *testEnv) autoMine(ctx context.Context, interval time.Duration) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			head := e.chain.Head()
			base := eip1559.CalcBaseFee(e.chain.Config().ChainConfig, head)
			txs := sequencer.Order(e.pool.Pending(base), base) // empty blocks too, as the sequencer
			if e.view < len(e.btc.Headers)-3 {
				e.view++
			}
			b, err := e.chain.BuildBlock(chain.BuildParams{Parent: head, Time: head.Time + 2, View: e.btc.Headers[e.view],
				Coinbase: crypto.PubkeyToAddress(seqKey.PublicKey), Txs: txs})
			if err == nil {
				err = block.Seal(b.Block.Header, seqKey)
			}
			if err == nil {
				err = e.chain.CommitBuilt(b)
			}
			if err != nil {
				e.t.Errorf("auto mine: %v", err)
				return
			}
		}
	}()
	return &wg
}

// TestCast runs Foundry's cast against the server: the real client the
// compatibility suite uses (skipped without the binary).
func TestCast(t *testing.T) {
	castBin := testtools.Tool(t, "cast")
	e := newEnv(t, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	wg := e.autoMine(ctx, 50*time.Millisecond)
	defer wg.Wait()
	defer cancel()

	// cast returns its stdout (the answer, JSON with --json) and its
	// stderr (errors, and log lines such as its nightly-build warning)
	// apart: read together, a log line corrupts the JSON.
	cast := func(args ...string) (stdout, stderr string, err error) {
		t.Helper()
		full := append([]string{args[0], "--rpc-url", e.url}, args[1:]...)
		return testtools.Cmd{Bin: castBin, Args: full}.Run()
	}
	must := func(args ...string) string {
		t.Helper()
		out, errOut, err := cast(args...)
		if err != nil {
			t.Fatalf("cast %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
		}
		return out
	}
	key0 := hexutil.Encode(crypto.FromECDSA(e.key(0)))
	to := e.addr(5).Hex()

	if out := must("chain-id"); out != "7431337" {
		t.Fatalf("chain-id %q", out)
	}
	// Transfers of every type cast sends: EIP-1559 (default) and legacy.
	var rcpt struct {
		Status          string
		TransactionHash common.Hash
		BlockNumber     string
		Type            string
		ContractAddress *common.Address
	}
	for _, tc := range []struct {
		name string
		args []string
		typ  string
	}{
		{"eip1559", nil, "0x2"},
		{"legacy", []string{"--legacy"}, "0x0"},
	} {
		out := must(append([]string{"send", "--private-key", key0, "--json", to, "--value", "1"}, tc.args...)...)
		if err := json.Unmarshal([]byte(out), &rcpt); err != nil || rcpt.Status != "0x1" || rcpt.Type != tc.typ {
			t.Fatalf("%s send: %v\n%s", tc.name, err, out)
		}
	}
	if out := must("balance", to); !strings.HasSuffix(out, "002") {
		t.Fatalf("balance %s", out)
	}
	// Deploy testRuntime, call it, estimate, read logs and a revert.
	out := must("send", "--private-key", key0, "--json", "--create", hexutil.Encode(initCode(testRuntime)))
	if err := json.Unmarshal([]byte(out), &rcpt); err != nil || rcpt.ContractAddress == nil {
		t.Fatalf("deploy: %v\n%s", err, out)
	}
	contract := rcpt.ContractAddress.Hex()
	if out := must("call", contract); !strings.HasSuffix(out, "2a") {
		t.Fatalf("call %s", out)
	}
	if out := must("estimate", contract); out == "" || out == "21000" {
		t.Fatalf("estimate %s", out)
	}
	out = must("send", "--private-key", key0, "--json", contract)
	if err := json.Unmarshal([]byte(out), &rcpt); err != nil || rcpt.Status != "0x1" {
		t.Fatalf("call tx: %v\n%s", err, out)
	}
	if out := must("logs", "--from-block", "0", "--address", contract, "--json"); !strings.Contains(out, "0x0000000000000000000000000000000000000000000000000000000000000abc") {
		t.Fatalf("logs %s", out)
	}
	if _, errOut, err := cast("call", contract, "0x01"); err == nil || !strings.Contains(errOut, "execution reverted") || !strings.Contains(errOut, "boom") {
		t.Fatalf("revert: %v\n%s", err, errOut)
	}
	if out := must("receipt", rcpt.TransactionHash.Hex(), "--json"); !strings.Contains(out, `"status":"0x1"`) {
		t.Fatalf("receipt %s", out)
	}
	// Blocks with system transactions, every tag.
	for _, tag := range []string{"latest", "pending", "earliest", "safe", "finalized", "1"} {
		if out := must("block", tag, "--json"); !strings.Contains(out, `"hash"`) {
			t.Fatalf("block %s: %s", tag, out)
		}
	}
	out = must("block", "1", "--full", "--json")
	if !strings.Contains(out, `"0x7e"`) || !strings.Contains(out, "sourceHash") {
		t.Fatalf("full block without the system tx: %s", out)
	}
	var blk struct{ Transactions []struct{ Hash common.Hash } }
	if err := json.Unmarshal([]byte(out), &blk); err != nil || len(blk.Transactions) == 0 {
		t.Fatalf("full block: %v", err)
	}
	if out := must("tx", blk.Transactions[0].Hash.Hex(), "--json"); !strings.Contains(out, "sourceHash") {
		t.Fatalf("system tx %s", out)
	}
	if out := must("receipt", blk.Transactions[0].Hash.Hex(), "--json"); !strings.Contains(out, `"type":"0x7e"`) {
		t.Fatalf("system receipt %s", out)
	}
	if out := must("rpc", "hemi_bitcoinView", "latest"); !strings.Contains(out, "height") {
		t.Fatalf("hemi_bitcoinView %s", out)
	}
	// Nonce too low is reported as such.
	if _, errOut, err := cast("send", "--private-key", key0, "--nonce", "0", to, "--value", "1"); err == nil || !strings.Contains(errOut, "nonce too low") {
		t.Fatalf("nonce too low: %v\n%s", err, errOut)
	}
}

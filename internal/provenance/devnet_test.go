package provenance_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/params"

	"github.com/hemi-go/hemi/internal/devnet/devnettest"
	"github.com/hemi-go/hemi/internal/provenance"
	"github.com/hemi-go/hemi/verify"
)

var update = flag.Bool("update", false, "rewrite verify/testdata's devnet bundle and genesis")

// The devnet of these tests: keystones every 4 blocks, superfinal at 3
// Bitcoin confirmations, so a transfer is anchored within seconds.
const (
	devInterval = 4
	devDepth    = 3
)

// TestDevnetTransferBundle runs a whole devnet (regtest Bitcoin, the
// indexer, the L2 with its sequencer, the PoP miner), sends a transfer,
// and checks that its bundle is refused with ErrNotYet before the
// keystone is published, then built once the publication is superfinal,
// and verified by the offline verifier with the network's genesis file
// as the identity. With -update it writes the bundle and the genesis to
// verify/testdata, where the native and WebAssembly tests read them.
func TestDevnetTransferBundle(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a whole devnet")
	}
	ctx, s := startDevnet(t, 3*time.Minute, true)
	ec, err := ethclient.DialContext(ctx, s.RPCURL)
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	cfg := &s.L2.Spec.Config
	chainID := new(big.Int).SetUint64(cfg.ChainID)
	to := common.HexToAddress("0x000000000000000000000000000000000000b0b0")
	tx, err := types.SignNewTx(s.L2.Accounts[0].Key, types.LatestSignerForChainID(chainID), &types.DynamicFeeTx{ChainID: chainID,
		GasTipCap: big.NewInt(params.GWei), GasFeeCap: big.NewInt(10 * params.GWei), Gas: params.TxGas, To: &to, Value: big.NewInt(params.Ether)})
	if err != nil {
		t.Fatal(err)
	}
	if err := ec.SendTransaction(ctx, tx); err != nil {
		t.Fatal(err)
	}
	var rc *types.Receipt
	if err := s.WaitFor(ctx, "the transfer's receipt", func() bool {
		rc, err = ec.TransactionReceipt(ctx, tx.Hash())
		return err == nil
	}); err != nil {
		t.Fatal(err)
	}
	b, err := provenance.New(provenance.Config{Chain: s.L2.Chain, Finality: s.L2.Finality, Bitcoin: s.TBC.Index(),
		ChainID: cfg.ChainID, BitcoinNetwork: "regtest"})
	if err != nil {
		t.Fatal(err)
	}
	// No Bitcoin block was mined since the L2 started: nothing is
	// published yet.
	if _, err := b.Tx(tx.Hash()); !errors.Is(err, provenance.ErrNotYet) || !strings.Contains(err.Error(), "ask again") {
		t.Fatalf("bundle before publication: %v, want ErrNotYet saying when to ask again", err)
	}
	n := rc.BlockNumber.Uint64()
	if _, err := s.MineUntilSuperfinal(ctx, n, 200); err != nil {
		t.Fatal(err)
	}
	bundle, err := b.Tx(tx.Hash())
	if err != nil {
		t.Fatal(err)
	}
	data, err := bundle.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	// The node's hemi_getProvenance answers the same bundle.
	var raw json.RawMessage
	if err := ec.Client().CallContext(ctx, &raw, "hemi_getProvenance", tx.Hash().Hex()); err != nil {
		t.Fatal(err)
	}
	fromRPC, err := verify.ParseBundle(raw)
	if err != nil {
		t.Fatal(err)
	}
	if rpcData, _ := fromRPC.Marshal(); !bytes.Equal(rpcData, data) {
		t.Fatalf("hemi_getProvenance answered another bundle:\n%s", rpcData)
	}
	if err := ec.Client().CallContext(ctx, &raw, "hemi_getProvenance", "0x1234"); err == nil || !strings.Contains(err.Error(), "transaction hash") {
		t.Fatalf("hemi_getProvenance(0x1234): %v", err)
	}
	gen, id := devnetIdentity(t, s)
	if id.GenesisHash != s.L2.File.Hash() {
		t.Fatalf("the verifier's genesis hash %v, the node's %v", id.GenesisHash, s.L2.File.Hash())
	}
	r := verify.VerifyJSON(data, verify.Options{Identity: id, Now: time.Now()})
	if !r.OK {
		t.Fatalf("the devnet's bundle does not verify: %s: %s", r.FailedLink, r.Error)
	}
	if r.TxHash != tx.Hash().Hex() || r.L2Block != n || r.KeystoneConfs < devDepth || *r.TxStatus != 1 {
		t.Fatalf("result %+v", r)
	}
	t.Logf("%d bytes (%d Bitcoin headers); %s", len(data), len(bundle.Bitcoin.Headers), r.Statement)
	// Without the genesis the devnet pin applies, whose keystone
	// interval (25) is not this test network's.
	if r := verify.VerifyJSON(data, verify.Options{}); r.OK || r.FailedLink != verify.LinkKeystone {
		t.Fatalf("with the devnet pin: %+v", r)
	}
	writeTestdata(t, "devnet_transfer.json", data, "devnet_genesis.json", gen)
}

// startDevnet starts the devnet of these tests (with rpc its JSON-RPC)
// in a context of timeout; when the test ends it is closed, and its
// close checked, before that context is cancelled.
func startDevnet(t *testing.T, timeout time.Duration, rpc bool) (context.Context, *devnettest.Stack) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	s, err := devnettest.StartStack(ctx, devnettest.StackConfig{DataDir: t.TempDir(), L2BlockTime: time.Second,
		KeystoneInterval: devInterval, SuperfinalDepth: devDepth, RPC: rpc})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("stack: %v", err)
		}
	})
	return ctx, s
}

// devnetIdentity is the devnet's genesis file and the verifier's
// identity parsed from it.
func devnetIdentity(t *testing.T, s *devnettest.Stack) ([]byte, *verify.Identity) {
	t.Helper()
	gen, err := s.L2.File.Encode()
	if err != nil {
		t.Fatal(err)
	}
	id, err := verify.ParseGenesis(gen)
	if err != nil {
		t.Fatal(err)
	}
	return gen, id
}

// writeTestdata writes, with -update, a bundle and its genesis to
// verify/testdata, where the native and WebAssembly tests read them.
func writeTestdata(t *testing.T, name string, data []byte, genesisName string, gen []byte) {
	t.Helper()
	if !*update {
		return
	}
	dir := filepath.Join("..", "..", "verify", "testdata")
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, genesisName), gen, 0o644); err != nil {
		t.Fatal(err)
	}
}

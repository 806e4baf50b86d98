package rpc

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/hemi-go/hemi/internal/testtools"
)

// TestEthers runs testdata/ethers.mjs (ethers v6: fee data, transfers and
// waits, blocks with prefetched system transactions, receipts, a deploy,
// calls, logs, revert reason, nonce too low) against the server. It needs
// node and ethers (testtools.NPM: $HEMI_ETHERS_DIR or .tools/npm);
// skipped otherwise.
func TestEthers(t *testing.T) {
	dir, nodeBin := testtools.NPM(t, "ethers")
	e := newEnv(t, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	wg := e.autoMine(ctx, 50*time.Millisecond)
	defer wg.Wait()
	defer cancel()

	script, err := filepath.Abs("testdata/ethers.mjs")
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, err := testtools.Cmd{Bin: nodeBin, Timeout: 90 * time.Second, Env: []string{"HEMI_ETHERS_DIR=" + dir},
		Args: []string{script, e.url, hexutil.Encode(crypto.FromECDSA(e.key(0))), hexutil.Encode(initCode(testRuntime))}}.Run()
	if err != nil || !strings.HasSuffix(out, "ok") {
		t.Fatalf("ethers: %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}
}

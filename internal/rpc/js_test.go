package rpc

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
)

// TestEthers runs testdata/ethers.mjs (ethers v6: fee data, transfers and
// waits, blocks with prefetched system transactions, receipts, a deploy,
// calls, logs, revert reason, nonce too low) against the server. It needs
// node and a directory holding node_modules/ethers in $HEMI_ETHERS_DIR;
// skipped otherwise.
func TestEthers(t *testing.T) {
	dir := os.Getenv("HEMI_ETHERS_DIR")
	if dir == "" {
		t.Skip("HEMI_ETHERS_DIR (a directory with node_modules/ethers, npm install ethers@6) not set")
	}
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not found")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "ethers")); err != nil {
		t.Skipf("no ethers in %s: %v", dir, err)
	}
	e := newEnv(t, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	wg := e.autoMine(ctx, 50*time.Millisecond)
	defer wg.Wait()
	defer cancel()

	script, err := filepath.Abs("testdata/ethers.mjs")
	if err != nil {
		t.Fatal(err)
	}
	cctx, stop := context.WithTimeout(context.Background(), 90*time.Second)
	defer stop()
	cmd := exec.CommandContext(cctx, nodeBin, script, e.url, hexutil.Encode(crypto.FromECDSA(e.key(0))), hexutil.Encode(initCode(testRuntime)))
	cmd.Env = append(os.Environ(), "HEMI_ETHERS_DIR="+dir)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut // apart: node's warnings go to stderr
	err = cmd.Run()
	if err != nil || !strings.HasSuffix(strings.TrimSpace(out.String()), "ok") {
		t.Fatalf("ethers: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errOut.String())
	}
}

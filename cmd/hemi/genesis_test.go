package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/devnet"
	"github.com/hemi-go/hemi/internal/testtools/testkit"
)

// runOut runs hemi with args and returns what it printed.
func runOut(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out bytes.Buffer
	app := newApp()
	app.Writer, app.ErrWriter = &out, &out
	err := app.Run(ctx, append([]string{"hemi"}, args...))
	return out.String(), err
}

const regtestGenesisHash = "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"

// TestGenesisNewAndHash: `hemi genesis new` writes a file from its flags
// with the owning packages' defaults, prints its hash, refuses to
// overwrite and refuses a parameter that does not validate, naming the
// genesis field; `hemi genesis hash` prints the same hash.
func TestGenesisNewAndHash(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "genesis.json")
	args := []string{"genesis", "new", "--chain-id", "7431338", "--network", "regtest", "--btc-height", "0", "--btc-hash", regtestGenesisHash,
		"--sequencer", "0x70997970C51812dc3A010C7d01b50e0d17dc79C8:seq-1", "--sequencer", "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
		"--time", "1700000000", "--superfinal-depth", "4", "--alloc", "0x00000000000000000000000000000000000000aA=12345", "--dev-accounts"}
	out, err := runOut(t, append(args, path)...)
	if err != nil {
		t.Fatal(err)
	}
	f, err := genesis.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	c := f.Config
	if c.ChainID != 7431338 || c.BitcoinNetwork != "regtest" || f.Time != 1_700_000_000 || len(c.Sequencers) != 2 ||
		f.SequencerNames[0] != "seq-1" || f.SequencerNames[1] != "" || c.PoP.SuperfinalDepth != 4 ||
		c.BlockTime != genesis.DefaultBlockTime || c.GasLimit != genesis.DefaultGasLimit || c.KeystoneInterval != genesis.DefaultKeystoneInterval ||
		c.PoP.RewardDelay != genesis.DefaultRewardDelay || c.PoP.Reward.Cmp(genesis.DefaultReward()) != 0 || c.ViewLag != genesis.DefaultViewLag {
		t.Fatalf("file %+v", f)
	}
	if len(f.Alloc) != genesis.DevAccountCount+1 || f.Alloc[common.HexToAddress("0xaa")].Balance.Int64() != 12345 {
		t.Fatalf("alloc: %d accounts, 0xaa %v; want the dev accounts and 0xaa", len(f.Alloc), f.Alloc[common.HexToAddress("0xaa")])
	}
	if !strings.Contains(out, f.Hash().Hex()) {
		t.Fatalf("genesis new printed %q, want the hash %s", out, f.Hash())
	}
	out, err = runOut(t, "genesis", "hash", path)
	if err != nil || strings.TrimSpace(out) != f.Hash().Hex() {
		t.Fatalf("genesis hash: %q, %v; want %s", out, err, f.Hash())
	}
	before, _ := os.ReadFile(path)
	if _, err := runOut(t, append(args, path)...); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("overwrite: %v", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("the existing file was changed")
	}
	for _, bad := range []struct{ flag, value, field string }{
		{"--superfinal-depth", "0", "pop.superfinal_depth"},
		{"--chain-id", "0", "chain_id"},
		{"--block-time", "0", "block_time"},
		{"--btc-hash", strings.Repeat("ab", 32), "bitcoin.genesis_hash"},
		{"--keystone-interval", "0", "keystone_interval"},
		{"--sequencer", "0x0000000000000000000000000000000000000000", "sequencers[2].address"},
		{"--alloc", "0x90F79bf6EB2c4f870365E785982E1f101E93b906=1", "funded twice"},
		{"--alloc", "0xaa=1", "ADDRESS=WEI"},
	} {
		p := filepath.Join(dir, "bad.json")
		if _, err := runOut(t, append(append(slicesClone(args), bad.flag, bad.value), p)...); err == nil || !strings.Contains(err.Error(), bad.field) {
			t.Errorf("%s %s: %v, want an error naming %s", bad.flag, bad.value, err, bad.field)
		}
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s %s: a file was written", bad.flag, bad.value)
		}
	}
	if _, err := runOut(t, "genesis", "hash", filepath.Join(dir, "absent.json")); err == nil {
		t.Fatal("hash of a missing file")
	}
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }

// TestDevnetGenesisFileRunsSameNetwork: the genesis file `hemi devnet`
// writes, given to `hemi node --genesis` against the same Bitcoin, gives
// the devnet's genesis block, served over JSON-RPC by the second node.
func TestDevnetGenesisFileRunsSameNetwork(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d, err := devnet.Start(ctx, devnet.StartConfig{DataDir: t.TempDir(), InitialBlocks: 5, PoPM: devnet.PoPMConfig{Off: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	want := d.L2.Chain.Genesis().Hash()
	if d.GenesisPath != filepath.Join(filepath.Dir(d.GenesisPath), devnet.GenesisFile) {
		t.Fatalf("genesis path %s", d.GenesisPath)
	}
	out, err := runOut(t, "genesis", "hash", d.GenesisPath)
	if err != nil || strings.TrimSpace(out) != d.L2.File.Hash().Hex() {
		t.Fatalf("hash of the devnet's file: %q, %v; want %s", out, err, d.L2.File.Hash())
	}

	rpcAddr := testkit.FreeAddr(t)
	nctx, ncancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		app := newApp()
		app.Writer, app.ErrWriter = &bytes.Buffer{}, &bytes.Buffer{}
		done <- app.Run(nctx, []string{"hemi", "--datadir", t.TempDir(), "--log-level", "error", "node",
			"--genesis", d.GenesisPath, "--network", "regtest", "--peer", d.BTC.P2PAddr(), "--rpc", rpcAddr, "--api", ""})
	}()
	var got *types.Header
	for got == nil {
		select {
		case err := <-done:
			t.Fatalf("hemi node stopped: %v", err)
		case <-ctx.Done():
			t.Fatal("hemi node served no genesis block in 2 minutes")
		case <-time.After(100 * time.Millisecond):
		}
		cl, err := gethrpc.DialContext(ctx, "http://"+rpcAddr)
		if err != nil {
			continue
		}
		var h types.Header
		if err := cl.CallContext(ctx, &h, "eth_getBlockByNumber", "0x0", false); err == nil && h.Number != nil {
			got = &h
		}
		cl.Close()
	}
	if got.Hash() != want {
		t.Fatalf("hemi node --genesis %s: genesis block %s, the devnet's is %s", d.GenesisPath, got.Hash(), want)
	}
	ncancel()
	if err := <-done; err != nil {
		t.Fatalf("hemi node after ctx ended: %v", err)
	}
}

// TestPinGenesis: a node keeps its genesis file beside its L2 data and
// refuses another one on the same data later, even one whose genesis
// block is the same (a PoP parameter changed).
func TestPinGenesis(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "l2")
	f, err := genesis.Load(writeGenesisFile(t))
	if err != nil {
		t.Fatal(err)
	}
	g := *f
	g.Config.PoP.SuperfinalDepth++
	if err := pinGenesis(dir, "b.json", &g, false); err != nil {
		t.Fatalf("nothing kept yet: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, pinnedGenesis)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a check without keep wrote the file: %v", err)
	}
	if err := pinGenesis(dir, "a.json", f, true); err != nil {
		t.Fatal(err)
	}
	if err := pinGenesis(dir, "a.json", f, false); err != nil {
		t.Fatalf("the same file again: %v", err)
	}
	if err := pinGenesis(dir, "b.json", &g, false); err == nil || !strings.Contains(err.Error(), "b.json has hash "+g.Hash().Hex()) ||
		!strings.Contains(err.Error(), f.Hash().Hex()) {
		t.Fatalf("another file on the same data: %v", err)
	}
}

// TestGenesisNewTunnel: the tunnel flags write the genesis "tunnel"
// object (majority thresholds by default), --dev-tunnel writes the dev
// keys, and a bad tunnel flag is an error naming the field or flag.
func TestGenesisNewTunnel(t *testing.T) {
	dir := t.TempDir()
	signers, recovery, err := genesis.DevTunnelKeys()
	if err != nil {
		t.Fatal(err)
	}
	x := func(k genesis.DevTunnelKey) string { return hex.EncodeToString(k.XOnly[:]) }
	base := []string{"genesis", "new", "--chain-id", "7431338", "--network", "regtest", "--btc-height", "0", "--btc-hash", regtestGenesisHash,
		"--sequencer", "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", "--time", "1700000000"}
	args := append(slicesClone(base), "--tunnel-signer", x(signers[0]), "--tunnel-signer", strings.ToUpper(x(signers[1])), "--tunnel-signer", x(signers[2]),
		"--tunnel-recovery", x(recovery[0]), "--tunnel-min-deposit-sat", "5000", "--hbtc-address", "0x00000000000000000000000000000000000000bb")
	path := filepath.Join(dir, "tunnel.json")
	if _, err := runOut(t, append(args, path)...); err != nil {
		t.Fatal(err)
	}
	f, err := genesis.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	tc := f.Config.Tunnel
	if tc == nil || len(tc.Signers) != 3 || tc.Signers[1] != signers[1].XOnly || tc.K != 2 || len(tc.Recovery) != 1 || tc.M != 1 ||
		tc.RecoveryDelay != genesis.DefaultRecoveryDelay || tc.MinDepositSat != 5000 || tc.DepositConfirmations != genesis.DefaultDepositConfirmations ||
		tc.HBTCAddress != common.HexToAddress("0xbb") || tc.TunnelAddress != genesis.DefaultTunnelAddress {
		t.Fatalf("tunnel %+v", tc)
	}
	dev := filepath.Join(dir, "dev.json")
	if _, err := runOut(t, append(slicesClone(base), "--dev-tunnel", "--tunnel-k", "3", dev)...); err != nil {
		t.Fatal(err)
	}
	g, err := genesis.Load(dev)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := genesis.DevTunnelConfig()
	want.K = 3
	if g.Config.Tunnel == nil || fmt.Sprint(*g.Config.Tunnel) != fmt.Sprint(*want) {
		t.Fatalf("dev tunnel %+v, want %+v", g.Config.Tunnel, want)
	}
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"--tunnel-k", "2"}, "without a tunnel"},
		{[]string{"--tunnel-signer", "02" + x(signers[0])}, "x-only"},
		{[]string{"--tunnel-signer", x(signers[0])}, "tunnel.recovery"},
		{[]string{"--tunnel-signer", x(signers[0]), "--tunnel-recovery", x(recovery[0]), "--tunnel-k", "2"}, "tunnel.k"},
		{[]string{"--tunnel-signer", x(signers[0]), "--tunnel-signer", x(signers[0]), "--tunnel-recovery", x(recovery[0])}, "tunnel.signers[1]"},
		{[]string{"--tunnel-signer", x(signers[0]), "--tunnel-recovery", x(recovery[0]), "--tunnel-recovery-delay", "70000"}, "65535"},
		{[]string{"--dev-tunnel", "--tunnel-signer", x(signers[0])}, "dev keys"},
		{[]string{"--dev-tunnel", "--tunnel-address", "0x48656d6900000000000000000000000000000001"}, "tunnel.tunnel_address"},
	} {
		p := filepath.Join(dir, "bad.json")
		if _, err := runOut(t, append(append(slicesClone(base), bad.args...), p)...); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%v: %v, want an error containing %q", bad.args, err, bad.want)
		}
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%v: a file was written", bad.args)
		}
	}
}

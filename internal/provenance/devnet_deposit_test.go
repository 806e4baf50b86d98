package provenance_test

import (
	"errors"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"

	"github.com/hemi-go/hemi/internal/provenance"
	"github.com/hemi-go/hemi/internal/tunnel"
	"github.com/hemi-go/hemi/verify"
)

// devDepositSat is the devnet deposit's amount: 1.5 BTC.
const devDepositSat = 150_000_000

// TestDevnetDepositBundle runs a whole devnet, deposits 1.5 BTC to the
// tunnel vault on its regtest Bitcoin (an output to the vault the
// genesis derives and an OP_RETURN naming the L2 recipient), and checks
// that the deposit's bundle is refused with ErrNotYet before it is
// minted, then built once the mint's keystone publication is
// superfinal, and verified offline with the genesis file as the
// identity. With -update it writes the bundle and its genesis to
// verify/testdata (devnet_deposit.json, devnet_deposit_genesis.json),
// where the native and WebAssembly tests read them.
func TestDevnetDepositBundle(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a whole devnet")
	}
	ctx, s := startDevnet(t, 4*time.Minute, false)
	tc := s.L2.File.Config.Tunnel
	rcpt := common.HexToAddress("0x90F79bf6EB2c4f870365E785982E1f101E93b906")

	// The deposit spends the dev miner's coinbase of block 2 (mature:
	// the stack mined StackInitialBlocks first).
	dep, err := s.DepositFromCoinbase(2, rcpt, devDepositSat)
	if err != nil {
		t.Fatal(err)
	}
	txid := dep.TxHash()
	if _, err := s.MineBTC(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := s.WaitIndexed(ctx); err != nil {
		t.Fatal(err)
	}
	b, err := provenance.New(provenance.Config{Chain: s.L2.Chain, Finality: s.L2.Finality, Bitcoin: s.TBC.Index(),
		ChainID: s.L2.Spec.Config.ChainID, BitcoinNetwork: "regtest", TunnelAddress: tc.TunnelAddress})
	if err != nil {
		t.Fatal(err)
	}
	// One confirmation: not minted yet.
	if _, err := b.Deposit(txid, 0); !errors.Is(err, provenance.ErrNotYet) {
		t.Fatalf("bundle of an unminted deposit: %v, want ErrNotYet", err)
	}

	// Mine until the deposit is minted, then until the mint's keystone
	// publication is superfinal.
	depKey := tunnel.DepositKey(wire.OutPoint{Hash: txid, Index: 0})
	var minted tunnel.Minted
	if err := s.MineUntil(ctx, "the deposit minted", 300, func() bool {
		st, err := s.L2.Chain.StateAt(s.L2.Chain.Head().Root)
		if err != nil {
			t.Fatal(err)
		}
		var ok bool
		minted, ok = tunnel.ReadMinted(st, tc.TunnelAddress, depKey)
		return ok
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.MineUntilSuperfinal(ctx, minted.L2Block, 300); err != nil {
		t.Fatal(err)
	}
	if err := s.WaitIndexed(ctx); err != nil {
		t.Fatal(err)
	}
	bundle, err := b.Deposit(txid, 0)
	if err != nil {
		t.Fatal(err)
	}
	data, err := bundle.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	gen, id := devnetIdentity(t, s)
	r := verify.VerifyJSON(data, verify.Options{Identity: id, Now: time.Now()})
	if !r.OK {
		t.Fatalf("the devnet's deposit bundle does not verify: %s: %s", r.FailedLink, r.Error)
	}
	if r.Kind != verify.KindDeposit || r.DepositSat != devDepositSat || r.Recipient != rcpt.Hex() || r.L2Block != minted.L2Block ||
		r.DepositConfs < tc.DepositConfirmations || r.KeystoneConfs < devDepth {
		t.Fatalf("result %+v", r)
	}
	t.Logf("%d bytes (%d Bitcoin headers); %s", len(data), len(bundle.Bitcoin.Headers), r.Statement)
	writeTestdata(t, "devnet_deposit.json", data, "devnet_deposit_genesis.json", gen)
}

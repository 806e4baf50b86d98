package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/hemi-go/hemi/internal/btc/txgen"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/devnet"
	"github.com/hemi-go/hemi/internal/node"
	"github.com/hemi-go/hemi/internal/popm"
	"github.com/hemi-go/hemi/internal/testtools/testkit"
	"github.com/hemi-go/hemi/internal/tunnel"
)

func TestParseBTC(t *testing.T) {
	for in, want := range map[string]int64{"1.5": 150_000_000, "0.00000001": 1, "21000000": 21e14, ".5": 50_000_000, "100": 1e10, "0.1": 1e7} {
		if got, err := parseBTC(in); err != nil || got != want {
			t.Errorf("parseBTC(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0", "1.000000001", "-1", "+1", "1e3", "21000000.00000001", "1,5", "abc", "."} {
		if got, err := parseBTC(bad); err == nil {
			t.Errorf("parseBTC(%q) = %d, want an error", bad, got)
		}
	}
	if formatBTC(150_000_000) != "1.5" || formatBTC(1) != "0.00000001" || formatBTC(1e10) != "100" {
		t.Fatal("formatBTC")
	}
}

func testVault(t *testing.T) *tunnel.Vault {
	t.Helper()
	cfg, err := genesis.DevTunnelConfig()
	if err != nil {
		t.Fatal(err)
	}
	v, err := tunnel.NewVault(cfg, &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func testWallet(t *testing.T, seed string, kind popm.Kind) *popm.Wallet {
	t.Helper()
	priv, _ := btcec.PrivKeyFromBytes([]byte(seed))
	wif, err := btcutil.NewWIF(priv, &chaincfg.RegressionNetParams, true)
	if err != nil {
		t.Fatal(err)
	}
	w, err := popm.ParseSecret(wif.String(), kind, &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func coin(b byte, sat int64) popm.Coin {
	return popm.Coin{OutPoint: wire.OutPoint{Hash: chainhash.Hash{b}, Index: uint32(b)}, Value: sat}
}

// TestBuildDeposit: largest coins first until amount and fee are
// covered; the outputs are vault, OP_RETURN recipient, change; dust
// change goes to the fee; too few coins is errFunds; the signed
// transaction verifies and parses as one mint.
func TestBuildDeposit(t *testing.T) {
	v := testVault(t)
	to := common.HexToAddress("0x70997970C51812dc3A010C7d01b50e0d17dc79C8")
	for _, kind := range []popm.Kind{popm.P2WPKH, popm.P2TR} {
		w := testWallet(t, "deposit test key", kind)
		src := &depositSource{script: w.Script(), kind: w.UTXO(popm.Coin{}).Kind, wallet: w, addr: w.Address().EncodeAddress()}
		coins := []popm.Coin{coin(1, 40_000_000), coin(2, 100_000_000), coin(3, 70_000_000)}
		tx, used, fee, err := buildDeposit(coins, src, v.PkScript(), to, 150_000_000, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(used) != 2 || used[0] != coins[1] || used[1] != coins[2] {
			t.Fatalf("%v: spent %v, want the two largest coins", kind, used)
		}
		if len(tx.TxOut) != 3 || tx.TxOut[0].Value != 150_000_000 || !v.IsVault(tx.TxOut[0].PkScript) ||
			!bytes.Equal(tx.TxOut[1].PkScript, tunnel.RecipientScript(to)) || !bytes.Equal(tx.TxOut[2].PkScript, w.Script()) ||
			tx.TxOut[2].Value != 170_000_000-150_000_000-fee {
			t.Fatalf("%v: outputs %+v fee %d", kind, tx.TxOut, fee)
		}
		for _, in := range tx.TxIn {
			if in.Sequence >= wire.MaxTxInSequenceNum-1 {
				t.Fatalf("input sequence %x does not signal BIP-125", in.Sequence)
			}
		}
		prevs := []txgen.UTXO{w.UTXO(used[0]), w.UTXO(used[1])}
		if err := txgen.Sign(tx, prevs); err != nil {
			t.Fatal(err)
		}
		if err := txgen.Verify(tx, prevs); err != nil {
			t.Fatalf("%v: %v", kind, err)
		}
		// The fee rate paid is at least the one asked for.
		if vs := (tx.SerializeSizeStripped()*3 + tx.SerializeSize() + 3) / 4; fee < int64(vs)*3 {
			t.Fatalf("%v: fee %d for %d vB at 3 sat/vB", kind, fee, vs)
		}
		rcpt, deps := tunnel.ParseDeposits(tx, v.PkScript(), tunnel.DepositRules{MinDepositSat: 10_000, FeeRate: 1, RefundScript: w.Script()})
		if rcpt == nil || *rcpt != to || len(deps) != 1 || deps[0].Kind != tunnel.DepositMint || deps[0].Vout != 0 || deps[0].Amount != 150_000_000 {
			t.Fatalf("%v: parsed %v %+v", kind, rcpt, deps)
		}
		// Change that would be dust goes to the fee: no change output.
		tx, _, fee, err = buildDeposit([]popm.Coin{coin(4, 150_000_000+700)}, src, v.PkScript(), to, 150_000_000, 3)
		if err != nil || len(tx.TxOut) != 2 || fee != 700 {
			t.Fatalf("%v: dust change: %v, %d outputs, fee %d", kind, err, len(tx.TxOut), fee)
		}
		if _, _, _, err := buildDeposit(coins, src, v.PkScript(), to, 210_000_000, 3); !errors.Is(err, errFunds) || !strings.Contains(err.Error(), w.Address().EncodeAddress()) {
			t.Fatalf("%v: not enough: %v", kind, err)
		}
		if _, _, _, err := buildDeposit(coins, src, v.PkScript(), to, 330, 1); err == nil {
			t.Fatalf("%v: a dust deposit was built", kind)
		}
	}
}

// readPSBT reads the maps of a PSBT (BIP-174): the global map, then one
// per input and output; each map as key -> value.
func readPSBT(t *testing.T, b64 string, nIn, nOut int) []map[string][]byte {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(raw, []byte("psbt\xff")) {
		t.Fatalf("no PSBT magic: %x", raw[:5])
	}
	r := bytes.NewReader(raw[5:])
	var maps []map[string][]byte
	for range 1 + nIn + nOut {
		m := map[string][]byte{}
		for {
			k, err := wire.ReadVarBytes(r, 0, 1<<20, "key")
			if err != nil {
				t.Fatal(err)
			}
			if len(k) == 0 {
				break
			}
			v, err := wire.ReadVarBytes(r, 0, 1<<24, "value")
			if err != nil {
				t.Fatal(err)
			}
			if _, dup := m[string(k)]; dup {
				t.Fatalf("duplicate key %x", k)
			}
			m[string(k)] = v
		}
		maps = append(maps, m)
	}
	if r.Len() != 0 {
		t.Fatalf("%d bytes after the last map", r.Len())
	}
	return maps
}

// TestDepositRegtest runs `hemi deposit` against the devnet's embedded
// regtest Bitcoin and its query API: with a WIF in $HEMI_DEPOSIT_KEY it
// builds, signs and broadcasts a deposit of 1.5 BTC from a mature
// coinbase that regtest mines into a block; with --psbt --from it prints
// an unsigned PSBT of the same shape for an external wallet.
func TestDepositRegtest(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	api := testkit.FreeAddr(t)
	d, err := devnet.Start(ctx, devnet.StartConfig{DataDir: t.TempDir(), InitialBlocks: 5, API: api, PoPM: devnet.PoPMConfig{Off: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	w := testWallet(t, "hemi deposit regtest test key", popm.P2WPKH)
	if _, err := d.BTC.Mine(2, w.Address()); err != nil {
		t.Fatal(err)
	}
	if _, err := d.BTC.Mine(99, d.MinerAddr); err != nil {
		t.Fatal(err)
	}
	_, tip := d.BTC.Tip()
	if err := node.WaitIndexed(ctx, d.TBC.Index(), tip, nil); err != nil {
		t.Fatal(err)
	}
	to := "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
	base := []string{"deposit", "--genesis", d.GenesisPath, "--api", api, "--amount", "1.5", "--to", to, "--fee-rate", "2"}

	// --psbt --from: no secret needed; only the first coinbase is mature.
	t.Setenv(DepositKeyEnv, "")
	out, err := runOut(t, append(slicesClone(base), "--psbt", "--from", w.Address().EncodeAddress())...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	t.Logf("psbt %s", lines[len(lines)-1])
	maps := readPSBT(t, lines[len(lines)-1], 1, 3)
	var unsigned wire.MsgTx
	if err := unsigned.DeserializeNoWitness(bytes.NewReader(maps[0]["\x00"])); err != nil {
		t.Fatal(err)
	}
	prev := maps[1]["\x00"]
	var prevTx wire.MsgTx
	if err := prevTx.Deserialize(bytes.NewReader(prev)); err != nil || prevTx.TxHash() != unsigned.TxIn[0].PreviousOutPoint.Hash {
		t.Fatalf("non-witness UTXO is not the spent transaction: %v", err)
	}
	var wu bytes.Buffer
	_ = wire.WriteTxOut(&wu, 0, 0, prevTx.TxOut[unsigned.TxIn[0].PreviousOutPoint.Index])
	if !bytes.Equal(maps[1]["\x01"], wu.Bytes()) || !bytes.Equal(prevTx.TxOut[0].PkScript, w.Script()) {
		t.Fatal("witness UTXO")
	}
	if len(unsigned.TxIn) != 1 || len(unsigned.TxOut) != 3 || unsigned.TxOut[0].Value != 150_000_000 || len(unsigned.TxIn[0].Witness) != 0 {
		t.Fatalf("unsigned tx %+v", unsigned)
	}
	if _, err := runOut(t, append(slicesClone(base), "--from", w.Address().EncodeAddress())...); err == nil || !strings.Contains(err.Error(), "--psbt") {
		t.Fatalf("--from without --psbt: %v", err)
	}
	if _, err := runOut(t, append(slicesClone(base), "--no-follow")...); err == nil || !strings.Contains(err.Error(), DepositKeyEnv) {
		t.Fatalf("no secret: %v", err)
	}

	// Signed and broadcast; regtest mines it and the parser sees a mint.
	priv, _ := btcec.PrivKeyFromBytes([]byte("hemi deposit regtest test key"))
	wif, _ := btcutil.NewWIF(priv, &chaincfg.RegressionNetParams, true)
	t.Setenv(DepositKeyEnv, wif.String())
	out, err = runOut(t, append(slicesClone(base), "--no-follow")...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "broadcast "+unsigned.TxHash().String()) {
		t.Fatalf("broadcast a transaction other than the PSBT's (%s):\n%s", unsigned.TxHash(), out)
	}
	hashes, err := d.BTC.Mine(1, d.MinerAddr)
	if err != nil {
		t.Fatal(err)
	}
	blk, err := d.BTC.Block(hashes[0])
	if err != nil {
		t.Fatal(err)
	}
	var dep *wire.MsgTx
	for _, tx := range blk.Transactions {
		if tx.TxHash() == unsigned.TxHash() {
			dep = tx
		}
	}
	if dep == nil {
		t.Fatalf("the deposit is not in the next block (%d txs)", len(blk.Transactions))
	}
	v := testVault(t)
	rcpt, deps := tunnel.ParseDeposits(dep, v.PkScript(), tunnel.DepositRules{MinDepositSat: 10_000, FeeRate: 1, RefundScript: w.Script()})
	if rcpt == nil || *rcpt != common.HexToAddress(to) || len(deps) != 1 || deps[0].Kind != tunnel.DepositMint || deps[0].Amount != 150_000_000 {
		t.Fatalf("parsed %v %+v", rcpt, deps)
	}
	if !txscript.IsPayToTaproot(dep.TxOut[0].PkScript) {
		t.Fatal("vault output is not P2TR")
	}
	// Bad input: clear errors, nothing broadcast.
	for _, bad := range []struct{ flag, value, want string }{
		{"--amount", "0.00001", "below the network's minimum"},
		{"--amount", "1.123456789", "8 places"},
		{"--to", "0x0000000000000000000000000000000000000000", "zero address"},
		{"--to", "70997970C51812dc3A010C7d01b50e0d17dc79C8", "0x and 40"},
		{"--amount", "5000", "not enough BTC"},
	} {
		args := append(slicesClone(base), "--no-follow")
		for i := range args {
			if args[i] == bad.flag {
				args[i+1] = bad.value
			}
		}
		if _, err := runOut(t, args...); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s %s: %v, want %q", bad.flag, bad.value, err, bad.want)
		}
	}
}

// depositServer plays hemi_getDeposit: unknown first, then the states
// of a deposit reaching its confirmations and being minted, one per
// call.
type depositServer struct {
	mu      sync.Mutex
	replies []string
	got     []string
}

func (s *depositServer) GetDeposit(outpoint string) (json.RawMessage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, outpoint)
	if len(s.replies) == 0 {
		return nil, errors.New("no more replies")
	}
	r := s.replies[0]
	if len(s.replies) > 1 {
		s.replies = s.replies[1:]
	}
	if r == "notfound" {
		return nil, errors.New("deposit not found")
	}
	return json.RawMessage(r), nil
}

// TestFollowDeposit: one line per change of state, until minted, against
// a stand-in for the node's hemi_getDeposit replying in internal/rpc's
// format (hex quantities, requiredConfirmations, blockNumber,
// transactionHash; TestTreasury100BTC follows a deposit on the real node).
func TestFollowDeposit(t *testing.T) {
	s := &depositServer{replies: []string{
		"notfound", "null",
		`{"state":"confirming","confirmations":"0x1","requiredConfirmations":"0x6"}`,
		`{"state":"confirming","confirmations":"0x1","requiredConfirmations":"0x6"}`,
		`{"state":"confirming","confirmations":"0x2","requiredConfirmations":"0x6"}`,
		`{"state":"confirmed","confirmations":"0x6","requiredConfirmations":"0x6"}`,
		`{"state":"minted","confirmations":"0x6","requiredConfirmations":"0x6","blockNumber":"0x2a","transactionHash":"0x00000000000000000000000000000000000000000000000000000000000000ab"}`,
	}}
	srv := gethrpc.NewServer()
	if err := srv.RegisterName("hemi", s); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer srv.Stop()
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := followDeposit(ctx, hs.URL, "ab:0", time.Millisecond, &out); err != nil {
		t.Fatal(err)
	}
	want := "waiting for the deposit's Bitcoin block to reach the node's view\nconfirming 1 of 6\nconfirming 2 of 6\nconfirmed: minted in a coming L2 block\nminted in L2 block 42, transaction 0x00000000000000000000000000000000000000000000000000000000000000ab\n"
	if out.String() != want {
		t.Fatalf("printed\n%s\nwant\n%s", out.String(), want)
	}
	if s.got[0] != "ab:0" {
		t.Fatalf("asked for %q", s.got[0])
	}
	// Recorded and refunded are final too; an RPC error stops with the
	// outpoint named.
	for _, final := range []string{`{"state":"recorded","reason":"refund below dust after its fee"}`, `{"state":"refunded"}`} {
		s.replies = []string{final}
		out.Reset()
		if err := followDeposit(ctx, hs.URL, "ab:1", time.Millisecond, &out); err != nil || !strings.HasPrefix(out.String(), strings.SplitN(final, `"`, 5)[3]) {
			t.Fatalf("%s: %v %q", final, err, out.String())
		}
	}
	s.replies = nil
	if err := followDeposit(ctx, hs.URL, "ab:2", time.Millisecond, &out); err == nil || !strings.Contains(err.Error(), "ab:2") {
		t.Fatalf("rpc error: %v", err)
	}
	s.replies = []string{`{"confirmations":"0x3"}`}
	if err := followDeposit(ctx, hs.URL, "ab:3", time.Millisecond, &out); err == nil || !strings.Contains(err.Error(), "no state") {
		t.Fatalf("reply without state: %v", err)
	}
}

// TestDepositPSBTTaproot: a P2TR wallet's PSBT carries each input's
// witness UTXO and BIP-371 internal key (no previous transaction: BIP-341
// signatures commit to every input's amount), and empty output maps.
func TestDepositPSBTTaproot(t *testing.T) {
	v := testVault(t)
	w := testWallet(t, "deposit psbt taproot key", popm.P2TR)
	u := w.UTXO(popm.Coin{})
	src := &depositSource{script: w.Script(), kind: u.Kind, wallet: w, internalKey: schnorrX(u.Key.Pub), addr: w.Address().EncodeAddress()}
	coins := []popm.Coin{coin(1, 30_000_000), coin(2, 30_000_000)}
	tx, used, _, err := buildDeposit(coins, src, v.PkScript(), common.Address{7}, 50_000_000, 1)
	if err != nil {
		t.Fatal(err)
	}
	p, err := depositPSBT(context.Background(), nil, tx, used, src)
	if err != nil {
		t.Fatal(err)
	}
	maps := readPSBT(t, p, 2, 3)
	for i, c := range used {
		m := maps[1+i]
		var wu bytes.Buffer
		_ = wire.WriteTxOut(&wu, 0, 0, wire.NewTxOut(c.Value, w.Script()))
		if len(m) != 2 || !bytes.Equal(m["\x01"], wu.Bytes()) || !bytes.Equal(m["\x17"], src.internalKey) {
			t.Fatalf("input %d map %x", i, m)
		}
	}
	for _, m := range maps[3:] {
		if len(m) != 0 {
			t.Fatalf("output map %x", m)
		}
	}
}

func schnorrX(pub *btcec.PublicKey) []byte { return pub.SerializeCompressed()[1:] }

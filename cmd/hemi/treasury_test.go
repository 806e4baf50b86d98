package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/crypto"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/devnet/devnettest"
	"github.com/hemi-go/hemi/internal/popm"
	"github.com/hemi-go/hemi/internal/testtools/testkit"
	"github.com/hemi-go/hemi/internal/tunnel"
)

// treasuryEnv is the 100 BTC treasury test's devnet stack and the
// treasury's two identities: a Bitcoin wallet and a funded L2 account.
type treasuryEnv struct {
	t   *testing.T
	ctx context.Context
	s   *devnettest.Stack
	tc  *genesis.TunnelConfig
	v   *tunnel.Vault
}

// stateAt is the L2 state after canonical block n.
func (e *treasuryEnv) stateAt(n uint64) *state.StateDB {
	e.t.Helper()
	h, err := e.s.L2.Chain.HeaderByNumber(n)
	if err != nil {
		e.t.Fatalf("L2 block %d: %v", n, err)
	}
	st, err := e.s.L2.Chain.StateAt(h.Root)
	if err != nil {
		e.t.Fatalf("L2 state %d: %v", n, err)
	}
	return st
}

func (e *treasuryEnv) head() uint64 { return e.s.L2.Chain.Head().Number.Uint64() }

// mineUntil mines one Bitcoin block at a time, giving the L2 a few block
// times to take each into its view, until cond holds (at most max blocks).
func (e *treasuryEnv) mineUntil(what string, max int, cond func() bool) {
	e.t.Helper()
	for i := 0; ; i++ {
		deadline := time.Now().Add(3 * time.Second)
		for time.Now().Before(deadline) {
			if cond() {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		if i == max {
			e.t.Fatalf("%s: not after %d more Bitcoin blocks", what, max)
		}
		if _, err := e.s.MineBTC(e.ctx, 1); err != nil {
			e.t.Fatal(err)
		}
	}
}

// bestChain reads the regtest node's best chain (not our index): every
// transaction by txid, and the unspent outputs paying the vault.
func (e *treasuryEnv) bestChain() (map[chainhash.Hash]*wire.MsgTx, map[wire.OutPoint]int64) {
	e.t.Helper()
	txs := map[chainhash.Hash]*wire.MsgTx{}
	outs := map[wire.OutPoint]int64{}
	hash, height := e.s.BTC.Tip()
	var blocks []*wire.MsgBlock
	for ; height >= 0; height-- {
		b, err := e.s.BTC.Block(hash)
		if err != nil {
			e.t.Fatal(err)
		}
		blocks = append(blocks, b)
		hash = b.Header.PrevBlock
	}
	for i := len(blocks) - 1; i >= 0; i-- {
		for _, tx := range blocks[i].Transactions {
			txs[tx.TxHash()] = tx
			for _, in := range tx.TxIn {
				delete(outs, in.PreviousOutPoint)
			}
			for j, o := range tx.TxOut {
				if string(o.PkScript) == string(e.v.PkScript()) {
					outs[wire.OutPoint{Hash: tx.TxHash(), Index: uint32(j)}] = o.Value
				}
			}
		}
	}
	return txs, outs
}

// TestTreasury100BTC is issue 11's headline flow on the devnet stack
// (embedded regtest Bitcoin, our indexer over P2P, the L2 node sequencing
// at 1 s, the PoP miner, the dev committee's three signers; genesis
// defaults: 6 deposit and withdrawal confirmations, view lag 2,
// superfinality at 10), driven through the user's commands (`hemi
// deposit`, `hemi withdraw`, run in process): the treasury key holds three
// mature 50 BTC coinbases; it locks 100 BTC; exactly 100 hBTC are minted
// to its L2 address, once, in the first L2 block whose Bitcoin view holds
// the deposit with its confirmations; the keystone covering that block is
// published and becomes superfinal; the treasury withdraws 40 BTC to its
// own Bitcoin address and receives 40 BTC less its fee (the whole payout
// fee, at most its maxFee); after it the vault holds exactly hBTC supply
// plus what is pending, to the satoshi.
func TestTreasury100BTC(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a regtest node, an indexer, an L2, a PoP miner and three signers")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	api := testkit.FreeAddr(t)
	_, log := testkit.TestLog(t, "the stack", slog.LevelInfo, 150)
	s, err := devnettest.StartStack(ctx, devnettest.StackConfig{DataDir: t.TempDir(), L2BlockTime: time.Second, KeystoneInterval: 2, RPC: true, API: api,
		Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tc := s.L2.File.Config.Tunnel
	v, err := s.Vault()
	if err != nil {
		t.Fatal(err)
	}
	e := &treasuryEnv{t: t, ctx: ctx, s: s, tc: tc, v: v}

	// The treasury: a Bitcoin key (WIF in the environment, as a user
	// gives it) and dev L2 account 1 (funded with gas).
	priv, _ := btcec.PrivKeyFromBytes([]byte("the 100 BTC treasury's own key."))
	wif, _ := btcutil.NewWIF(priv, &chaincfg.RegressionNetParams, true)
	w, err := popm.ParseSecret(wif.String(), popm.P2WPKH, &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	l2 := s.L2.Accounts[1]
	coinbases, err := s.MineEmptyBTCTo(ctx, 3, w.Address())
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range coinbases {
		b, err := s.BTC.Block(h)
		if err != nil || len(b.Transactions) != 1 || b.Transactions[0].TxOut[0].Value != 50*btcutil.SatoshiPerBitcoin {
			t.Fatalf("treasury coinbase block %s: %v", h, err)
		}
	}
	if _, err := s.MineBTC(ctx, 100); err != nil { // maturity
		t.Fatal(err)
	}

	// Lock 100 BTC: `hemi deposit` broadcasts and follows the deposit
	// (hemi_getDeposit on the node) while Bitcoin blocks are mined.
	t.Setenv(DepositKeyEnv, wif.String())
	var depOut bytes.Buffer
	depDone := make(chan error, 1)
	go func() {
		app := newApp()
		app.Writer, app.ErrWriter = &depOut, &depOut
		depDone <- app.Run(ctx, []string{"hemi", "deposit", "--genesis", s.GenesisPath, "--api", api, "--rpc", s.RPCURL,
			"--amount", "100", "--to", l2.Address.Hex(), "--fee-rate", "2", "--poll", "100ms"})
	}()
	var depTxid *chainhash.Hash
	if err := s.WaitFor(ctx, "the deposit in the mempool", func() bool {
		for _, id := range s.BTC.MempoolTxids() {
			if tx, err := s.BTC.MempoolTx(id); err == nil && slices.ContainsFunc(tx.TxOut, func(o *wire.TxOut) bool { return bytes.Equal(o.PkScript, v.PkScript()) }) {
				depTxid = &id
				return true
			}
		}
		return false
	}); err != nil {
		t.Fatal(err)
	}
	hs, err := s.MineBTC(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := s.BTC.Block(hs[0])
	_, depHeight := s.BTC.Tip()
	var dep *wire.MsgTx
	for _, tx := range blk.Transactions {
		if tx.TxHash() == *depTxid {
			dep = tx
		}
	}
	if dep == nil {
		t.Fatal("the deposit is not in the next block")
	}
	vout := -1
	for i, o := range dep.TxOut {
		if string(o.PkScript) == string(v.PkScript()) {
			if vout >= 0 || o.Value != 100*btcutil.SatoshiPerBitcoin {
				t.Fatalf("deposit outputs %+v", dep.TxOut)
			}
			vout = i
		}
	}
	if vout < 0 || len(dep.TxIn) != 3 {
		t.Fatalf("deposit: vault output %d, %d inputs (want the three coinbases)", vout, len(dep.TxIn))
	}
	key := tunnel.DepositKey(wire.OutPoint{Hash: *depTxid, Index: uint32(vout)})

	// Minted exactly once, in the first block whose view has the
	// confirmations.
	var minted tunnel.Minted
	e.mineUntil("100 hBTC minted", int(tc.DepositConfirmations)+5, func() bool {
		var ok bool
		minted, ok = tunnel.ReadMinted(e.stateAt(e.head()), tc.TunnelAddress, key)
		return ok
	})
	if minted.To != l2.Address || minted.AmountSat != 100*btcutil.SatoshiPerBitcoin {
		t.Fatalf("minted %+v", minted)
	}
	select {
	case err := <-depDone:
		if err != nil {
			t.Fatalf("hemi deposit: %v\n%s", err, depOut.String())
		}
	case <-time.After(time.Minute):
		t.Fatalf("hemi deposit still following after the mint:\n%s", depOut.String())
	}
	if o := depOut.String(); !strings.Contains(o, "broadcast "+depTxid.String()) || !strings.Contains(o, "confirming 1 of 6") ||
		!strings.Contains(o, fmt.Sprintf("minted in L2 block %d, transaction 0x", minted.L2Block)) {
		t.Fatalf("hemi deposit printed:\n%s", o)
	}
	mintBlock := minted.L2Block
	confsAt := func(n uint64) int32 { return genesis.ReadView(e.stateAt(n)).Height - depHeight + 1 }
	if c := confsAt(mintBlock); c < int32(tc.DepositConfirmations) {
		t.Fatalf("minted in L2 block %d whose view has %d confirmations of %d", mintBlock, c, tc.DepositConfirmations)
	}
	if c := confsAt(mintBlock - 1); c >= int32(tc.DepositConfirmations) {
		t.Fatalf("minted in L2 block %d, but block %d's view already had %d confirmations", mintBlock, mintBlock-1, c)
	}
	before := e.stateAt(mintBlock - 1)
	if b := tunnel.HBTCBalance(before, tc.HBTCAddress, l2.Address); b.Sign() != 0 {
		t.Fatalf("hBTC before the mint: %v", b)
	}
	t.Logf("deposit in Bitcoin block %d, minted in L2 block %d (view %d)", depHeight, mintBlock, genesis.ReadView(e.stateAt(mintBlock)).Height)

	// Its keystone is published and becomes superfinal; the supply stays
	// 100 hBTC meanwhile (minted once).
	e.mineUntil(fmt.Sprintf("L2 block %d superfinal", mintBlock), 40, func() bool {
		f, err := s.Finality(mintBlock)
		return err == nil && f.Superfinal
	})
	f, _ := s.Finality(mintBlock)
	if !f.Published || f.Confirmations < f.Depth {
		t.Fatalf("finality of %d: %+v", mintBlock, f)
	}
	st := e.stateAt(e.head())
	if sup := tunnel.HBTCSupply(st, tc.HBTCAddress); sup.Uint64() != 100*btcutil.SatoshiPerBitcoin {
		t.Fatalf("hBTC supply %v after superfinality, want exactly 100 BTC", sup)
	}
	if b := tunnel.HBTCBalance(st, tc.HBTCAddress, l2.Address); b.Uint64() != 100*btcutil.SatoshiPerBitcoin {
		t.Fatalf("treasury hBTC %v", b)
	}

	// Withdraw 40 BTC to the treasury's own Bitcoin address.
	t.Setenv(withdrawKeyEnv, fmt.Sprintf("%x", crypto.FromECDSA(l2.Key)))
	const maxFee = 100_000
	out, err := runOut(t, "withdraw", "--genesis", s.GenesisPath, "--rpc", s.RPCURL, "--amount", "40",
		"--to", w.Address().EncodeAddress(), "--max-fee", fmt.Sprint(maxFee), "--no-follow")
	if err != nil {
		t.Fatalf("hemi withdraw: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`withdrawal id (\d+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("hemi withdraw printed no id:\n%s", out)
	}
	var id uint64
	fmt.Sscan(m[1], &id)
	var ws *tunnel.WithdrawalState
	e.mineUntil("the withdrawal paid", 60, func() bool {
		var ok bool
		ws, ok, err = tunnel.ReadWithdrawal(e.stateAt(e.head()), tc.TunnelAddress, v, id)
		if err != nil {
			t.Fatal(err)
		}
		return ok && ws.Paid
	})
	txs, vaultOuts := e.bestChain()
	payout := txs[ws.PaidTxid]
	if payout == nil {
		t.Fatalf("payout %s is not in the best chain", ws.PaidTxid)
	}
	var got, outSum, inSum int64
	for _, o := range payout.TxOut {
		outSum += o.Value
		if string(o.PkScript) == string(w.Script()) {
			got += o.Value
		}
	}
	for _, in := range payout.TxIn {
		prev := txs[in.PreviousOutPoint.Hash]
		if prev == nil {
			t.Fatalf("payout input %v not in the chain", in.PreviousOutPoint)
		}
		inSum += prev.TxOut[in.PreviousOutPoint.Index].Value
	}
	fee := 40*btcutil.SatoshiPerBitcoin - got
	if fee <= 0 || fee > maxFee || fee != inSum-outSum {
		t.Fatalf("treasury received %d sat of 40 BTC: fee %d (payout fee %d, maxFee %d)", got, fee, inSum-outSum, maxFee)
	}
	t.Logf("payout %s: treasury received %d sat (fee %d sat)", ws.PaidTxid, got, fee)
	// The node says the same over JSON-RPC.
	rc, err := gethrpc.DialContext(ctx, s.RPCURL)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var rw struct {
		Status     string `json:"status"`
		Paid       bool   `json:"paid"`
		PayoutTxid string `json:"payoutTxid"`
	}
	if err := rc.CallContext(ctx, &rw, "hemi_getWithdrawal", hexutil.Uint64(id)); err != nil || !rw.Paid || rw.PayoutTxid != ws.PaidTxid.String() {
		t.Fatalf("hemi_getWithdrawal(%d) = %+v, %v; want paid by %s", id, rw, err, ws.PaidTxid)
	}

	// Vault BTC == hBTC supply + pending, to the satoshi (the L2 state
	// that marked the batch paid against the chain that paid it).
	st = e.stateAt(e.head())
	var vault int64
	for _, val := range vaultOuts {
		vault += val
	}
	supply := tunnel.HBTCSupply(st, tc.HBTCAddress).Uint64()
	pending := tunnel.ReadPendingSat(st, tc.TunnelAddress) + tunnel.ReadRecordedSat(st, tc.TunnelAddress)
	if supply != 60*btcutil.SatoshiPerBitcoin || uint64(vault) != supply+pending {
		t.Fatalf("vault %d sat, hBTC supply %d + pending %d", vault, supply, pending)
	}
}

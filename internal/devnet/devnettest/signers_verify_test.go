package devnettest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"
	ethcrypto "github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/devnet"
	"github.com/hemi-go/hemi/internal/signer"
	"github.com/hemi-go/hemi/internal/testtools/testkit"
	"github.com/hemi-go/hemi/internal/tunnel"
)

// proposals is what the signers of TestSignersVerifyAlone are asked to
// sign. A signer takes no payout from outside: it derives it from the
// batch in its own node's L2 state, which the chain's batch derivation
// (consensus, every node) wrote. A single dishonest sequencer cannot put
// a bad batch there: every follower re-derives the system transactions
// and refuses the block (chain's validation tests). What is left for the
// signers' own checks is a derivation that is wrong on every node (a
// consensus bug, a malicious release): so the batch a signer reads is
// the proposal, and a test policy replaces it here, while everything the
// signer checks it against (the burns in its node's logs, the items'
// status, its node's finalized block) and everything it does with it
// (posts, assembly, broadcast) stays its own node's.
type proposals struct {
	policy atomic.Pointer[func(*tunnel.Batch) *tunnel.Batch]
}

func (p *proposals) set(f func(*tunnel.Batch) *tunnel.Batch) { p.policy.Store(&f) }

// proposedNode is a signer's own node whose open batch goes through the
// proposal policy.
type proposedNode struct {
	signer.Node
	p *proposals
}

func (n *proposedNode) OpenBatch(ctx context.Context) (*tunnel.Batch, error) {
	b, err := n.Node.OpenBatch(ctx)
	if err != nil || b == nil {
		return b, err
	}
	return (*n.p.policy.Load())(b), nil
}

// verifyEnv is TestSignersVerifyAlone's network: the stack's sequencer
// (with its PoP miner; tunnelEnv.c is its JSON-RPC, where users send),
// three followers, one signer on each.
type verifyEnv struct {
	*tunnelEnv
	fs      []*follower
	fol     []*ethclient.Client // each follower's
	signers []*runningSigner
	prop    *proposals
}

type runningSigner struct {
	s   *signer.Signer
	key [32]byte
	reg *prometheus.Registry
	log *testkit.LogBuffer
}

// counter reads the signer's counter name (hemi_signer_<name>): with
// reason "" its sum over every label, else the series of that reason.
func (r *runningSigner) counter(t *testing.T, name, reason string) float64 {
	t.Helper()
	if reason == "" {
		return testkit.MetricValue(t, r.reg, "hemi_signer_"+name)
	}
	return testkit.MetricValue(t, r.reg, "hemi_signer_"+name, "reason", reason)
}

func scriptOf(name string) []byte {
	h := sha256.Sum256([]byte("signers verify alone: " + name))
	return append([]byte{0x00, 0x14}, h[:20]...)
}

// stateOf is follower i's state at its head.
func (e *verifyEnv) stateOf(i int) *state.StateDB {
	e.t.Helper()
	st, err := e.fs[i].Node.Chain.StateAt(e.fs[i].Node.Chain.Head().Root)
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

// batchOf is the batch (open or last) in follower i's state, over its
// JSON-RPC as a signer reads it.
func (e *verifyEnv) batchOf(i int) *tunnel.Batch {
	e.t.Helper()
	b, _, err := signer.ReadBatch(e.ctx, e.fol[i], e.tc.TunnelAddress)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// everyFollower holds when cond holds for each follower.
func (e *verifyEnv) everyFollower(cond func(i int) bool) bool {
	for i := range e.fs {
		if !cond(i) {
			return false
		}
	}
	return true
}

// mineUntil mines one Bitcoin block at a time, giving the L2 and the
// followers a few seconds to take each, until cond holds (at most max
// blocks).
func (e *verifyEnv) mineUntil(what string, max int, cond func() bool) {
	e.t.Helper()
	for i := 0; ; i++ {
		deadline := time.Now().Add(1500 * time.Millisecond)
		for time.Now().Before(deadline) {
			if cond() {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		if i == max {
			e.t.Fatalf("%s: not after %d more Bitcoin blocks", what, max)
		}
		if _, err := e.MineBTC(e.ctx, 1); err != nil {
			e.t.Fatal(err)
		}
	}
}

// send sends an L2 transaction from key to the tunnel predeploy through
// the sequencer's JSON-RPC and waits for its successful receipt.
func (e *verifyEnv) send(key *ecdsa.PrivateKey, data []byte) *types.Receipt {
	e.t.Helper()
	from := ethcrypto.PubkeyToAddress(key.PublicKey)
	to := e.tc.TunnelAddress
	nonce, err := e.c.PendingNonceAt(e.ctx, from)
	if err != nil {
		e.t.Fatal(err)
	}
	gas, err := e.c.EstimateGas(e.ctx, ethereum.CallMsg{From: from, To: &to, Data: data})
	if err != nil {
		e.t.Fatalf("estimate: %v", err)
	}
	chainID := new(big.Int).SetUint64(e.L2.Spec.Config.ChainID)
	head, err := e.c.HeaderByNumber(e.ctx, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	tip := big.NewInt(1_000_000_000)
	tx, err := types.SignNewTx(key, types.LatestSignerForChainID(chainID), &types.DynamicFeeTx{ChainID: chainID, Nonce: nonce,
		GasTipCap: tip, GasFeeCap: new(big.Int).Add(tip, new(big.Int).Mul(head.BaseFee, big.NewInt(2))), Gas: gas + gas/4, To: &to, Data: data})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.c.SendTransaction(e.ctx, tx); err != nil {
		e.t.Fatal(err)
	}
	var r *types.Receipt
	waitFor(e.ctx, e.t, "transaction "+tx.Hash().Hex(), func() bool {
		r, err = e.c.TransactionReceipt(e.ctx, tx.Hash())
		return err == nil
	})
	if r.Status != types.ReceiptStatusSuccessful {
		e.t.Fatalf("transaction %s reverted", tx.Hash())
	}
	return r
}

// withdraw burns amount hBTC of key's for script and returns the
// withdrawal's id and the L2 block that queued it.
func (e *verifyEnv) withdraw(key *ecdsa.PrivateKey, script []byte, amount, maxFee uint64) (uint64, uint64) {
	e.t.Helper()
	data, err := tunnel.WithdrawCalldata(script, amount, maxFee)
	if err != nil {
		e.t.Fatal(err)
	}
	r := e.send(key, data)
	for _, l := range r.Logs {
		if id, ok := tunnel.WithdrawalQueuedID(l.Topics); ok {
			return id, r.BlockNumber.Uint64()
		}
	}
	e.t.Fatal("withdraw: no WithdrawalQueued event")
	return 0, 0
}

// vaultSpends lists the regtest mempool's transactions that spend one of
// ins, other than except.
func (e *verifyEnv) vaultSpends(ins []tunnel.BatchInput, except chainhash.Hash) []*wire.MsgTx {
	var out []*wire.MsgTx
	for _, id := range e.BTC.MempoolTxids() {
		tx, err := e.BTC.MempoolTx(id)
		if err != nil || id == except {
			continue
		}
		for _, in := range tx.TxIn {
			if slices.ContainsFunc(ins, func(b tunnel.BatchInput) bool { return b.OutPoint == in.PreviousOutPoint }) {
				out = append(out, tx)
				break
			}
		}
	}
	return out
}

// propose is b with other outputs (and fee rate), its change and values
// set by the fee rule, so BuildPayout accepts it: a payout the network
// would take if k signers signed it.
func (e *verifyEnv) propose(b *tunnel.Batch, rate uint64, outs []tunnel.BatchOutput) *tunnel.Batch {
	e.t.Helper()
	fees, err := tunnel.NewFees(e.v)
	if err != nil {
		e.t.Fatal(err)
	}
	nb := *b
	nb.Inputs = slices.Clone(b.Inputs)
	nb.Outputs = slices.Clone(outs)
	nb.FeeRate = rate
	nb.AttemptRates = slices.Clone(b.AttemptRates)
	nb.AttemptRates[nb.Attempt] = rate
	plan, err := tunnel.PlanPayout(rate, nb.Inputs, nb.Outputs, fees.VaultScript, fees.WitSize)
	if err != nil {
		e.t.Fatalf("proposal: %v", err)
	}
	for i := range nb.Outputs {
		nb.Outputs[i].Value = nb.Outputs[i].Amount - plan.Fees[i]
	}
	nb.Change, nb.Fee = plan.Change, plan.Fee
	if _, err := tunnel.BuildPayout(&nb, e.v); err != nil {
		e.t.Fatalf("proposal: %v", err)
	}
	return &nb
}

// TestSignersVerifyAlone is issue 11's "Signers verify alone": the dev
// committee's three signers (2-of-3) each run against their OWN follower
// node (its own Bitcoin indexer, its own L2 chain fed by gossip from the
// sequencer, its own finality and JSON-RPC). Batch 1 (withdrawal A) is
// paid normally through them. Batch 2 (withdrawal B) opens; withdrawal D
// is burned after it and Bitcoin stands still, so D is not superfinal.
// Then the signers are proposed, in turn, a payout of batch 2 with
//
//   - an output nobody burned for (an extra output to an unused id),
//   - more than was burned (B's output at twice its burn),
//   - a burn that is not superfinal (D added),
//   - a withdrawal already paid (A added again),
//   - a fee above maxFee (B paying 200 sat/vB, its owner's maxFee too low),
//
// each a valid payout the fee rule accepts and Bitcoin would take, and
// for each the holder of a stolen committee key posts valid signatures
// of it: every honest signer refuses, logs why (the reason in its log
// line and refusal metric), posts nothing, and nothing spends the vault.
// Last, junk is posted under two signer indexes ahead of the honest
// signers and the honest batch 2 is proposed: the signers drop the junk
// and the stolen key's sets (which sign other transactions), assemble
// from their own good sets and broadcast the payout the chain derived;
// it pays B its burn less a fee within its maxFee.
func TestSignersVerifyAlone(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a regtest node, four L2 nodes with their indexers, a PoP miner and three signers")
	}
	start := time.Now()
	logs, log := testkit.TestLog(t, "the stack", slog.LevelInfo, 120)
	e := &verifyEnv{tunnelEnv: startTunnelEnv(t, 4*time.Minute, sequencerConfig(log)), prop: &proposals{}}
	ctx, s, tc, v := e.ctx, e.Stack, e.tc, e.v
	for i := range 3 {
		f := startFollower(t, ctx, s, fmt.Sprintf("follower-%d", i), log)
		c, err := ethclient.DialContext(ctx, f.RPCURL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		e.fs, e.fol = append(e.fs, f), append(e.fol, c)
	}
	waitFollowing(ctx, t, s, e.fs)
	t.Logf("stack and followers up after %s", time.Since(start).Round(time.Millisecond))

	// Until the cases, the signers see batch 1 as their node has it and
	// nothing else.
	e.prop.set(func(b *tunnel.Batch) *tunnel.Batch {
		if b.Number == 1 {
			return b
		}
		return nil
	})
	devs, _, err := genesis.DevTunnelKeys()
	if err != nil {
		t.Fatal(err)
	}
	index := map[[32]byte]uint8{}
	for i, dk := range devs {
		acct := s.L2.Accounts[devnet.DevSignerAccount0+i]
		rn, err := signer.DialRPCNode(ctx, e.fs[i].RPCURL, e.fs[i].Bitcoin(), tc.TunnelAddress, acct.Key)
		if err != nil {
			t.Fatal(err)
		}
		// Its posts go where L2 transactions are ordered; it reads them
		// back from its own node.
		if err := rn.SubmitTo(ctx, s.RPCURL); err != nil {
			rn.Close()
			t.Fatal(err)
		}
		rs := &runningSigner{key: dk.XOnly, reg: prometheus.NewRegistry(), log: &testkit.LogBuffer{}}
		slogger := slog.New(slog.NewTextHandler(io.MultiWriter(rs.log, logs), &slog.HandlerOptions{Level: slog.LevelInfo}))
		if rs.s, err = signer.New(signer.Config{Key: dk.Key, Vault: v, Node: &proposedNode{Node: rn, p: e.prop},
			DataDir: t.TempDir(), Poll: 200 * time.Millisecond, Logger: slogger.With("signer", i), Registerer: rs.reg}); err != nil {
			rn.Close()
			t.Fatal(err)
		}
		index[dk.XOnly] = rs.s.Index()
		sctx, scancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- rs.s.Run(sctx) }()
		t.Cleanup(func() {
			scancel()
			if err := <-done; err != nil {
				t.Errorf("signer %d: %v", i, err)
			}
			rn.Close()
		})
		e.signers = append(e.signers, rs)
	}

	// 1 BTC into the vault for the user's L2 account; minted on every
	// follower.
	user := s.L2.Accounts[1]
	if _, err := s.DepositFromCoinbase(3, user.Address, 100_000_000); err != nil {
		t.Fatal(err)
	}
	e.mineUntil("the deposit minted on every follower", 15, func() bool {
		return e.everyFollower(func(i int) bool {
			return tunnel.HBTCBalance(e.stateOf(i), tc.HBTCAddress, user.Address).Uint64() == 100_000_000
		})
	})

	t.Logf("minted after %s", time.Since(start).Round(time.Millisecond))

	// Batch 1: withdrawal A, paid through the signers on the followers.
	const maxFee = 20_000
	scriptA, scriptB, scriptD := scriptOf("A"), scriptOf("B"), scriptOf("D")
	idA, _ := e.withdraw(user.Key, scriptA, 20_000_000, maxFee)
	e.mineUntil("batch 1 open on every follower", 20, func() bool {
		return e.everyFollower(func(i int) bool { b := e.batchOf(i); return b.Number == 1 && b.Open })
	})
	t.Logf("batch 1 open after %s", time.Since(start).Round(time.Millisecond))
	idB, _ := e.withdraw(user.Key, scriptB, 30_000_000, maxFee)
	// Its payout reaches the mempool before Bitcoin moves on (else the
	// chain re-derives it at a higher fee and the signers start over).
	b1 := e.batchOf(0)
	waitFor(ctx, t, "batch 1's payout in the regtest mempool", func() bool {
		return len(e.vaultSpends(b1.Inputs, chainhash.Hash{})) > 0
	})
	t.Logf("batch 1 broadcast after %s", time.Since(start).Round(time.Millisecond))
	e.mineUntil("batch 1 paid and batch 2 open on every follower", 30, func() bool {
		return e.everyFollower(func(i int) bool { b := e.batchOf(i); return b.Number == 2 && b.Open })
	})
	b2 := e.batchOf(0)
	if len(b2.Outputs) != 1 || b2.Outputs[0].ID != idB || b2.Attempt != 0 {
		t.Fatalf("batch 2 %+v: want withdrawal %d alone", b2, idB)
	}
	for i := range e.fs {
		if it, ok, err := tunnel.ReadItem(e.stateOf(i), tc.TunnelAddress, idA); err != nil || !ok || it.Status != tunnel.StatusPaid {
			t.Fatalf("follower %d: withdrawal A %+v (%v): want paid", i, it, err)
		}
	}
	honest, err := tunnel.BuildPayout(b2, v)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("batch 1 paid, batch 2 open (%s) after %s", honest.TxHash(), time.Since(start).Round(time.Second))

	// D is burned now and Bitcoin stands still from here: D's block
	// cannot become superfinal.
	idD, blockD := e.withdraw(user.Key, scriptD, 10_000_000, maxFee)
	waitFor(ctx, t, "withdrawal D on every follower", func() bool {
		return e.everyFollower(func(i int) bool {
			_, ok, err := tunnel.ReadItem(e.stateOf(i), tc.TunnelAddress, idD)
			return err == nil && ok
		})
	})
	for i, c := range e.fol {
		h, err := c.HeaderByNumber(ctx, big.NewInt(int64(gethrpc.FinalizedBlockNumber)))
		if err != nil || h.Number.Uint64() >= blockD {
			t.Fatalf("follower %d: finalized %v (%v); D's block %d must not be superfinal", i, h, err, blockD)
		}
	}

	// The stolen committee key (signer 2's) and the attacker's own L2
	// account.
	stolen := devs[2].Key
	attacker, err := signer.DialRPCNode(ctx, s.RPCURL, nil, tc.TunnelAddress, s.L2.Accounts[5].Key)
	if err != nil {
		t.Fatal(err)
	}
	defer attacker.Close()
	b := b2.Outputs[0]
	unused := tunnel.ReadQueueHead(e.stateOf(0), tc.TunnelAddress).NextID + 100
	highFee := b
	highFee.MaxFee = 10_000_000 // the proposal's word, not the burn's
	cases := []struct {
		name   string
		want   signer.Kind
		id     uint64
		detail string // in the refusal's log line: which rule refused
		prop   *tunnel.Batch
	}{
		{"an output nobody burned for", signer.RefuseUnknownOutput, unused, "no burn with this id", e.propose(b2, b2.FeeRate, []tunnel.BatchOutput{b,
			{ID: unused, Script: scriptOf("attacker"), Amount: 10_000_000, MaxFee: maxFee}})},
		{"more than was burned", signer.RefuseOverBurn, idB, "of a burn of", e.propose(b2, b2.FeeRate, []tunnel.BatchOutput{
			{ID: idB, Script: scriptB, Amount: 2 * b.Amount, MaxFee: maxFee}})},
		{"a burn that is not superfinal", signer.RefuseNotSuperfinal, idD, "superfinal only through", e.propose(b2, b2.FeeRate, []tunnel.BatchOutput{b,
			{ID: idD, Script: scriptD, Amount: 10_000_000, MaxFee: maxFee}})},
		{"a withdrawal already paid", signer.RefuseAlreadyPaid, idA, `detail="already paid"`, e.propose(b2, b2.FeeRate, []tunnel.BatchOutput{
			{ID: idA, Script: scriptA, Amount: 20_000_000, MaxFee: maxFee}, b})},
		{"a fee above maxFee", signer.RefuseFeeAboveMax, idB, "above maxFee", e.propose(b2, 200, []tunnel.BatchOutput{highFee})},
	}
	postedBefore, refusedBefore := make([]float64, len(e.signers)), make([]float64, len(e.signers))
	for i, rs := range e.signers {
		postedBefore[i], refusedBefore[i] = rs.counter(t, "posted_total", ""), rs.counter(t, "refused_total", "")
	}
	for k, c := range cases {
		bad, err := tunnel.BuildPayout(c.prop, v)
		if err != nil {
			t.Fatal(err)
		}
		sigs, err := tunnel.SignPayout(bad, tunnel.PayoutPrevouts(c.prop, v), v, stolen)
		if err != nil {
			t.Fatal(err)
		}
		if err := attacker.Post(ctx, c.prop.Number, c.prop.Attempt, index[devs[2].XOnly], sigs); err != nil {
			t.Fatalf("%s: the stolen key's post: %v", c.name, err)
		}
		e.prop.set(func(*tunnel.Batch) *tunnel.Batch { return c.prop })
		waitFor(ctx, t, c.name+": every signer's refusal", func() bool {
			if len(e.vaultSpends(b2.Inputs, chainhash.Hash{})) > 0 {
				return true // fails below
			}
			for i, rs := range e.signers {
				if rs.counter(t, "refused_total", "") != refusedBefore[i]+float64(k+1) { // one refusal per case
					return false
				}
			}
			return true
		})
		if spends := e.vaultSpends(b2.Inputs, chainhash.Hash{}); len(spends) > 0 {
			t.Fatalf("%s: payout %s broadcast", c.name, spends[0].TxHash())
		}
		for i, rs := range e.signers {
			if n := rs.counter(t, "refused_total", string(c.want)); n != 1 {
				t.Fatalf("%s: signer %d refused %v times for %s", c.name, i, n, c.want)
			}
			if !rs.log.HasLine(`msg="refusing to sign payout"`, "reason="+string(c.want), fmt.Sprintf("id=%d", c.id), c.detail) {
				t.Fatalf("%s: signer %d logged no refusal for %s of id %d (%q)", c.name, i, c.want, c.id, c.detail)
			}
			if n := rs.counter(t, "posted_total", "") - postedBefore[i]; n != 0 {
				t.Fatalf("%s: signer %d posted %v signature sets", c.name, i, n)
			}
		}
		t.Logf("%s: refused by the 3 signers (%s)", c.name, c.want)
	}

	// Junk under two signer indexes, then the honest proposal: assembled
	// past the junk and the stolen key's sets.
	junk := make([][]byte, len(b2.Inputs))
	for i := range junk {
		junk[i] = bytes.Repeat([]byte{0x5a}, 64)
	}
	for _, dk := range devs[:2] {
		if err := attacker.Post(ctx, b2.Number, b2.Attempt, index[dk.XOnly], junk); err != nil {
			t.Fatal(err)
		}
	}
	e.prop.set(func(b *tunnel.Batch) *tunnel.Batch { return b })
	waitFor(ctx, t, "the honest payout in the regtest mempool", func() bool {
		return slices.Contains(s.BTC.MempoolTxids(), honest.TxHash()) || len(e.vaultSpends(b2.Inputs, honest.TxHash())) > 0
	})
	if spends := e.vaultSpends(b2.Inputs, honest.TxHash()); len(spends) > 0 {
		t.Fatalf("payout %s broadcast instead of the chain's %s", spends[0].TxHash(), honest.TxHash())
	}
	var dropped float64
	for _, rs := range e.signers {
		dropped += rs.counter(t, "bad_signature_sets_total", "")
	}
	if dropped == 0 {
		t.Fatal("no signer dropped the junk and the stolen key's sets")
	}
	hs, err := s.MineBTC(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	blk, err := s.BTC.Block(hs[0])
	if err != nil {
		t.Fatal(err)
	}
	var paid *wire.MsgTx
	for _, tx := range blk.Transactions {
		if tx.TxHash() == honest.TxHash() {
			paid = tx
		}
	}
	if paid == nil {
		t.Fatal("the honest payout is not in the next block")
	}
	if got := paid.TxOut[0]; !bytes.Equal(got.PkScript, scriptB) || got.Value <= int64(b.Amount)-maxFee || got.Value >= int64(b.Amount) {
		t.Fatalf("the payout pays %d sat to %x: want withdrawal B's %d sat less a fee up to %d", got.Value, got.PkScript, b.Amount, maxFee)
	}
	t.Logf("dropped signature sets %v; honest payout %s mined; whole test %s", dropped, honest.TxHash(), time.Since(start).Round(time.Second))
}

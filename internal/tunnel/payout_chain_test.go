package tunnel

import (
	"errors"
	"log/slog"
	"testing"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hemi-go/hemi/internal/btc/btcdtest"
	"github.com/hemi-go/hemi/internal/btc/regtest"
)

// chainUnderTest is the part of a real Bitcoin node the payout tests use:
// the embedded regtest node or a btcd process.
type chainUnderTest struct {
	// mineVault mines count blocks whose coinbases pay the vault.
	mineVault func(count int)
	// mine mines count blocks paying elsewhere.
	mine func(count int)
	// coinbase is the block at height's coinbase transaction.
	coinbase func(height int32) *wire.MsgTx
	// submit offers tx to the node's mempool.
	submit func(tx *wire.MsgTx) error
	// confirmed reports whether txid is in the best chain's tip block.
	inTip func(txid chainhash.Hash) bool
	tip   func() int32
}

func regtestChain(t *testing.T, vault []byte) *chainUnderTest {
	n, err := regtest.New(regtest.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	other := p2wpkh(1000)
	block := func(h int32) *wire.MsgBlock {
		hash, ok := n.HashAt(h)
		if !ok {
			t.Fatalf("no block at %d", h)
		}
		b, err := n.Block(hash)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return &chainUnderTest{
		mineVault: func(c int) {
			if _, err := n.MineToScript(c, vault); err != nil {
				t.Fatal(err)
			}
		},
		mine: func(c int) {
			if _, err := n.MineToScript(c, other); err != nil {
				t.Fatal(err)
			}
		},
		coinbase: func(h int32) *wire.MsgTx { return block(h).Transactions[0] },
		submit:   n.AcceptTx,
		inTip: func(txid chainhash.Hash) bool {
			_, h := n.Tip()
			for _, tx := range block(h).Transactions {
				if tx.TxHash() == txid {
					return true
				}
			}
			return false
		},
		tip: func() int32 { _, h := n.Tip(); return h },
	}
}

func btcdChain(t *testing.T, v *scriptVault) *chainUnderTest {
	vaultAddr, err := address.NewAddressTaproot(v.PkScript()[2:], &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	// Two processes would be needed to switch mining addresses; instead
	// btcd mines everything to the vault and the test spends only the
	// coinbases it picks.
	bt := btcdtest.Start(t, btcdtest.Options{MiningAddr: vaultAddr})
	block := func(h int32) *wire.MsgBlock {
		hash, err := bt.RPC().GetBlockHash(int64(h))
		if err != nil {
			t.Fatal(err)
		}
		b, err := bt.RPC().GetBlock(hash)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	gen := func(c int) { bt.Generate(uint32(c)) }
	return &chainUnderTest{
		mineVault: gen,
		mine:      gen,
		coinbase:  func(h int32) *wire.MsgTx { return block(h).Transactions[0] },
		submit:    func(tx *wire.MsgTx) error { _, err := bt.Node.SendRawTx(tx); return err },
		inTip: func(txid chainhash.Hash) bool {
			_, h := bt.Tip()
			for _, tx := range block(h).Transactions {
				if tx.TxHash() == txid {
					return true
				}
			}
			return false
		},
		tip: func() int32 { _, h := bt.Tip(); return h },
	}
}

// vaultCoinbase is the vault output of the coinbase at height.
func vaultCoinbase(t *testing.T, c *chainUnderTest, v VaultScripts, h int32) (wire.OutPoint, uint64) {
	t.Helper()
	cb := c.coinbase(h)
	for i, o := range cb.TxOut {
		if string(o.PkScript) == string(v.PkScript()) {
			return wire.OutPoint{Hash: cb.TxHash(), Index: uint32(i)}, uint64(o.Value)
		}
	}
	t.Fatalf("coinbase at %d does not pay the vault", h)
	return wire.OutPoint{}, 0
}

// recoveryDelay is N of the chain tests: above coinbase maturity (100),
// so a mature vault coinbase is still inside the recovery timelock.
const recoveryDelay = 110

// payoutScenario: a 2-of-3 payout of two vault inputs to 10 withdrawals
// is accepted by the node's mempool and mined; a payout with one
// signature is refused; the recovery spend is refused one block before
// N and accepted at N.
func payoutScenario(t *testing.T, f *fixture, c *chainUnderTest) {
	c.mineVault(2) // heights 1 and 2 pay the vault
	c.mine(100)    // both mature
	op1, a1 := vaultCoinbase(t, c, f.vault, 1)
	op2, a2 := vaultCoinbase(t, c, f.vault, 2)

	b := &Batch{Number: 1, FeeRate: 2, Inputs: []BatchInput{{OutPoint: op1, Amount: a1, Height: 1}, {OutPoint: op2, Amount: a2, Height: 2}}}
	for i := 0; i < 10; i++ {
		b.Outputs = append(b.Outputs, BatchOutput{ID: uint64(i), Script: p2wpkh(i), Amount: 1_000_000 * uint64(i+1), MaxFee: 50_000})
	}
	wit, err := CommitteeWitnessSize(f.vault)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := PlanPayout(b.FeeRate, b.Inputs, b.Outputs, f.vault.PkScript(), wit)
	if err != nil {
		t.Fatal(err)
	}
	b.Change = plan.Change
	tx, err := BuildPayout(b, f.vault)
	if err != nil {
		t.Fatal(err)
	}
	prev := PayoutPrevouts(b, f.vault)
	all := signAll(t, f, tx, prev)

	// One signer alone: the witness has one signature where the leaf
	// needs two; the node refuses it.
	committee, _ := parseLeaf(f.vault.CommitteeScript())
	lone := tx.Copy()
	for in := range lone.TxIn {
		wit := wire.TxWitness{}
		for i := len(committee.keys) - 1; i >= 0; i-- {
			if i == 0 {
				wit = append(wit, all[committee.keys[0]][in])
			} else {
				wit = append(wit, []byte{})
			}
		}
		cb, _ := f.vault.ControlBlock(f.vault.CommitteeScript())
		lone.TxIn[in].Witness = append(wit, f.vault.CommitteeScript(), cb)
	}
	if err := c.submit(lone); err == nil {
		t.Fatal("a payout with one of two signatures was accepted")
	}

	signed, _, err := Assemble(tx, prev, f.vault, map[[32]byte][][]byte{committee.keys[1]: all[committee.keys[1]], committee.keys[2]: all[committee.keys[2]]})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.submit(signed); err != nil {
		t.Fatalf("payout refused: %v", err)
	}
	c.mine(1)
	if !c.inTip(signed.TxHash()) {
		t.Fatal("payout not mined")
	}

	// Recovery of a vault coinbase mined now: refused until N blocks.
	c.mineVault(1)
	h := c.tip()
	op, amt := vaultCoinbase(t, c, f.vault, h)
	c.mine(100) // maturity; still inside N (110)
	rtx, rprev, err := BuildRecovery([]RecoveryInput{{OutPoint: op, Amount: amt}}, p2wpkh(77), 2, f.vault)
	if err != nil {
		t.Fatal(err)
	}
	rsigs := map[[32]byte][][]byte{}
	for _, k := range f.recovery {
		s, err := SignRecovery(rtx, rprev, f.vault, k)
		if err != nil {
			t.Fatal(err)
		}
		rsigs[XOnly(k.PubKey())] = s
	}
	rsigned, _, err := AssembleRecovery(rtx, rprev, f.vault, rsigs)
	if err != nil {
		t.Fatal(err)
	}
	// The next block would be at h+N-1: one short of the lock.
	c.mine(int(h) + recoveryDelay - 2 - int(c.tip()))
	if err := c.submit(rsigned); err == nil {
		t.Fatalf("recovery accepted with the next block at %d, before %d", c.tip()+1, h+recoveryDelay)
	}
	c.mine(1) // the next block is at h+N: the lock is met
	if err := c.submit(rsigned); err != nil {
		t.Fatalf("recovery refused at N: %v", err)
	}
	c.mine(1)
	if !c.inTip(rsigned.TxHash()) {
		t.Fatal("recovery not mined")
	}
}

func TestPayoutRegtest(t *testing.T) {
	f := newFixture(t, recoveryDelay)
	c := regtestChain(t, f.vault.PkScript())
	payoutScenario(t, f, c)
}

func TestPayoutBTCD(t *testing.T) {
	f := newFixture(t, recoveryDelay)
	c := btcdChain(t, f.vault)
	payoutScenario(t, f, c)
}

func TestBuildRecoveryErrors(t *testing.T) {
	f := newFixture(t, 10)
	in := []RecoveryInput{{Amount: 100_000}}
	for _, c := range []struct {
		name string
		ins  []RecoveryInput
		dest []byte
		rate uint64
		want error
	}{
		{"none", nil, p2wpkh(0), 1, ErrBatch},
		{"rate 0", in, p2wpkh(0), 0, ErrBatch},
		{"no dest", in, nil, 1, ErrBatch},
		{"dust", []RecoveryInput{{Amount: 300}}, p2wpkh(0), 1, ErrDust},
	} {
		if _, _, err := BuildRecovery(c.ins, c.dest, c.rate, f.vault); !errors.Is(err, c.want) {
			t.Fatalf("%s: %v", c.name, err)
		}
	}
	tx, _, err := BuildRecovery(in, p2wpkh(0), 1, f.vault)
	if err != nil || tx.TxIn[0].Sequence != 10 || tx.Version != 2 {
		t.Fatalf("%v %+v", err, tx)
	}
	p, err := RecoveryPSBT(in, p2wpkh(0), 1, f.vault)
	if err != nil || string(p.Inputs[0].TapLeafScripts[0].Script) != string(f.vault.RecoveryScript()) {
		t.Fatalf("recovery PSBT: %v", err)
	}
	// Committee keys cannot sign the recovery leaf.
	if _, err := SignRecovery(tx, []*wire.TxOut{wire.NewTxOut(100_000, f.vault.PkScript())}, f.vault, f.signers[0]); !errors.Is(err, ErrNotSigner) {
		t.Fatalf("committee key on the recovery leaf: %v", err)
	}
}

package cluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/hemi-go/hemi/internal/btc/txgen"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/devnet"
	"github.com/hemi-go/hemi/internal/tunnel"
)

// tunnelEnv is the kill -9 test's network: the cluster (the in-process
// regtest node, mined by hand, and one sequencer process with its
// Bitcoin query API on), a `hemi popm` process and the dev committee's
// three `hemi signer` processes (2-of-3), each against the node.
type tunnelEnv struct {
	t       *testing.T
	ctx     context.Context
	c       *Cluster
	tc      *genesis.TunnelConfig
	v       *tunnel.Vault
	eth     *ethclient.Client
	popm    *proc
	signers []*proc
	index   []uint8 // committee index of signers[i]
	miner   *txgen.Key
}

// state reads the L2 state at the node's head.
func (e *tunnelEnv) state() (*rpcState, uint64) {
	e.t.Helper()
	head, err := e.eth.BlockNumber(e.ctx)
	if err != nil {
		e.t.Fatalf("L2 head: %v", err)
	}
	return &rpcState{ctx: e.ctx, c: e.eth, block: new(big.Int).SetUint64(head)}, head
}

// batch is the tunnel's batch (open or last) at the head.
func (e *tunnelEnv) batch() *tunnel.Batch {
	e.t.Helper()
	st, _ := e.state()
	b, err := tunnel.ReadBatch(st, e.tc.TunnelAddress)
	if st.err != nil || err != nil {
		e.t.Fatalf("read batch: %v %v", st.err, err)
	}
	return b
}

// withdrawal is withdrawal id's state at the head.
func (e *tunnelEnv) withdrawal(id uint64) *tunnel.WithdrawalState {
	e.t.Helper()
	st, _ := e.state()
	ws, ok, err := tunnel.ReadWithdrawal(st, e.tc.TunnelAddress, e.v, id)
	if st.err != nil || err != nil || !ok {
		e.t.Fatalf("withdrawal %d: %v %v (found %v)", id, st.err, err, ok)
	}
	return ws
}

// synced waits until the node indexed the regtest tip and its head's
// Bitcoin view followed it (to the view lag): what one mined block can
// change is then visible.
func (e *tunnelEnv) synced() error {
	want, height := e.c.BTC.Tip()
	lag := int32(e.c.Genesis.Config.ViewLag)
	ctx, cancel := context.WithTimeout(e.ctx, 30*time.Second)
	defer cancel()
	var last string
	for {
		st, err := e.c.Status(ctx, 0)
		if err == nil && st.Bitcoin.Indexed.Hash == want.String() && st.View.Height >= height-lag {
			return nil
		}
		if err != nil {
			last = err.Error()
		} else {
			last = fmt.Sprintf("indexed %d, view %d", st.Bitcoin.Indexed.Height, st.View.Height)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node not at the regtest tip %d (last: %s)", height, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// mineUntil mines one Bitcoin block at a time, each once the node has
// followed the last, until cond holds (checked for a moment after each
// block: signers and the PoP miner act on the new state), at most max
// blocks.
func (e *tunnelEnv) mineUntil(what string, max int, cond func() bool) {
	e.t.Helper()
	for i := 0; ; i++ {
		if err := e.synced(); err != nil {
			e.t.Fatalf("%s: %v", what, err)
		}
		for end := time.Now().Add(1500 * time.Millisecond); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			if cond() {
				return
			}
		}
		if i == max {
			e.t.Fatalf("%s: not after %d Bitcoin blocks", what, max)
		}
		e.mine(1)
	}
}

func (e *tunnelEnv) mine(n int) {
	e.t.Helper()
	_, addr, _ := devnet.MinerKey()
	if _, err := e.c.BTC.Mine(n, addr); err != nil {
		e.t.Fatal(err)
	}
}

// spendCoinbase pays outs from the dev miner's coinbase at height (mature:
// the cluster mined 101 blocks) and submits it.
func (e *tunnelEnv) spendCoinbase(height int32, outs ...*wire.TxOut) *wire.MsgTx {
	e.t.Helper()
	h, _ := e.c.BTC.HashAt(height)
	b, err := e.c.BTC.Block(h)
	if err != nil {
		e.t.Fatal(err)
	}
	cb := b.Transactions[0]
	change, _ := e.miner.PkScript(txgen.P2WPKH)
	sp := txgen.Spend{
		Inputs:  []txgen.UTXO{{OutPoint: wire.OutPoint{Hash: cb.TxHash()}, Value: cb.TxOut[0].Value, Key: e.miner, Kind: txgen.P2WPKH}},
		Outputs: outs, Change: change, FeeRate: 2,
	}
	tx, _, _, err := sp.Build()
	if err == nil {
		err = txgen.Sign(tx, sp.Inputs)
	}
	if err == nil {
		err = e.c.BTC.SubmitTx(tx)
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return tx
}

// burn withdraws amount (maxFee at most of the fee) from dev account 1
// to script and returns the withdrawal id.
func (e *tunnelEnv) burn(script []byte, amount, maxFee uint64) uint64 {
	e.t.Helper()
	key := e.c.Accounts[1].Key
	from := crypto.PubkeyToAddress(key.PublicKey)
	to := e.tc.TunnelAddress
	data, err := tunnel.WithdrawCalldata(script, amount, maxFee)
	if err != nil {
		e.t.Fatal(err)
	}
	chainID, err := e.eth.ChainID(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	gas, err := e.eth.EstimateGas(e.ctx, ethereum.CallMsg{From: from, To: &to, Data: data})
	if err != nil {
		e.t.Fatalf("estimate withdraw: %v", err)
	}
	nonce, err := e.eth.PendingNonceAt(e.ctx, from)
	if err != nil {
		e.t.Fatal(err)
	}
	head, err := e.eth.HeaderByNumber(e.ctx, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	tip := big.NewInt(1_000_000_000)
	tx, err := types.SignNewTx(key, types.LatestSignerForChainID(chainID), &types.DynamicFeeTx{ChainID: chainID, Nonce: nonce,
		GasTipCap: tip, GasFeeCap: new(big.Int).Add(tip, new(big.Int).Mul(head.BaseFee, big.NewInt(2))), Gas: gas + gas/4, To: &to, Data: data})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.eth.SendTransaction(e.ctx, tx); err != nil {
		e.t.Fatalf("send withdraw: %v", err)
	}
	for {
		r, err := e.eth.TransactionReceipt(e.ctx, tx.Hash())
		if err == nil {
			if r.Status != types.ReceiptStatusSuccessful {
				e.t.Fatalf("withdraw %s reverted", tx.Hash())
			}
			for _, l := range r.Logs {
				if id, ok := tunnel.WithdrawalQueuedID(l.Topics); ok && l.Address == to {
					return id
				}
			}
			e.t.Fatalf("withdraw %s queued nothing", tx.Hash())
		}
		select {
		case <-e.ctx.Done():
			e.t.Fatalf("withdraw %s not mined", tx.Hash())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// killNode SIGKILLs the sequencer and the PoP miner (whose subscription
// dies with the node); restartNode starts both again on the same
// directories and waits until the node is back past head.
func (e *tunnelEnv) killNode() uint64 {
	e.t.Helper()
	st, err := e.c.Status(e.ctx, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.c.Kill(0); err != nil {
		e.t.Fatal(err)
	}
	e.popm.kill(e.t)
	return st.Head.Number
}

func (e *tunnelEnv) restartNode(head uint64) {
	e.t.Helper()
	if err := e.c.Restart(0); err != nil {
		e.t.Fatal(err)
	}
	if err := e.c.WaitHead(e.ctx, 0, head+1); err != nil {
		e.t.Fatal(err)
	}
	e.popm.start(e.t)
}

// posted is the bitmap of committee indexes that posted for b's attempt.
func (e *tunnelEnv) posted(b *tunnel.Batch) *big.Int {
	st, _ := e.state()
	p := tunnel.ReadPosted(st, e.tc.TunnelAddress, b.Number, b.Attempt)
	if st.err != nil {
		e.t.Fatal(st.err)
	}
	return p
}

// openBatchPaying mines until the open batch pays withdrawal id.
func (e *tunnelEnv) openBatchPaying(id uint64) *tunnel.Batch {
	e.t.Helper()
	var b *tunnel.Batch
	e.mineUntil(fmt.Sprintf("a batch paying withdrawal %d", id), 40, func() bool {
		b = e.batch()
		for _, o := range b.Outputs {
			if b.Open && o.ID == id {
				return true
			}
		}
		return false
	})
	return b
}

// TestTunnelKill9DuringBatches (issue 11, "Restarts"): the sequencer node
// and tunnel signers, real `hemi` processes, are killed with SIGKILL at
// three points of a payout batch and restarted on the same data
// directories: (1) a signer right after it logged its signature (its
// record synced, its post in flight or not sent), the node with it; (2) a
// signer after its post landed and before any assembly (the other
// signers are down, so 1 of 2), the node with it; (3) every signer and
// the node after the payout was broadcast, before it confirmed (the
// payout is mined while the node is down). Afterwards, in the regtest
// node's best chain: each batch's payout exists once and is the only
// spend of its vault inputs, each withdrawal is paid by exactly one
// output, every burned withdrawal is paid, and vault BTC equals hBTC
// supply plus pending, to the satoshi.
func TestTunnelKill9DuringBatches(t *testing.T) {
	if testing.Short() {
		t.Skip("runs node, PoP miner and signer processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	ports, err := freePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	api := ports[0]
	dir := t.TempDir()
	c, err := Start(ctx, Config{Bin: hemiBin, Dir: dir, Sequencers: 1, BlockTime: time.Second, MineInterval: -1,
		Genesis:  func(f *genesis.File) { f.Config.KeystoneInterval = 2 },
		NodeArgs: func(*Cluster, *Node) []string { return []string{"--api", api} },
		Logger:   slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	e := &tunnelEnv{t: t, ctx: ctx, c: c, tc: c.Genesis.Config.Tunnel}
	t.Cleanup(func() {
		for _, p := range append([]*proc{e.popm}, e.signers...) {
			if p != nil {
				p.kill(t)
			}
		}
		c.Stop()
		if t.Failed() {
			t.Logf("---- node log tail ----\n%s", (&proc{log: c.Nodes[0].Log}).tail(8000))
			for _, p := range append([]*proc{e.popm}, e.signers...) {
				if p != nil {
					t.Logf("---- %s log tail ----\n%s", p.name, p.tail(4000))
				}
			}
		}
	})
	if e.v, err = tunnel.NewVault(e.tc, &chaincfg.RegressionNetParams); err != nil {
		t.Fatal(err)
	}
	if e.miner, _, err = devnet.MinerKey(); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitHead(ctx, 0, 1); err != nil {
		t.Fatal(err)
	}
	if e.eth, err = ethclient.DialContext(ctx, c.Nodes[0].RPCURL()); err != nil {
		t.Fatal(err)
	}
	defer e.eth.Close()

	// The PoP miner's wallet and the vault deposit (10 BTC to dev
	// account 1) from the dev miner's first coinbases.
	w, err := devnet.PoPMWallet()
	if err != nil {
		t.Fatal(err)
	}
	var outs []*wire.TxOut
	for range devnet.PoPMOutputs {
		outs = append(outs, wire.NewTxOut(devnet.PoPMOutputValue, w.Script()))
	}
	e.spendCoinbase(1, outs...)
	user := c.Accounts[1].Address
	const depositSat = 10 * 100_000_000
	dep := e.spendCoinbase(2, wire.NewTxOut(depositSat, e.v.PkScript()), wire.NewTxOut(0, tunnel.RecipientScript(user)))
	e.mine(1)

	// The processes: secrets in 0600 files, never on a command line.
	secret := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	rpcURL := c.Nodes[0].RPCURL()
	e.popm = &proc{name: "popm", bin: hemiBin, log: filepath.Join(dir, "popm.log"),
		args: []string{"--datadir", filepath.Join(dir, "popm"), "popm", "--network", "regtest", "--api", api,
			"--l2-url", "ws://" + c.Nodes[0].RPC, "--key-file", secret("popm.key", devnet.PoPMMnemonic())}}
	e.popm.start(t)
	devs, _, err := genesis.DevTunnelKeys()
	if err != nil {
		t.Fatal(err)
	}
	committee, _, err := tunnel.CommitteeKeys(e.v)
	if err != nil {
		t.Fatal(err)
	}
	mnemonic := secret("committee.key", genesis.DevMnemonic)
	for i, dk := range devs {
		name := "signer" + strconv.Itoa(i)
		l2 := c.Accounts[devnet.DevSignerAccount0+i].Key
		e.signers = append(e.signers, &proc{name: name, bin: hemiBin, log: filepath.Join(dir, name+".log"),
			args: []string{"--datadir", filepath.Join(dir, name), "signer", "--genesis", c.GenesisPath, "--rpc", rpcURL, "--api", api,
				"--key-file", mnemonic, "--key-path", fmt.Sprintf("m/86'/1'/0'/0/%d", i),
				"--l2-key-file", secret(name+"-l2.key", fmt.Sprintf("%x", crypto.FromECDSA(l2)))}})
		idx := -1
		for j, k := range committee {
			if k == dk.XOnly {
				idx = j
			}
		}
		if idx < 0 {
			t.Fatalf("dev signer %d is not in the committee", i)
		}
		e.index = append(e.index, uint8(idx))
	}
	for _, s := range e.signers {
		s.start(t)
	}
	depKey := tunnel.DepositKey(wire.OutPoint{Hash: dep.TxHash(), Index: 0})
	e.mineUntil("the deposit minted", int(e.tc.DepositConfirmations)+8, func() bool {
		st, _ := e.state()
		_, ok := tunnel.ReadMinted(st, e.tc.TunnelAddress, depKey)
		return ok
	})

	type wd struct {
		id     uint64
		script []byte
		amount uint64
	}
	var wds []wd
	withdraw := func(amount uint64) wd {
		sum := sha256.Sum256(binary.BigEndian.AppendUint64([]byte("kill -9 withdrawal "), uint64(len(wds))))
		script := append([]byte{0x00, 0x14}, sum[:20]...) // P2WPKH of a test-only key hash
		x := wd{id: e.burn(script, amount, 100_000), script: script, amount: amount}
		wds = append(wds, x)
		return x
	}
	s0 := e.signers[0]

	// (1) Signer 0 alone is killed right after it signed (record synced,
	// post in flight or not sent), the node with it.
	for _, s := range e.signers {
		s.kill(t)
	}
	w1 := withdraw(100_000_000)
	b1 := e.openBatchPaying(w1.id)
	from := s0.logSize()
	s0.start(t)
	s0.waitLog(ctx, t, from, "payout checked and signed", fmt.Sprintf("batch=%d attempt=", b1.Number))
	s0.kill(t)
	head := e.killNode()
	e.restartNode(head)
	landed := e.posted(b1).Bit(int(e.index[0])) == 1
	t.Logf("(1) batch %d: signer 0 killed after signing; its post landed before the kill: %v", b1.Number, landed)
	for _, s := range e.signers {
		s.start(t)
	}
	e.mineUntil(fmt.Sprintf("withdrawal %d paid", w1.id), 30, func() bool { return e.withdrawal(w1.id).Paid })

	// (2) Signer 0 posted, the others are down (no assembly: 1 of 2);
	// signer 0 and the node are killed.
	e.signers[1].kill(t)
	e.signers[2].kill(t)
	w2 := withdraw(150_000_000)
	b2 := e.openBatchPaying(w2.id)
	e.mineUntil(fmt.Sprintf("signer 0's post for batch %d", b2.Number), 5, func() bool {
		return e.posted(b2).Bit(int(e.index[0])) == 1
	})
	s0.kill(t)
	head = e.killNode()
	if tx, err := tunnel.BuildPayout(b2, e.v); err != nil {
		t.Fatal(err)
	} else if _, err := c.BTC.MempoolTx(tx.TxHash()); err == nil {
		t.Fatalf("batch %d's payout was broadcast with one signature set", b2.Number)
	}
	e.restartNode(head)
	s0.start(t)
	e.signers[1].start(t)
	e.mineUntil(fmt.Sprintf("withdrawal %d paid", w2.id), 30, func() bool { return e.withdrawal(w2.id).Paid })
	e.signers[2].start(t)
	if p := e.posted(b2); p.Bit(int(e.index[2])) == 1 {
		t.Logf("(2) batch %d: signer 2 posted too (bitmap %b)", b2.Number, p)
	}

	// (3) The payout is broadcast; every signer and the node are killed
	// before it confirms, and it is mined while they are down.
	w3 := withdraw(200_000_000)
	w4 := withdraw(50_000_000)
	b3 := e.openBatchPaying(w3.id)
	p3, err := tunnel.BuildPayout(b3, e.v)
	if err != nil {
		t.Fatal(err)
	}
	bctx, bcancel := context.WithTimeout(ctx, time.Minute)
	for {
		if _, err := c.BTC.MempoolTx(p3.TxHash()); err == nil {
			break
		}
		select {
		case <-bctx.Done():
			bcancel()
			t.Fatalf("batch %d's payout %s never reached the mempool", b3.Number, p3.TxHash())
		case <-time.After(20 * time.Millisecond):
		}
	}
	bcancel()
	for _, s := range e.signers {
		s.kill(t)
	}
	head = e.killNode()
	e.mine(1)
	e.restartNode(head)
	for _, s := range e.signers {
		s.start(t)
	}
	e.mineUntil(fmt.Sprintf("withdrawals %d and %d paid", w3.id, w4.id), 60, func() bool {
		return e.withdrawal(w3.id).Paid && e.withdrawal(w4.id).Paid
	})
	e.mine(3) // blocks on top: a late duplicate would have room to show up
	if err := e.synced(); err != nil {
		t.Fatal(err)
	}

	// The regtest node's best chain: nothing paid twice, nothing lost.
	best := bestChain(t, c)
	vault := e.v.PkScript()
	vaultOuts := map[wire.OutPoint]int64{}
	batches := map[uint64]chainhash.Hash{}
	paidTo := map[string][]int64{}
	for _, tx := range best {
		spendsVault := false
		for _, in := range tx.TxIn {
			if _, ok := vaultOuts[in.PreviousOutPoint]; ok {
				spendsVault = true
				delete(vaultOuts, in.PreviousOutPoint)
			}
		}
		if spendsVault {
			n, ok := payoutBatch(tx)
			if !ok {
				t.Fatalf("vault spent by %s, which carries no batch marker", tx.TxHash())
			}
			if prev, dup := batches[n]; dup {
				t.Fatalf("batch %d paid twice: %s and %s", n, prev, tx.TxHash())
			}
			batches[n] = tx.TxHash()
			for _, o := range tx.TxOut {
				paidTo[string(o.PkScript)] = append(paidTo[string(o.PkScript)], o.Value)
			}
		}
		for j, o := range tx.TxOut {
			if bytes.Equal(o.PkScript, vault) {
				vaultOuts[wire.OutPoint{Hash: tx.TxHash(), Index: uint32(j)}] = o.Value
			}
		}
	}
	var burned uint64
	for _, x := range wds {
		ws := e.withdrawal(x.id)
		if !ws.Paid || batches[ws.Item.Batch] != ws.PaidTxid {
			t.Fatalf("withdrawal %d: paid %v by %s in batch %d; the best chain pays that batch by %s",
				x.id, ws.Paid, ws.PaidTxid, ws.Item.Batch, batches[ws.Item.Batch])
		}
		got := paidTo[string(x.script)]
		if len(got) != 1 || got[0] <= 0 || uint64(got[0]) > x.amount || x.amount-uint64(got[0]) > 100_000 {
			t.Fatalf("withdrawal %d of %d sat: paid %v in the best chain, want one output of the amount less its fee", x.id, x.amount, got)
		}
		burned += x.amount
	}
	st, at := e.state()
	var vaultSat int64
	for _, v := range vaultOuts {
		vaultSat += v
	}
	supply := tunnel.HBTCSupply(st, e.tc.HBTCAddress).Uint64()
	pending := tunnel.ReadPendingSat(st, e.tc.TunnelAddress) + tunnel.ReadRecordedSat(st, e.tc.TunnelAddress)
	if st.err != nil {
		t.Fatal(st.err)
	}
	if supply != depositSat-burned || uint64(vaultSat) != supply+pending {
		t.Fatalf("L2 block %d: vault %d sat, hBTC supply %d (want %d) + pending %d", at, vaultSat, supply, depositSat-burned, pending)
	}
	for n, txid := range batches {
		if tunnel.ReadFlaggedSpend(st, e.tc.TunnelAddress, txid) {
			t.Fatalf("batch %d's payout %s was flagged as a vault spend matching no batch", n, txid)
		}
	}
	for _, p := range e.signers { // never a second transaction for one attempt, nothing lost
		if b, err := os.ReadFile(p.log); err != nil || bytes.Contains(b, []byte("level=ERROR")) {
			t.Fatalf("%s logged an error (%v):\n%s", p.name, err, p.tail(3000))
		}
	}
	t.Logf("%d batches paid once each (%v), %d withdrawals paid once each; vault %d sat = supply %d + pending %d",
		len(batches), batches, len(wds), vaultSat, supply, pending)
}

// bestChain returns the regtest node's best-chain transactions in chain
// order.
func bestChain(t *testing.T, c *Cluster) []*wire.MsgTx {
	t.Helper()
	hash, height := c.BTC.Tip()
	blocks := make([]*wire.MsgBlock, height+1)
	for ; height >= 0; height-- {
		b, err := c.BTC.Block(hash)
		if err != nil {
			t.Fatal(err)
		}
		blocks[height] = b
		hash = b.Header.PrevBlock
	}
	var txs []*wire.MsgTx
	for _, b := range blocks {
		txs = append(txs, b.Transactions...)
	}
	return txs
}

// payoutBatch reads the batch number of a payout's `HMWD` OP_RETURN.
func payoutBatch(tx *wire.MsgTx) (uint64, bool) {
	for _, o := range tx.TxOut {
		if n, ok := tunnel.ParsePayoutScript(o.PkScript); ok {
			return n, true
		}
	}
	return 0, false
}

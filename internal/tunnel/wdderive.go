package tunnel

// The withdrawal derivers (DESIGN 6, 3.3): the system transactions that
// open a payout batch, re-derive it at a higher fee, mark it paid, flag a
// vault spend that matches no batch and flag a shortfall of the vault's
// BTC against what it owes. One rules.Deriver, Withdrawals, derives them
// all from the parent state (the predeploy's queue and batch) and the
// block's Bitcoin view, in the order: batch (open / re-derive / paid),
// vault-spend flags, shortfall flag. The node installs it after the
// deposit deriver and before the PoP rewards.
//
// The vault's outputs come from the Bitcoin index as of the view
// (rules.WithdrawalBitcoin), not from an L2-side ledger: the index is
// the truth a payout must spend, it sees every spend (so the watch needs
// no second source). vaultwatch.go reads it with work bounded by what is
// new, never by the vault's history. A vault output is spendable by a batch once it has
// max(DepositConfirmations, WithdrawalConfirmations) confirmations: a
// deposit is then settled (minted, refund queued or recorded, carry-over
// aside, which does not change what the vault holds) and a change output
// belongs to a payout already marked paid.

import (
	"errors"
	"fmt"
	"math/big"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/chain/rules"
	"github.com/hemi-go/hemi/internal/finality/tracker"
)

// Source-hash domains of the withdrawal system transactions (DESIGN 3.3:
// each kind its own; block.DomainTunnelDeposit is 0x101, PoP rewards
// 0x102).
const (
	// DomainTunnelBatch: batch open, re-derivation and paid marker. Hash
	// = batchKey(number, attempt, kind), Index = the L2 block number.
	DomainTunnelBatch block.SourceDomain = 0x103
	// DomainTunnelVaultFlag: vault-spend and shortfall flags. Hash = the
	// spending txid (spend flag) or shortfallKey, Index = the L2 block
	// number.
	DomainTunnelVaultFlag block.SourceDomain = 0x104
)

// Gas of the withdrawal system transactions: the measured worst case
// plus a margin (genesis.TunnelBatchGas and the others say the figures;
// TestSystemTxGasBudget measures them). A flag that cancels the open
// batch writes its outputs back to the queue and gets CancelFlagGas;
// every other flag FlagGas.
const (
	BatchGas      = genesis.TunnelBatchGas
	PaidGas       = genesis.TunnelPaidGas
	FlagGas       = genesis.TunnelFlagGas
	CancelFlagGas = genesis.TunnelCancelFlagGas
	ShortfallGas  = genesis.TunnelShortfallGas
)

// MaxFlagsPerBlock bounds the vault-spend flags of one block; more
// unmatched spends are flagged in the next blocks (each spender once).
const MaxFlagsPerBlock = genesis.TunnelMaxFlagsPerBlock

// MaxKeystoneScan bounds the keystones the superfinality check reads per
// block (newest first): 1,024 keystones of 25 blocks at 2 s is 14 hours of
// L2 history above the newest superfinal keystone.
const MaxKeystoneScan = 1024

// systemAddress is the sender of the tunnel's system transactions.
var systemAddress = genesis.SystemAddress

// shortfallKey is the source hash of shortfall flags.
var shortfallKey = chainhash.Hash{'s', 'h', 'o', 'r', 't', 'f', 'a', 'l', 'l'}

// Batch system-call kinds in batchKey.
const (
	keyOpen byte = 1
	keyPaid byte = 2
)

func batchKey(number uint64, attempt uint32, kind byte) chainhash.Hash {
	var h chainhash.Hash
	for i := 0; i < 8; i++ {
		h[i] = byte(number >> (56 - 8*i))
	}
	for i := 0; i < 4; i++ {
		h[8+i] = byte(attempt >> (24 - 8*i))
	}
	h[12] = kind
	return h
}

// ErrWithdrawalConfig: a WithdrawalConfig the derivers cannot run with.
var ErrWithdrawalConfig = errors.New("tunnel: invalid withdrawal deriver config")

// WithdrawalConfig is what the withdrawal derivers need of the genesis.
type WithdrawalConfig struct {
	// Tunnel is the genesis tunnel section: the predeploy and hBTC
	// addresses, RecoveryDelay (outputs older than N/2 are refreshed),
	// the deposit and withdrawal confirmations and RederiveBlocks.
	Tunnel *genesis.TunnelConfig
	// Vault is the genesis vault (NewVault over Tunnel).
	Vault VaultScripts
	// SuperfinalDepth and KeystoneInterval decide which withdrawals are
	// payable (DESIGN 4: superfinal as of the view).
	SuperfinalDepth  uint32
	KeystoneInterval uint64
}

// Withdrawals is the withdrawal deriver (rules.Deriver). It reads the
// deposit side's state through l2abi.go (the recorded fee rate, hBTC's
// supply, recorded and processed deposits).
type Withdrawals struct {
	cfg    WithdrawalConfig
	tc     *genesis.TunnelConfig
	tunnel common.Address
	fees   Fees
	// memo keeps each derivation's unresolved vault spends for the
	// next block's (vaultwatch.go); useMemo false reads them all every
	// time (tests compare both).
	memo    spendMemo
	useMemo bool
}

var _ rules.Deriver = (*Withdrawals)(nil)

// NewWithdrawals checks cfg and returns the deriver.
func NewWithdrawals(cfg WithdrawalConfig) (*Withdrawals, error) {
	switch {
	case cfg.Tunnel == nil:
		return nil, fmt.Errorf("%w: no tunnel", ErrWithdrawalConfig)
	case cfg.Vault == nil:
		return nil, fmt.Errorf("%w: no vault", ErrWithdrawalConfig)
	case cfg.KeystoneInterval == 0 || cfg.SuperfinalDepth == 0:
		return nil, fmt.Errorf("%w: keystone interval and superfinal depth must be positive", ErrWithdrawalConfig)
	case cfg.Tunnel.WithdrawalConfirmations == 0:
		return nil, fmt.Errorf("%w: withdrawal confirmations must be positive", ErrWithdrawalConfig)
	}
	f, err := NewFees(cfg.Vault)
	if err != nil {
		return nil, err
	}
	tc := cfg.Tunnel.Clone()
	return &Withdrawals{cfg: cfg, tc: tc, tunnel: tc.TunnelAddress, fees: f, useMemo: true}, nil
}

// Fees is how the deriver sizes payouts (for clients that re-derive).
func (w *Withdrawals) Fees() Fees { return w.fees }

// Tunnel is the tunnel predeploy's address.
func (w *Withdrawals) Tunnel() common.Address { return w.tunnel }

// spendable is the confirmations a vault output needs to be a batch input.
func (w *Withdrawals) spendable() uint32 {
	return max(w.tc.DepositConfirmations, w.tc.WithdrawalConfirmations, 1)
}

// Derive derives the block's withdrawal system transactions.
func (w *Withdrawals) Derive(d *rules.Derivation) ([]*block.SystemTx, error) {
	if d.State == nil {
		return nil, fmt.Errorf("%w: the derivation has no parent state", ErrWithdrawalConfig)
	}
	st, err := d.State()
	if err != nil {
		return nil, fmt.Errorf("tunnel: parent state of block %d: %w", d.Number, err)
	}
	v, err := w.readVault(st, d.Bitcoin, d.Parent, d.View.Hash, d.View.Height)
	if err != nil {
		return nil, err
	}
	flags, cancel, err := w.flags(d, st, v)
	if err != nil {
		return nil, err
	}
	var bt []*block.SystemTx
	if !cancel {
		if bt, err = w.batch(d, st, v); err != nil {
			return nil, err
		}
	}
	sf, err := w.shortfall(d, st, v)
	if err != nil {
		return nil, err
	}
	return fitGas(d.GasLeft, bt, flags, sf), nil
}

// fitGas keeps, in block order (the batch call, the flags, the shortfall
// flag), the transactions whose Gas fits in left: a batch call that does
// not fit waits, the flags stop at the first that does not fit (the rest
// are flagged in the next blocks), a shortfall flag that does not fit
// waits. Everything dropped is derived again from the next block's
// state, so nothing is lost; only a configuration genesis validation
// refuses can make it drop anything.
func fitGas(left uint64, groups ...[]*block.SystemTx) []*block.SystemTx {
	var out []*block.SystemTx
	for _, g := range groups {
		for _, tx := range g {
			if tx.Gas > left {
				break
			}
			left -= tx.Gas
			out = append(out, tx)
		}
	}
	return out
}

// vaultView is the vault as of the view (vaultwatch.go), with the open
// batch.
type vaultView struct {
	height uint32
	// unspent are the oldest MaxPayoutInputs unspent vault outputs,
	// oldest first; balance is the sum of all of them.
	unspent []rules.ScriptOutput
	balance int64
	// confirmingSat is the unspent deposits the deposit deriver has not
	// processed yet.
	confirmingSat uint64
	// spends are the vault spends not yet resolved (marked paid or
	// flagged), in the spent outputs' Bitcoin order.
	spends   []rules.ScriptOutput
	batch    *Batch
	head     QueueHead
	attempts map[chainhash.Hash]uint32 // the open batch's payout txids
	inBatch  map[wire.OutPoint]bool    // the open batch's inputs
	// paid: the open batch's payout (attempt) is confirmed in the view
	// at paidHeight.
	paid       bool
	paidTxid   chainhash.Hash
	paidAt     uint32
	paidHeight int32
}

// batchView completes v with the open batch: its attempts' txids, its
// inputs and whether a spend of its first input by an attempt paid it.
func (w *Withdrawals) batchView(st StateReader, v *vaultView) error {
	b, err := ReadBatch(st, w.tunnel)
	if err != nil {
		return err
	}
	v.batch, v.head = b, ReadQueueHead(st, w.tunnel)
	v.attempts, v.inBatch = map[chainhash.Hash]uint32{}, map[wire.OutPoint]bool{}
	if !b.Open {
		return nil
	}
	for a := uint32(0); a <= b.Attempt; a++ {
		ba, err := b.AtAttempt(a, w.fees)
		if err != nil {
			continue // an attempt no payout can have: nothing to match
		}
		tx, err := BuildPayout(ba, w.cfg.Vault)
		if err != nil {
			continue
		}
		v.attempts[tx.TxHash()] = a
	}
	for _, in := range b.Inputs {
		v.inBatch[in.OutPoint] = true
	}
	if len(b.Inputs) > 0 {
		// An attempt's spend is unresolved until the marker: in spends.
		for i := range v.spends {
			o := &v.spends[i]
			if o.OutPoint != b.Inputs[0].OutPoint {
				continue
			}
			if a, ok := v.attempts[o.SpendTxid]; ok {
				v.paid, v.paidTxid, v.paidAt, v.paidHeight = true, o.SpendTxid, a, o.SpendHeight
			}
		}
	}
	return nil
}

// batch derives the open batch's paid marker or re-derivation, or a new
// batch.
func (w *Withdrawals) batch(d *rules.Derivation, st StateReader, v *vaultView) ([]*block.SystemTx, error) {
	b := v.batch
	if b.Open {
		if v.paid {
			if tracker.ConfirmationsAt(int32(v.height), v.paidHeight) < w.tc.WithdrawalConfirmations {
				return nil, nil
			}
			data, err := MarkPaidCalldata(b.Number, v.paidAt, v.paidTxid)
			if err != nil {
				return nil, err
			}
			return []*block.SystemTx{w.systemTx(DomainTunnelBatch, batchKey(b.Number, v.paidAt, keyPaid), d.Number, PaidGas, data)}, nil
		}
		if inputSpent(v) {
			return nil, nil // spent by a payout of no attempt: flags cancel it
		}
		rate, err := w.feeRate(st)
		if err != nil {
			return nil, err
		}
		nb := Rederive(b, w.fees, rate, v.height, w.tc.RederiveBlocks)
		if nb == nil {
			return nil, nil
		}
		return w.openTx(d, nb)
	}
	rate, err := w.feeRate(st)
	if err != nil {
		return nil, err
	}
	eligible, err := w.eligible(d, st, v.head)
	if err != nil {
		return nil, err
	}
	sel := &Selection{Fees: w.fees, Number: v.head.LastBatch + 1, FeeRate: rate, ViewHeight: v.height,
		RefreshAge: uint32(w.tc.RecoveryDelay / 2), Eligible: eligible, Vault: w.spendableOutputs(v)}
	nb := SelectBatch(sel)
	if nb == nil {
		return nil, nil
	}
	return w.openTx(d, nb)
}

// inputSpent reports whether any input of the open batch is spent in the
// view.
func inputSpent(v *vaultView) bool {
	for i := range v.spends {
		if v.inBatch[v.spends[i].OutPoint] {
			return true
		}
	}
	return false
}

func (w *Withdrawals) openTx(d *rules.Derivation, b *Batch) ([]*block.SystemTx, error) {
	data, err := OpenBatchCalldata(b)
	if err != nil {
		return nil, err
	}
	return []*block.SystemTx{w.systemTx(DomainTunnelBatch, batchKey(b.Number, b.Attempt, keyOpen), d.Number, BatchGas, data)}, nil
}

// feeRate is the consensus fee rate the view update recorded (at least
// 1 sat/vB, at most MaxFeeRate).
func (w *Withdrawals) feeRate(st StateReader) (uint64, error) {
	r, _ := ReadFeeRate(st, w.tunnel)
	return min(max(r, 1), MaxFeeRate), nil
}

// spendableOutputs are the vault's unspent outputs with the confirmations
// a batch input needs, oldest first, of its oldest MaxPayoutInputs.
func (w *Withdrawals) spendableOutputs(v *vaultView) []BatchInput {
	var ins []BatchInput
	for i := range v.unspent {
		o := &v.unspent[i]
		if o.Spent || o.Value <= 0 || tracker.ConfirmationsAt(int32(v.height), o.Height) < w.spendable() {
			continue
		}
		ins = append(ins, BatchInput{OutPoint: o.OutPoint, Amount: uint64(o.Value), Height: uint32(o.Height)})
	}
	return ins
}

// eligible returns the payable queue items in id order (at most
// MaxQueueScan looked at): queued refunds, and queued withdrawals whose
// L2 block is superfinal as of the view.
func (w *Withdrawals) eligible(d *rules.Derivation, st StateReader, head QueueHead) ([]QueueItem, error) {
	var (
		out     []QueueItem
		through uint64
		checked bool
	)
	for id, n := head.FirstPending, 0; id < head.NextID && n < MaxQueueScan; id, n = id+1, n+1 {
		it, ok, err := ReadItem(st, w.tunnel, id)
		if err != nil {
			return nil, err
		}
		if !ok || it.Status != StatusQueued {
			continue
		}
		if it.Kind == KindWithdrawal {
			if !checked {
				if through, err = w.superfinalThrough(d, it.L2Block); err != nil {
					return nil, err
				}
				checked = true
			}
			if it.L2Block > through {
				continue
			}
		}
		out = append(out, it)
	}
	return out, nil
}

// superfinalThrough returns the newest L2 block number that is
// superfinal as of the view on the parent's branch (0: none), looking no
// lower than the keystone covering block oldest. A keystone is
// superfinal when its own or a later keystone's earliest publication has
// the depth (DESIGN 4), so the newest keystone with a deep publication
// is the answer: keystones are read newest first.
func (w *Withdrawals) superfinalThrough(d *rules.Derivation, oldest uint64) (uint64, error) {
	iv := w.cfg.KeystoneInterval
	parent := d.Number - 1
	newest := parent / iv * iv
	lowest := (oldest + iv - 1) / iv * iv
	for k, n := newest, 0; k >= lowest && k > 0 && n < MaxKeystoneScan; k, n = k-iv, n+1 {
		ks, err := d.Keystone(k)
		if err != nil {
			return 0, fmt.Errorf("tunnel: keystone %d: %w", k, err)
		}
		pubs, err := d.Bitcoin.Publications(ks.ID, d.View.Hash)
		if err != nil {
			return 0, fmt.Errorf("tunnel: publications of keystone %d: %w", k, err)
		}
		for _, p := range pubs {
			if tracker.Superfinal(w.cfg.SuperfinalDepth, tracker.ConfirmationsAt(d.View.Height, p.Height)) {
				return k, nil
			}
		}
	}
	return 0, nil
}

// flags derives a flag per vault spend that matches no batch attempt,
// no paid payout and no earlier flag; cancel when one spends an input of
// the open batch (the flag cancels it, so no batch call this block).
func (w *Withdrawals) flags(d *rules.Derivation, st StateReader, v *vaultView) ([]*block.SystemTx, bool, error) {
	var (
		txs    []*block.SystemTx
		cancel bool
		first  = map[chainhash.Hash]*rules.ScriptOutput{}
		hits   = map[chainhash.Hash]bool{}
		order  []chainhash.Hash
	)
	for i := range v.spends {
		o := &v.spends[i]
		if _, ok := v.attempts[o.SpendTxid]; ok {
			continue
		}
		if _, ok := first[o.SpendTxid]; !ok {
			first[o.SpendTxid] = o
			order = append(order, o.SpendTxid)
		}
		if v.batch.Open && v.inBatch[o.OutPoint] {
			hits[o.SpendTxid] = true
		}
	}
	for _, sp := range order {
		if len(txs) == MaxFlagsPerBlock {
			break
		}
		o := first[sp]
		c := hits[sp] && !cancel // one flag cancels the batch
		data, err := FlagVaultSpendCalldata(sp, o.OutPoint, uint64(max(o.Value, 0)), c)
		if err != nil {
			return nil, false, err
		}
		cancel = cancel || c
		gas := uint64(FlagGas)
		if c {
			gas = CancelFlagGas
		}
		txs = append(txs, w.systemTx(DomainTunnelVaultFlag, sp, d.Number, gas, data))
	}
	return txs, cancel, nil
}

// Owed is the vault's balance sheet as of a view (VaultOwed).
type Owed struct {
	VaultSat uint64 // unspent vault outputs
	OwedSat  uint64 // what they must cover
	// Parts of OwedSat.
	SupplySat, RecordedSat, PendingSat, ConfirmingSat uint64
	// InFlightSat: the amounts of a payout confirmed but not yet marked
	// paid, which the vault already paid (subtracted).
	InFlightSat uint64
	// RefreshFeesSat: what refresh-only payouts cost the vault
	// (subtracted).
	RefreshFeesSat uint64
	// OldestAge is the confirmations of the oldest unspent vault output
	// (0: none), the age the refresh rule watches.
	OldestAge uint32
}

// Shortfall is OwedSat - VaultSat, 0 when the vault covers it.
func (o *Owed) Shortfall() uint64 {
	if o.OwedSat > o.VaultSat {
		return o.OwedSat - o.VaultSat
	}
	return 0
}

// owed computes the balance sheet (DESIGN 6: vault BTC = hBTC supply +
// deposits confirming + queued refunds and withdrawals + recorded
// deposits). A deposit counts as confirming until the deposit deriver
// processed it (minted, queued for refund or recorded: Processed in the
// parent state), carried-over ones included; an output created by a
// transaction that spends a vault output is a change, never a deposit
// (readVault). Everything is read as of the view and the parent state,
// so the equation holds to the satoshi at every block.
func (w *Withdrawals) owed(st StateReader, v *vaultView) (*Owed, error) {
	sup := HBTCSupply(st, w.tc.HBTCAddress)
	if !sup.IsUint64() {
		return nil, fmt.Errorf("tunnel: hBTC supply %s beyond 64 bits", sup)
	}
	supply, recorded := sup.Uint64(), ReadRecordedSat(st, w.tunnel)
	o := &Owed{SupplySat: supply, RecordedSat: recorded, PendingSat: ReadPendingSat(st, w.tunnel), RefreshFeesSat: v.batch.RefreshFees,
		VaultSat: uint64(v.balance), ConfirmingSat: v.confirmingSat}
	for i := range v.unspent {
		if x := &v.unspent[i]; x.Value > 0 {
			o.OldestAge = tracker.ConfirmationsAt(int32(v.height), x.Height)
			break
		}
	}
	if v.paid {
		if v.batch.Refresh {
			if ba, err := v.batch.AtAttempt(v.paidAt, w.fees); err == nil {
				o.RefreshFeesSat += ba.Fee
			}
		}
		for _, out := range v.batch.Outputs {
			o.InFlightSat += out.Amount
		}
	}
	owed := new(big.Int).SetUint64(supply)
	for _, x := range []uint64{recorded, o.PendingSat, o.ConfirmingSat} {
		owed.Add(owed, new(big.Int).SetUint64(x))
	}
	owed.Sub(owed, new(big.Int).SetUint64(o.InFlightSat))
	owed.Sub(owed, new(big.Int).SetUint64(o.RefreshFeesSat))
	switch {
	case owed.Sign() < 0:
		o.OwedSat = 0
	case !owed.IsUint64():
		o.OwedSat = ^uint64(0)
	default:
		o.OwedSat = owed.Uint64()
	}
	return o, nil
}

// shortfall flags a change of the vault's shortfall (a new one, a
// different amount, or its end) against the one last flagged.
func (w *Withdrawals) shortfall(d *rules.Derivation, st StateReader, v *vaultView) ([]*block.SystemTx, error) {
	o, err := w.owed(st, v)
	if err != nil {
		return nil, err
	}
	if o.Shortfall() == v.head.LastShortfall {
		return nil, nil
	}
	data, err := FlagShortfallCalldata(o.VaultSat, o.OwedSat)
	if err != nil {
		return nil, err
	}
	return []*block.SystemTx{w.systemTx(DomainTunnelVaultFlag, shortfallKey, d.Number, ShortfallGas, data)}, nil
}

// VaultOwed is the vault's balance sheet for the block after head, whose
// post-state st is, with head's own Bitcoin view (hash, height): what the
// shortfall flag compares, for metrics and RPC. It reads as a derivation
// on head does (vaultwatch.go), so it costs what a block's derivation
// costs.
func (w *Withdrawals) VaultOwed(st StateReader, btc VaultBitcoin, head *types.Header, hash chainhash.Hash, height int32) (*Owed, error) {
	v, err := w.readVault(st, btc, head, hash, height)
	if err != nil {
		return nil, err
	}
	return w.owed(st, v)
}

func (w *Withdrawals) systemTx(domain block.SourceDomain, key chainhash.Hash, number, gas uint64, data []byte) *block.SystemTx {
	to := w.tunnel
	return &block.SystemTx{
		SourceHash: block.SourceHash(domain, key, number),
		From:       systemAddress,
		To:         &to,
		Value:      new(big.Int),
		Gas:        gas,
		Data:       data,
	}
}

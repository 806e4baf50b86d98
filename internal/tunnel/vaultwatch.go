package tunnel

// The vault as of a block's view, read with work bounded by what is new
// (DESIGN 6, issue 11): the withdrawal deriver runs for every L2 block,
// and the vault's history (every output it ever had, every spend) only
// grows, so no read here walks it.
//
//   - Spendable inputs: the vault's oldest MaxPayoutInputs unspent
//     outputs (rules.WithdrawalBitcoin.ScriptUnspent, the index's
//     per-script unspent set), of which SelectBatch takes the confirmed
//     ones oldest first: a batch never has more inputs.
//   - Its BTC: the unspent set's balance (ScriptBalance).
//   - Deposits still confirming: the vault outputs from the deposit
//     cursor on (OutputsFrom, as the deposit deriver reads them), not yet
//     processed and not a change: every output before the cursor was
//     minted, queued for refund, recorded or is a change.
//   - Spends not yet resolved: a vault spend is resolved once the
//     predeploy marked its payout paid (paidBy) or flagged it; until then
//     it is a payout attempt in flight or a spend to flag. They are kept
//     per derivation in a memo keyed by (parent block, view): the next
//     block's derivation starts from its parent's list, drops what the
//     parent's state resolved, drops spends of Bitcoin blocks its view
//     left (a Bitcoin reorg: found by walking the two views back to
//     their fork, as deep as the reorg) and reads the spends of the
//     blocks above the fork point (ScriptSpends). Without an entry (a
//     restart, a side branch seen first) it reads every spend up to the
//     view once and continues from there. Both ways give the same list
//     (TestVaultWatchMemoEqualsFullScan, and the withdrawal tests derive
//     every block both ways): the memo changes the work, never the
//     result, so it is not consensus state.
//
// The order of the unresolved spends is the spent outputs' Bitcoin order
// (height, position, output): flags come in it.

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/hemi-go/hemi/internal/chain/rules"
)

// VaultBitcoin is what the vault watch reads of Bitcoin, as of a view.
type VaultBitcoin interface {
	rules.WithdrawalBitcoin
	OutputsFrom(script []byte, height int32, txPos, vout uint32, toHeight int32, max int, asOf chainhash.Hash) ([]rules.DepositOutput, error)
}

// memoSize bounds the memo: entries of the last blocks derived (and of
// side branches), far more than a reorg of the L2 replays.
const memoSize = 256

// maxForkWalk bounds the walk back to the fork of two views; a deeper
// Bitcoin reorg reads the spends from the start instead.
const maxForkWalk = 1000

type memoKey struct{ parent, view common.Hash }

// spendMemo holds, per derivation, the unresolved vault spends it
// found. Entries are never modified once stored.
type spendMemo struct {
	mu    sync.Mutex
	m     map[memoKey]*memoEntry
	order []memoKey
}

type memoEntry struct {
	view   chainhash.Hash
	height int32
	spends []rules.ScriptOutput
}

func (m *spendMemo) get(k memoKey) *memoEntry {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.m[k]
}

func (m *spendMemo) put(k memoKey, e *memoEntry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = map[memoKey]*memoEntry{}
	}
	if _, ok := m.m[k]; ok {
		return
	}
	if len(m.order) == memoSize {
		delete(m.m, m.order[0])
		m.order = m.order[1:]
	}
	m.m[k] = e
	m.order = append(m.order, k)
}

// unresolved returns the vault spends in the chain as of the view (hash,
// height) that st (the parent's post-state) has not resolved, in the
// spent outputs' Bitcoin order, and remembers them for the child of the
// block derived on parent (nil parent: no memo).
func (w *Withdrawals) unresolved(st StateReader, btc rules.WithdrawalBitcoin, parent *types.Header, hash chainhash.Hash, height int32) ([]rules.ScriptOutput, error) {
	var (
		base []rules.ScriptOutput
		from int32
	)
	if parent != nil && w.useMemo {
		if e := w.memo.get(memoKey{parent.ParentHash, parent.MixDigest}); e != nil {
			if fork, ok := forkHeight(btc, e.view, e.height, hash, height); ok {
				for _, s := range e.spends {
					if s.SpendHeight <= fork {
						base = append(base, s)
					}
				}
				from = fork + 1
			}
		}
	}
	fresh, err := btc.ScriptSpends(w.fees.VaultScript, from, height, hash)
	if err != nil {
		return nil, fmt.Errorf("tunnel: vault spends as of %s: %w", hash, err)
	}
	var out []rules.ScriptOutput
	for _, s := range append(base, fresh...) {
		if ReadPaidBy(st, w.tunnel, s.SpendTxid) != 0 || ReadFlaggedSpend(st, w.tunnel, s.SpendTxid) {
			continue
		}
		out = append(out, s)
	}
	slices.SortStableFunc(out, func(a, b rules.ScriptOutput) int {
		return cmp.Or(cmp.Compare(a.Height, b.Height), cmp.Compare(a.TxPos, b.TxPos), cmp.Compare(a.OutPoint.Index, b.OutPoint.Index))
	})
	if parent != nil && w.useMemo {
		w.memo.put(memoKey{parent.Hash(), rules.Random(hash)}, &memoEntry{view: hash, height: height, spends: out})
	}
	return out, nil
}

// forkHeight returns the height of the newest block both views (a, at
// aHeight, and b, at bHeight) hold; ok is false when it cannot tell
// within maxForkWalk blocks (or a read fails: the caller then reads
// everything, which reports a real error itself).
func forkHeight(btc rules.WithdrawalBitcoin, a chainhash.Hash, aHeight int32, b chainhash.Hash, bHeight int32) (int32, bool) {
	h := min(aHeight, bHeight)
	for n := 0; h >= 0 && n < maxForkWalk; h, n = h-1, n+1 {
		ha, okA, err := btc.HeaderHashAt(h, a)
		if err != nil || !okA {
			return 0, false
		}
		hb, okB, err := btc.HeaderHashAt(h, b)
		if err != nil || !okB {
			return 0, false
		}
		if ha == hb {
			return h, true
		}
	}
	return 0, false
}

// readVault reads the vault as of the view for a derivation on parent
// (parent's post-state st): its unspent head and balance, the deposits
// still confirming and the unresolved spends.
func (w *Withdrawals) readVault(st StateReader, btc VaultBitcoin, parent *types.Header, hash chainhash.Hash, height int32) (*vaultView, error) {
	script := w.fees.VaultScript
	unspent, err := btc.ScriptUnspent(script, MaxPayoutInputs, hash)
	if err != nil {
		return nil, fmt.Errorf("tunnel: vault outputs as of %s: %w", hash, err)
	}
	bal, err := btc.ScriptBalance(script, hash)
	if err != nil {
		return nil, fmt.Errorf("tunnel: vault balance as of %s: %w", hash, err)
	}
	spends, err := w.unresolved(st, btc, parent, hash, height)
	if err != nil {
		return nil, err
	}
	cur := ReadCursor(st, w.tunnel)
	recent, err := btc.OutputsFrom(script, int32(cur.Height)+1, cur.TxPos, cur.Vout, height, math.MaxInt32, hash)
	if err != nil {
		return nil, fmt.Errorf("tunnel: vault outputs from the deposit cursor as of %s: %w", hash, err)
	}
	v := &vaultView{height: uint32(max(height, 0)), unspent: unspent, balance: max(bal, 0), spends: spends}
	spenders := map[chainhash.Hash]bool{}
	for _, s := range spends {
		spenders[s.SpendTxid] = true
	}
	for _, o := range recent {
		if o.Spent || o.Value <= 0 || spenders[o.OutPoint.Hash] {
			continue
		}
		// A change of a payout marked paid or of a flagged spend.
		if ReadPaidBy(st, w.tunnel, o.OutPoint.Hash) != 0 || ReadFlaggedSpend(st, w.tunnel, o.OutPoint.Hash) {
			continue
		}
		if !Processed(st, w.tunnel, DepositKey(o.OutPoint)) {
			v.confirmingSat += uint64(o.Value)
		}
	}
	return v, w.batchView(st, v)
}

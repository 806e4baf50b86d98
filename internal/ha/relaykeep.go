package ha

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/hemi-go/hemi/internal/chain"
)

// Defaults of RelayConfig's bounds on the transactions a member keeps
// after relaying them (see Relay): a member sees at most what its own
// JSON-RPC clients send between two blocks that mine them, so a few
// thousand transactions are minutes of a busy wallet's traffic; an hour
// is long past any leadership change.
const (
	DefaultRelayKeepTxs   = 4096
	DefaultRelayKeepBytes = 8 << 20
	DefaultRelayKeepFor   = time.Hour
)

// relayPrune is how often the relay drops kept transactions the head's
// state shows mined (their sender's nonce passed theirs) or that expired.
const relayPrune = time.Second

// RelayChain is the member's chain as the relay reads it (*chain.Chain):
// the head's state, whose nonces tell a relayed transaction mined, or
// replaced by another of its sender and nonce (invalid either way).
//
// Concurrency: called from the relay's loop while the chain grows.
type RelayChain interface {
	Head() *types.Header
	StateAt(root common.Hash) (*state.StateDB, error)
}

var _ RelayChain = (*chain.Chain)(nil)

// keptTx is one transaction the relay keeps.
type keptTx struct {
	tx   *types.Transaction
	raw  []byte
	from common.Address
	at   time.Time
}

// keptSet is what this member relayed and has not seen mined, in arrival
// order, bounded in count and bytes (the oldest go first). It is kept
// apart from the member's pool, which may refuse a transaction the
// leader took (a replacement it finds underpriced, a full pool) or evict
// one later, so a leader killed before mining it loses nothing the
// member's RPC accepted.
//
// Concurrency: safe for concurrent use.
type keptSet struct {
	maxTxs, maxBytes int
	metrics          *keptMetrics

	mu     sync.Mutex
	byHash map[common.Hash]*keptTx
	order  []common.Hash // arrival order; may still name removed hashes
	bytes  int
}

// newKeptSet returns an empty set with its bounds; m are its metrics
// (newKeptMetrics; with a nil registerer they are kept unregistered).
func newKeptSet(maxTxs, maxBytes int, m *keptMetrics) *keptSet {
	return &keptSet{maxTxs: maxTxs, maxBytes: maxBytes, metrics: m, byHash: map[common.Hash]*keptTx{}}
}

// observeLocked sets the size gauges.
func (k *keptSet) observeLocked() {
	k.metrics.txs.Set(float64(len(k.byHash)))
	k.metrics.bytes.Set(float64(k.bytes))
}

// add keeps tx, encoded as raw (a transaction the leader took), and
// returns how many older ones the bounds pushed out. tx is kept as
// given, not decoded again from raw: the RPC server decoded it, and its
// sender, which the pool recovered with the chain's latest signer
// (equal to LatestSignerForChainID of the chain's id: TestRelaySigner),
// comes from the cache inside tx. A sender it cannot recover is an
// error (the pool checked the signature before, so this is a bug, not
// input).
func (k *keptSet) add(tx *types.Transaction, raw []byte, now time.Time) (evicted int, err error) {
	from, err := types.Sender(types.LatestSignerForChainID(tx.ChainId()), tx)
	if err != nil {
		return 0, fmt.Errorf("ha: keep relayed transaction %s: %w", tx.Hash(), err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	h := tx.Hash()
	if _, ok := k.byHash[h]; ok {
		return 0, nil
	}
	k.byHash[h] = &keptTx{tx: tx, raw: raw, from: from, at: now}
	k.order = append(k.order, h)
	k.bytes += len(raw)
	for len(k.byHash) > k.maxTxs || k.bytes > k.maxBytes {
		old := k.order[0]
		k.order = k.order[1:]
		if _, ok := k.byHash[old]; ok {
			k.removeLocked(old)
			evicted++
		}
	}
	k.metrics.oldest.Add(float64(evicted))
	k.observeLocked()
	return evicted, nil
}

func (k *keptSet) removeLocked(h common.Hash) {
	k.bytes -= len(k.byHash[h].raw)
	delete(k.byHash, h)
	if len(k.order) > 2*len(k.byHash)+64 {
		k.order = slices.DeleteFunc(k.order, func(h common.Hash) bool { return k.byHash[h] == nil })
	}
}

// list is every kept transaction, per sender in nonce order (so a leader
// given them in one batch can admit each), senders in arrival order.
func (k *keptSet) list() []*keptTx {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]*keptTx, 0, len(k.byHash))
	first := map[common.Address]int{}
	for _, h := range k.order {
		if t, ok := k.byHash[h]; ok {
			if _, seen := first[t.from]; !seen {
				first[t.from] = len(first)
			}
			out = append(out, t)
		}
	}
	slices.SortStableFunc(out, func(a, b *keptTx) int {
		if a.from != b.from {
			return first[a.from] - first[b.from]
		}
		return cmp.Compare(a.tx.Nonce(), b.tx.Nonce())
	})
	return out
}

// size is the number of kept transactions and their bytes.
func (k *keptSet) size() (int, int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.byHash), k.bytes
}

// prune drops the transactions older than keepFor and, with st (the
// head's state; nil skips it), those whose sender's nonce passed theirs.
func (k *keptSet) prune(st *state.StateDB, now time.Time, keepFor time.Duration) (mined, expired int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	nonces := map[common.Address]uint64{}
	for h, t := range k.byHash {
		if now.Sub(t.at) > keepFor {
			k.removeLocked(h)
			expired++
			continue
		}
		if st == nil {
			continue
		}
		n, ok := nonces[t.from]
		if !ok {
			n = st.GetNonce(t.from)
			nonces[t.from] = n
		}
		if n > t.tx.Nonce() {
			k.removeLocked(h)
			mined++
		}
	}
	k.metrics.expired.Add(float64(expired))
	k.observeLocked()
	return mined, expired
}

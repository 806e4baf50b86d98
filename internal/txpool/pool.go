package txpool

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"slices"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/txpool"
	"github.com/ethereum/go-ethereum/core/txpool/legacypool"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/event"
	"github.com/holiman/uint256"

	"github.com/hemi-go/hemi/internal/chain/genesis"
)

// DefaultRejournal is how often the journal is rewritten by default.
const DefaultRejournal = time.Minute

// ErrClosed is returned by Add after Close.
var ErrClosed = errors.New("txpool: transaction pool closed")

// Config configures a Pool. It is not modified after New.
type Config struct {
	// Limits are legacypool's: PriceLimit (minimum tip, wei), PriceBump
	// (replacement, percent), AccountSlots, GlobalSlots, AccountQueue,
	// GlobalQueue, Lifetime. Zero fields take legacypool.DefaultConfig's
	// values. Journal, Rejournal, Locals and NoLocals are ignored: see
	// Journal below.
	Limits legacypool.Config
	// Journal is the file accepted transactions are kept in across
	// restarts ("" keeps none).
	Journal string
	// Rejournal is how often the journal is rewritten with what the pool
	// still holds (default DefaultRejournal).
	Rejournal time.Duration
	// Logger defaults to slog.Default() with subsystem=txpool.
	Logger *slog.Logger
}

// Pool is the mempool: go-ethereum's txpool with one legacypool subpool
// over the chain (poolChain), plus a journal. Safe for concurrent use.
type Pool struct {
	cfg    Config
	chain  Chain
	pc     *poolChain
	pool   *txpool.TxPool
	tip    *big.Int
	log    *slog.Logger
	from   uint64 // first head the pool has not seen at New
	jmu    sync.Mutex
	jrn    *journal
	closed chan struct{}
	once   sync.Once
}

func limits(c legacypool.Config) legacypool.Config {
	d := legacypool.DefaultConfig
	pick := func(v, def uint64) uint64 {
		if v == 0 {
			return def
		}
		return v
	}
	out := legacypool.Config{
		NoLocals:     true,
		PriceLimit:   pick(c.PriceLimit, d.PriceLimit),
		PriceBump:    pick(c.PriceBump, d.PriceBump),
		AccountSlots: pick(c.AccountSlots, d.AccountSlots),
		GlobalSlots:  pick(c.GlobalSlots, d.GlobalSlots),
		AccountQueue: pick(c.AccountQueue, d.AccountQueue),
		GlobalQueue:  pick(c.GlobalQueue, d.GlobalQueue),
		Lifetime:     c.Lifetime,
	}
	if out.Lifetime <= 0 {
		out.Lifetime = d.Lifetime
	}
	return out
}

// New opens the pool at the chain's head and loads the journal: its
// transactions go back into the pool (those the chain has included since,
// or that are no longer valid, are dropped) and the journal is rewritten
// with what was accepted.
func New(c Chain, cfg Config) (*Pool, error) {
	if c == nil {
		return nil, errors.New("txpool: New: nil chain")
	}
	if cfg.Rejournal <= 0 {
		cfg.Rejournal = DefaultRejournal
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default().With("subsystem", "txpool")
	}
	lc := limits(cfg.Limits)
	cfg.Limits = lc
	pc := &poolChain{c: c}
	head := c.Head()
	lp := legacypool.New(lc, pc)
	tp, err := txpool.New(lc.PriceLimit, pc, []txpool.SubPool{lp})
	if err != nil {
		return nil, fmt.Errorf("txpool: start txpool: %w", err)
	}
	p := &Pool{cfg: cfg, chain: c, pc: pc, pool: tp, tip: new(big.Int).SetUint64(lc.PriceLimit),
		log: cfg.Logger, from: head.Number.Uint64() + 1, closed: make(chan struct{})}
	if cfg.Journal != "" {
		p.jrn = &journal{path: cfg.Journal}
		txs, lerr := p.jrn.load()
		if lerr != nil {
			p.log.Warn("journal partly unreadable; keeping what decoded", "path", cfg.Journal, "err", lerr)
		}
		kept := 0
		if len(txs) > 0 {
			for _, err := range p.add(txs, true) {
				if err == nil {
					kept++
				}
			}
		}
		if err := p.rotate(); err != nil {
			tp.Close()
			return nil, err
		}
		if len(txs) > 0 {
			p.log.Info("loaded transaction journal", "path", cfg.Journal, "journaled", len(txs), "kept", kept)
		}
	}
	return p, nil
}

// Run follows the chain's head (the pool drops included transactions and
// re-checks the rest on each) and rewrites the journal every Rejournal,
// until ctx is done; then it closes the pool.
func (p *Pool) Run(ctx context.Context) error {
	defer p.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		p.pc.follow(ctx, p.from)
	}()
	defer wg.Wait()
	t := time.NewTicker(p.cfg.Rejournal)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-p.closed:
			return nil
		case <-t.C:
			if err := p.rotate(); err != nil {
				p.log.Warn("journal rotation failed; appending continues", "err", err)
			}
		}
	}
}

// Close rewrites the journal one last time and stops the pool. It is
// idempotent.
func (p *Pool) Close() error {
	var err error
	p.once.Do(func() {
		close(p.closed)
		if p.jrn != nil {
			err = p.rotate()
			p.jmu.Lock()
			if cerr := p.jrn.close(); err == nil {
				err = cerr
			}
			p.jrn = nil
			p.jmu.Unlock()
		}
		if cerr := p.pool.Close(); err == nil {
			err = cerr
		}
	})
	return err
}

// rotate rewrites the journal with the pool's content, nonce-ordered per
// sender.
func (p *Pool) rotate() error {
	pending, queued := p.pool.Content()
	var all []*types.Transaction
	for _, m := range []map[common.Address][]*types.Transaction{pending, queued} {
		for _, txs := range m {
			all = append(all, txs...)
		}
	}
	slices.SortStableFunc(all, func(a, b *types.Transaction) int { return cmp.Compare(a.Nonce(), b.Nonce()) })
	p.jmu.Lock()
	defer p.jmu.Unlock()
	if p.jrn == nil {
		return nil
	}
	return p.jrn.rotate(all)
}

// Add validates txs and adds the valid ones to the pool, returning one
// error per transaction (nil: accepted) in order. Errors are go-ethereum's
// (core.ErrNonceTooLow, txpool.ErrUnderpriced, txpool.ErrReplaceUnderpriced,
// legacypool.ErrTxPoolOverflow, ...) or genesis.ErrTxType for a type Hemi
// does not accept (blob), so the RPC layer can map them to the messages
// tools expect. Accepted transactions are journaled before Add returns.
func (p *Pool) Add(txs []*types.Transaction) []error {
	return p.add(txs, false)
}

func (p *Pool) add(txs []*types.Transaction, loading bool) []error {
	errs := make([]error, len(txs))
	select {
	case <-p.closed:
		for i := range errs {
			errs[i] = ErrClosed
		}
		return errs
	default:
	}
	var ok []*types.Transaction
	idx := make([]int, 0, len(txs))
	for i, tx := range txs {
		if tx == nil {
			errs[i] = errors.New("txpool: nil transaction")
			continue
		}
		if err := genesis.CheckUserTxType(tx.Type()); err != nil {
			errs[i] = err
			continue
		}
		ok = append(ok, tx)
		idx = append(idx, i)
	}
	if len(ok) == 0 {
		return errs
	}
	var accepted []*types.Transaction
	for j, err := range p.pool.Add(ok, false) {
		errs[idx[j]] = err
		if err == nil {
			accepted = append(accepted, ok[j])
		}
	}
	if !loading && len(accepted) > 0 {
		p.jmu.Lock()
		if p.jrn != nil {
			if err := p.jrn.append(accepted); err != nil {
				p.log.Warn("journal append failed; the transactions stay in the pool", "err", err)
			}
		}
		p.jmu.Unlock()
	}
	return errs
}

// Pending returns the executable transactions per sender in nonce order,
// each paying at least the pool's minimum tip at baseFee (nil: no base
// fee filter).
func (p *Pool) Pending(baseFee *big.Int) map[common.Address][]*types.Transaction {
	f := txpool.PendingFilter{MinTip: uint256.MustFromBig(p.tip)}
	if baseFee != nil {
		bf, overflow := uint256.FromBig(baseFee)
		if !overflow {
			f.BaseFee = bf
		}
	}
	lazy, _ := p.pool.Pending(f)
	out := make(map[common.Address][]*types.Transaction, len(lazy))
	for from, ltxs := range lazy {
		txs := make([]*types.Transaction, 0, len(ltxs))
		for _, lt := range ltxs {
			tx := lt.Resolve()
			if tx == nil {
				break // evicted meanwhile; later nonces cannot go first
			}
			txs = append(txs, tx)
		}
		if len(txs) > 0 {
			out[from] = txs
		}
	}
	return out
}

// PendingFrom is Pending without each sender's transactions below
// next(sender): what a block being built, whose state has sender's nonce
// at next(sender), can still take. It copies the pool's lists and checks
// fees only on what it returns, so calling it often while a block is
// built ahead stays cheap however many transactions that block holds.
// next is called without the pool's lock held.
func (p *Pool) PendingFrom(baseFee *big.Int, next func(common.Address) uint64) map[common.Address][]*types.Transaction {
	minTip := uint256.MustFromBig(p.tip)
	var bf *uint256.Int
	if baseFee != nil {
		if v, overflow := uint256.FromBig(baseFee); !overflow {
			bf = v
		}
	}
	pending, _ := p.pool.Content()
	for from, txs := range pending {
		n := next(from)
		i, _ := slices.BinarySearchFunc(txs, n, func(tx *types.Transaction, n uint64) int { return cmp.Compare(tx.Nonce(), n) })
		txs = txs[i:]
		// As Pending's filter: a sender's list ends at its first
		// transaction paying less than the minimum tip.
		for j, tx := range txs {
			if tx.EffectiveGasTipIntCmp(minTip, bf) < 0 {
				txs = txs[:j]
				break
			}
		}
		if len(txs) == 0 {
			delete(pending, from)
			continue
		}
		pending[from] = txs
	}
	return pending
}

// Get returns a pooled transaction, nil if the pool does not hold it.
func (p *Pool) Get(hash common.Hash) *types.Transaction { return p.pool.Get(hash) }

// Has reports whether the pool holds hash.
func (p *Pool) Has(hash common.Hash) bool { return p.pool.Has(hash) }

// Status is txpool.TxStatusPending, TxStatusQueued or TxStatusUnknown.
func (p *Pool) Status(hash common.Hash) txpool.TxStatus { return p.pool.Status(hash) }

// Content returns every pooled transaction, executable (pending) and
// waiting for a nonce gap (queued), per sender in nonce order
// (txpool_content).
func (p *Pool) Content() (pending, queued map[common.Address][]*types.Transaction) {
	return p.pool.Content()
}

// ContentFrom is Content for one sender (txpool_contentFrom).
func (p *Pool) ContentFrom(addr common.Address) (pending, queued []*types.Transaction) {
	return p.pool.ContentFrom(addr)
}

// Stats counts pending and queued transactions (txpool_status).
func (p *Pool) Stats() (pending, queued int) { return p.pool.Stats() }

// Nonce is the next nonce of addr with the pool's executable
// transactions applied (eth_getTransactionCount "pending").
func (p *Pool) Nonce(addr common.Address) uint64 { return p.pool.PoolNonce(addr) }

// SubscribeTransactions delivers the transactions that became pending
// (newPendingTransactions, eth_newPendingTransactionFilter). Unsubscribe
// when done; the channel must be drained.
func (p *Pool) SubscribeTransactions(ch chan<- core.NewTxsEvent) event.Subscription {
	return p.pool.SubscribeTransactions(ch, false)
}

// MinTip is the smallest tip (wei) the pool accepts.
func (p *Pool) MinTip() *big.Int { return new(big.Int).Set(p.tip) }

// Sync waits until the pool has processed the heads and additions so far
// (for tests and shutdown).
func (p *Pool) Sync() error { return p.pool.Sync() }

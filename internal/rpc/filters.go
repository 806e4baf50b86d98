package rpc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/hemi-go/hemi/internal/chain"
)

// filterKind is what a polling filter collects.
type filterKind int

const (
	logsFilter filterKind = iota
	blocksFilter
	pendingTxFilter
)

// filter is an installed polling filter (eth_newFilter,
// eth_newBlockFilter, eth_newPendingTransactionFilter). Block and log
// filters remember the next block to report and read the chain when
// polled; pending filters buffer hashes from the pool feed.
type filter struct {
	kind     filterKind
	crit     filterCriteria
	next     uint64      // first block not yet reported
	last     common.Hash // hash of block next-1 when reported (zero: unknown)
	hashes   []common.Hash
	lastPoll time.Time
	client   string // clientOf the request that installed it
}

// filterSystem holds the polling filters; filters not polled for
// Config.FilterTimeout are uninstalled by the janitor (run). Their
// memory is bounded together: at most Config.FiltersMax filters
// (Config.FiltersPerClient per client), each buffering at most
// Config.FilterMaxHashes pending transaction hashes (the oldest are
// dropped: a client polling that rarely misses some, as it would after
// a restart) and criteria of at most maxFilterAddresses addresses and
// maxFilterTopics x maxFilterTopicHashes topics. Block and log filters
// buffer nothing: they read the chain when polled.
type filterSystem struct {
	s         *Server
	mu        sync.Mutex
	filters   map[gethrpc.ID]*filter
	perClient map[string]int
	now       func() time.Time
}

func newFilterSystem(s *Server) *filterSystem {
	return &filterSystem{s: s, filters: map[gethrpc.ID]*filter{}, perClient: map[string]int{}, now: time.Now}
}

// remove uninstalls filter id (fs.mu held).
func (fs *filterSystem) remove(id gethrpc.ID, f *filter) {
	delete(fs.filters, id)
	if fs.perClient[f.client]--; fs.perClient[f.client] <= 0 {
		delete(fs.perClient, f.client)
	}
	fs.s.metrics.filters.Dec()
}

// run expires idle filters and feeds pending filters until ctx is done.
func (fs *filterSystem) run(ctx context.Context) {
	var txs chan core.NewTxsEvent
	if fs.s.pool != nil {
		txs = make(chan core.NewTxsEvent, 128)
		sub := fs.s.pool.SubscribeTransactions(txs)
		defer sub.Unsubscribe()
	}
	tick := time.NewTicker(max(fs.s.cfg.FilterTimeout/10, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			fs.expire()
		case ev := <-txs:
			fs.addPending(ev.Txs)
		}
	}
}

func (fs *filterSystem) expire() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	cutoff := fs.now().Add(-fs.s.cfg.FilterTimeout)
	for id, f := range fs.filters {
		if f.lastPoll.Before(cutoff) {
			fs.remove(id, f)
			fs.s.log.Debug("filter expired", "id", id)
		}
	}
}

func (fs *filterSystem) addPending(txs []*types.Transaction) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for _, f := range fs.filters {
		if f.kind != pendingTxFilter {
			continue
		}
		for _, tx := range txs {
			f.hashes = append(f.hashes, tx.Hash())
		}
		if n := len(f.hashes) - fs.s.cfg.FilterMaxHashes; n > 0 {
			f.hashes = slices.Delete(f.hashes, 0, n) // oldest first out
		}
	}
}

// install adds f for the client of ctx and returns its id.
func (fs *filterSystem) install(ctx context.Context, f *filter) (gethrpc.ID, error) {
	f.client = clientOf(ctx)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	cfg := fs.s.cfg
	if len(fs.filters) >= cfg.FiltersMax {
		fs.s.metrics.limitRefusals.Inc()
		return "", limitErr(fmt.Errorf("%w: too many filters installed: %d (rpc.filters_max); uninstall unused ones or poll with eth_getLogs",
			ErrTooMany, cfg.FiltersMax))
	}
	if fs.perClient[f.client] >= cfg.FiltersPerClient {
		fs.s.metrics.limitRefusals.Inc()
		return "", limitErr(fmt.Errorf("%w: too many filters for this client: %d (rpc.filters_per_client); uninstall unused ones",
			ErrTooMany, cfg.FiltersPerClient))
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("filter id: %w", err)
	}
	id := gethrpc.ID("0x" + hex.EncodeToString(b[:]))
	f.lastPoll = fs.now()
	fs.filters[id] = f
	fs.perClient[f.client]++
	fs.s.metrics.filters.Inc()
	return id, nil
}

// NewFilter is eth_newFilter: logs from the filter's range (its fromBlock
// or the next block) as they are polled.
func (api *ethAPI) NewFilter(ctx context.Context, crit filterCriteria) (gethrpc.ID, error) {
	s := api.s
	if crit.BlockHash != nil {
		return "", invalidParams("blockHash is not allowed in eth_newFilter")
	}
	head := s.chain.Head()
	next, last := head.Number.Uint64()+1, head.Hash()
	if crit.FromBlock >= 0 {
		next, last = uint64(crit.FromBlock), common.Hash{}
	}
	return s.filters.install(ctx, &filter{kind: logsFilter, crit: crit, next: next, last: last})
}

// NewBlockFilter is eth_newBlockFilter.
func (api *ethAPI) NewBlockFilter(ctx context.Context) (gethrpc.ID, error) {
	head := api.s.chain.Head()
	return api.s.filters.install(ctx, &filter{kind: blocksFilter, next: head.Number.Uint64() + 1, last: head.Hash()})
}

// NewPendingTransactionFilter is eth_newPendingTransactionFilter.
func (api *ethAPI) NewPendingTransactionFilter(ctx context.Context) (gethrpc.ID, error) {
	return api.s.filters.install(ctx, &filter{kind: pendingTxFilter})
}

// UninstallFilter is eth_uninstallFilter.
func (api *ethAPI) UninstallFilter(id gethrpc.ID) bool {
	fs := api.s.filters
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f, ok := fs.filters[id]
	if ok {
		fs.remove(id, f)
	}
	return ok
}

// GetFilterChanges is eth_getFilterChanges: block hashes, transaction
// hashes or logs since the last poll.
func (api *ethAPI) GetFilterChanges(ctx context.Context, id gethrpc.ID) (any, error) {
	s, fs := api.s, api.s.filters
	fs.mu.Lock()
	f, ok := fs.filters[id]
	if !ok {
		fs.mu.Unlock()
		return nil, &rpcError{code: codeServer, msg: ErrFilterNotFound.Error(), err: ErrFilterNotFound}
	}
	f.lastPoll = fs.now()
	kind, crit, next, last := f.kind, f.crit, f.next, f.last
	if kind == pendingTxFilter {
		hashes := f.hashes
		f.hashes = nil
		fs.mu.Unlock()
		if hashes == nil {
			hashes = []common.Hash{}
		}
		return hashes, nil
	}
	fs.mu.Unlock()
	orig := next
	save := func(next uint64, last common.Hash) {
		fs.mu.Lock()
		if f, ok := fs.filters[id]; ok && f.next == orig {
			f.next, f.last = next, last
		}
		fs.mu.Unlock()
	}
	// After an L2 reorg, report again from the first changed block.
	if n, h := s.rewindFilter(next, last); n != next {
		next, last = n, h
		save(next, last)
		orig = next
	}

	head := s.chain.Head().Number.Uint64()
	if kind == logsFilter && crit.ToBlock >= 0 && uint64(crit.ToBlock) < head {
		head = uint64(crit.ToBlock)
	}
	if next > head {
		if kind == blocksFilter {
			return []common.Hash{}, nil
		}
		return []*types.Log{}, nil
	}
	// One poll reads at most LogsBlockRange blocks; the rest comes next.
	to := min(head, next+s.cfg.LogsBlockRange-1)
	toHeader, err := s.chain.HeaderByNumber(to) // read first: a reorg meanwhile is seen next poll
	if err != nil {
		return nil, err
	}
	var out any
	if kind == blocksFilter {
		hashes := make([]common.Hash, 0, to-next+1)
		for n := next; n <= to; n++ {
			h, err := s.chain.HeaderByNumber(n)
			if err != nil {
				return nil, err
			}
			hashes = append(hashes, h.Hash())
		}
		out = hashes
	} else {
		logs, err := s.logsInRange(ctx, &crit, next, to)
		if err != nil {
			return nil, err
		}
		out = logs
	}
	save(to+1, toHeader.Hash())
	return out, nil
}

// rewindFilter checks that block next-1, reported last with hash last,
// is still canonical; if an L2 reorg replaced it, it returns the fork
// point's child and the fork point's hash, so the new branch's blocks
// are reported (their numbers again). Unknown last: unchanged.
func (s *Server) rewindFilter(next uint64, last common.Hash) (uint64, common.Hash) {
	if next == 0 || last == (common.Hash{}) {
		return next, last
	}
	if h, err := s.chain.HeaderByNumber(next - 1); err == nil && h.Hash() == last {
		return next, last
	}
	h, err := s.chain.HeaderByHash(last)
	for err == nil {
		if c, cerr := s.chain.HeaderByNumber(h.Number.Uint64()); cerr == nil && c.Hash() == h.Hash() {
			return h.Number.Uint64() + 1, h.Hash()
		}
		if h.Number.Sign() == 0 {
			break
		}
		h, err = s.chain.HeaderByHash(h.ParentHash)
	}
	return next, last
}

// GetFilterLogs is eth_getFilterLogs: every log of a log filter's range.
func (api *ethAPI) GetFilterLogs(ctx context.Context, id gethrpc.ID) ([]*types.Log, error) {
	fs := api.s.filters
	fs.mu.Lock()
	f, ok := fs.filters[id]
	if ok {
		f.lastPoll = fs.now()
	}
	fs.mu.Unlock()
	if !ok || f.kind != logsFilter {
		return nil, &rpcError{code: codeServer, msg: ErrFilterNotFound.Error(), err: ErrFilterNotFound}
	}
	return api.GetLogs(ctx, f.crit)
}

// GetLogs is eth_getLogs.
func (api *ethAPI) GetLogs(ctx context.Context, crit filterCriteria) ([]*types.Log, error) {
	s := api.s
	if crit.BlockHash != nil {
		h, err := s.chain.HeaderByHash(*crit.BlockHash)
		if err != nil {
			if errors.Is(err, chain.ErrNotFound) {
				return nil, &rpcError{code: codeServer, msg: "unknown block", err: err}
			}
			return nil, err
		}
		return s.blockLogs(h, &crit, nil)
	}
	from, err := s.resolveRangeEnd(crit.FromBlock)
	if err != nil {
		return nil, err
	}
	to, err := s.resolveRangeEnd(crit.ToBlock)
	if err != nil {
		return nil, err
	}
	if from > to {
		return nil, invalidParams("invalid block range params: fromBlock %d > toBlock %d", from, to)
	}
	if to-from+1 > s.cfg.LogsBlockRange {
		return nil, limitErr(fmt.Errorf("%w: %d blocks, at most %d", ErrLogsRange, to-from+1, s.cfg.LogsBlockRange))
	}
	return s.logsInRange(ctx, &crit, from, to)
}

// resolveRangeEnd resolves a range end; a number above the head is the
// head (the range is cut there).
func (s *Server) resolveRangeEnd(n gethrpc.BlockNumber) (uint64, error) {
	head := s.chain.Head().Number.Uint64()
	if n >= 0 && uint64(n) > head {
		return head, nil
	}
	return s.resolveNumber(n)
}

// logsInRange collects the matching logs of canonical blocks from..to,
// skipping blocks whose bloom rules them out.
func (s *Server) logsInRange(ctx context.Context, crit *filterCriteria, from, to uint64) ([]*types.Log, error) {
	out := []*types.Log{}
	for n := from; n <= to; n++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		h, err := s.chain.HeaderByNumber(n)
		if err != nil {
			return nil, err
		}
		if out, err = s.blockLogs(h, crit, out); err != nil {
			return nil, err
		}
		if len(out) > s.cfg.LogsMaxResults {
			return nil, limitErr(fmt.Errorf("%w (%d)", ErrLogsTooMany, s.cfg.LogsMaxResults))
		}
	}
	return out, nil
}

// blockLogs appends the matching logs of block h to out.
func (s *Server) blockLogs(h *types.Header, crit *filterCriteria, out []*types.Log) ([]*types.Log, error) {
	if out == nil {
		out = []*types.Log{}
	}
	if !bloomMatches(h.Bloom, crit) {
		return out, nil
	}
	rs, err := s.receipts(h.Hash())
	if err != nil {
		return nil, err
	}
	for _, r := range rs {
		for _, l := range r.Logs {
			if logMatches(l, crit) {
				out = append(out, l)
			}
		}
	}
	return out, nil
}

// bloomMatches reports whether a block's bloom may hold matching logs.
func bloomMatches(b types.Bloom, crit *filterCriteria) bool {
	if len(crit.Addresses) > 0 {
		ok := false
		for _, a := range crit.Addresses {
			if types.BloomLookup(b, a) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	for _, pos := range crit.Topics {
		if len(pos) == 0 {
			continue
		}
		ok := false
		for _, t := range pos {
			if types.BloomLookup(b, t) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// logMatches applies the address and topic rules to one log.
func logMatches(l *types.Log, crit *filterCriteria) bool {
	if len(crit.Addresses) > 0 && !slices.Contains(crit.Addresses, l.Address) {
		return false
	}
	if len(crit.Topics) > len(l.Topics) {
		return false
	}
	for i, pos := range crit.Topics {
		if len(pos) > 0 && !slices.Contains(pos, l.Topics[i]) {
			return false
		}
	}
	return true
}

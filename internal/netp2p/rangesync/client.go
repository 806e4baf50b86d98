package rangesync

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/block"
)

// Defaults of Config.
const (
	DefaultWindow   = 128
	DefaultMaxAhead = 16
	// DefaultMaxAheadBytes bounds the answers held ahead of the import.
	// A decoded block takes ~8x its wire bytes (a block of 200
	// transfers: ~24 KB on the wire, ~200 KB of heap, as measured in the
	// follower's heap profile), so 16 windows of them held ~400 MB of
	// heap once the importer was the bottleneck (issue 10: rss 364 MB at
	// 500 blocks, 1135 MB at 5,000); 4 MiB is more than a window of
	// such blocks, enough to keep the importer fed.
	DefaultMaxAheadBytes   = 4 << 20
	DefaultRequestTimeout  = 15 * time.Second
	DefaultMaxPeerFailures = 3
	DefaultRetryDelay      = time.Second
	DefaultLogInterval     = 8 * time.Second
	DefaultMaxBranch       = 4096
	// maxAnswerBytes bounds the compressed bytes of one answer the
	// client reads (a server sends at most DefaultServeBytes plus one
	// block).
	maxAnswerBytes = 64 << 20
)

// Errors of the client.
var (
	// ErrBusy: a sync is already running.
	ErrBusy = errors.New("rangesync: a sync is already running")
	// ErrNoPeers: every peer of the sync failed too often.
	ErrNoPeers = errors.New("rangesync: no peer left to sync from")
	// ErrTargetMismatch: the blocks imported up to the target's number
	// end at another block than the target's hash.
	ErrTargetMismatch = errors.New("rangesync: synced chain does not end at the target")
)

// Config configures a Syncer. It is not modified after New.
type Config struct {
	Host  host.Host
	Chain Chain
	// Protocol is ProtocolID of the chain's genesis block hash (the
	// default).
	Protocol protocol.ID
	// Penalizer hears of peers that answer junk, a wrong chain or
	// nothing (optional).
	Penalizer Penalizer
	// Window is how many blocks one request asks for and one InsertChain
	// batch holds (default DefaultWindow, at most MaxRequestBlocks).
	Window uint64
	// MaxAhead is how many windows may be fetched ahead of the import
	// (default DefaultMaxAhead): the memory a sync holds.
	MaxAhead int
	// MaxAheadBytes bounds, in answer bytes as read (compressed), the
	// fetched blocks waiting for the import (default
	// DefaultMaxAheadBytes): no new window is handed out while they
	// reach it, so a sync holds at most this plus a window per peer in
	// flight and the batch being imported, however large the blocks.
	// The window that continues the import is always fetched.
	MaxAheadBytes int64
	// RequestTimeout bounds one request (default DefaultRequestTimeout).
	RequestTimeout time.Duration
	// MaxPeerFailures is how many failures in a row drop a peer from a
	// sync (default DefaultMaxPeerFailures).
	MaxPeerFailures int
	// RetryDelay is the wait before retrying a block whose Bitcoin view
	// the index does not have yet (default DefaultRetryDelay).
	RetryDelay time.Duration
	// LogInterval is how often a sync logs its height, rate and ETA
	// (default DefaultLogInterval).
	LogInterval time.Duration
	Logger      *slog.Logger
}

// Syncer catches the local chain up with peers over the range protocol.
// Safe for concurrent use; one Sync runs at a time.
type Syncer struct {
	cfg Config
	log *slog.Logger

	running  atomic.Bool
	starting atomic.Uint64
	highest  atomic.Uint64
}

// New checks cfg and fills its defaults.
func New(cfg Config) (*Syncer, error) {
	if cfg.Host == nil || cfg.Chain == nil {
		return nil, errors.New("rangesync: Config needs Host and Chain")
	}
	if cfg.Protocol == "" {
		cfg.Protocol = ProtocolID(cfg.Chain.Genesis().Hash())
	}
	if cfg.Window == 0 {
		cfg.Window = DefaultWindow
	}
	cfg.Window = min(cfg.Window, MaxRequestBlocks)
	if cfg.MaxAhead <= 0 {
		cfg.MaxAhead = DefaultMaxAhead
	}
	if cfg.MaxAheadBytes <= 0 {
		cfg.MaxAheadBytes = DefaultMaxAheadBytes
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.MaxPeerFailures <= 0 {
		cfg.MaxPeerFailures = DefaultMaxPeerFailures
	}
	if cfg.RetryDelay <= 0 {
		cfg.RetryDelay = DefaultRetryDelay
	}
	if cfg.LogInterval <= 0 {
		cfg.LogInterval = DefaultLogInterval
	}
	if cfg.Penalizer == nil {
		cfg.Penalizer = nopPenalizer{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default().With("subsystem", "rangesync")
	}
	return &Syncer{cfg: cfg, log: cfg.Logger}, nil
}

// SyncProgress reports whether a sync runs and, if so, the head when it
// started, the head now and the target (eth_syncing's startingBlock,
// currentBlock, highestBlock).
func (s *Syncer) SyncProgress() (starting, current, highest uint64, syncing bool) {
	if !s.running.Load() {
		return 0, 0, 0, false
	}
	return s.starting.Load(), s.cfg.Chain.Head().Number.Uint64(), s.highest.Load(), true
}

// Target is the block a sync catches up to: a peer's head.
type Target struct {
	Number uint64
	Hash   common.Hash // zero: not checked
}

// span is a range of block numbers, both ends included.
type span struct{ from, to uint64 }

func (sp span) count() uint64 { return sp.to - sp.from + 1 }

// fetched is a worker's answer for a span.
type fetched struct {
	peer   peer.ID
	span   span
	blocks []*chain.Block
	bytes  int64 // the answer's frames as read
	err    error
}

// imported is the importer's answer for a batch.
type imported struct {
	batch *fetched
	n     int // blocks of the batch now stored (inserted or known)
	err   error
}

// Sync fetches blocks from the local head + 1 up to target.Number from
// peers in parallel (windows of Config.Window blocks handed to whichever
// peer is free, a failed window handed to another), checks each block
// alone (seal by a sequencer of the set, transactions root, number and
// parent link within its answer), and imports them strictly in forward
// order with InsertChain, one window per batch, each window chained onto
// the last block imported. It returns once the block at target.Number is
// imported (and, when target.Hash is set, is that block), or when every
// peer failed (ErrNoPeers), ctx ends, or the chain fails.
func (s *Syncer) Sync(ctx context.Context, target Target, peers []peer.ID) error {
	if !s.running.CompareAndSwap(false, true) {
		return ErrBusy
	}
	defer s.running.Store(false)
	head := s.cfg.Chain.Head()
	if target.Number <= head.Number.Uint64() {
		return nil
	}
	peers = slices.Clone(peers)
	slices.Sort(peers)
	peers = slices.Compact(peers)
	if len(peers) == 0 {
		return ErrNoPeers
	}
	s.starting.Store(head.Number.Uint64())
	s.highest.Store(target.Number)
	r := &run{s: s, target: target, start: head.Number.Uint64() + 1, lastHash: head.Hash(), started: time.Now()}
	return r.loop(ctx, peers)
}

// run is one Sync's state, owned by its loop goroutine.
type run struct {
	s        *Syncer
	target   Target
	start    uint64
	nextNew  uint64 // first block number never handed out
	pending  []span // spans handed back, to hand out again (lowest first)
	results  map[uint64]*fetched
	held     int64       // bytes of results (fetched, not yet fed to the import)
	feedNext uint64      // next block number to import
	lastHash common.Hash // hash of the block feedNext-1 as imported
	started  time.Time
	done     uint64 // blocks imported

	failures map[peer.ID]int
	quits    map[peer.ID]chan struct{}
	alive    int
	lastErr  error
}

func (r *run) loop(ctx context.Context, peers []peer.ID) error {
	s := r.s
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	r.nextNew, r.feedNext = r.start, r.start
	r.results = map[uint64]*fetched{}
	r.failures, r.quits = map[peer.ID]int{}, map[peer.ID]chan struct{}{}
	work := make(chan span)
	answers := make(chan *fetched, len(peers))
	for _, p := range peers {
		quit := make(chan struct{})
		r.quits[p] = quit
		r.alive++
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.worker(ctx, p, work, answers, quit)
		}()
	}
	toImport := make(chan *fetched)
	importedCh := make(chan imported)
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.importer(ctx, toImport, importedCh)
	}()
	tick := time.NewTicker(s.cfg.LogInterval)
	defer tick.Stop()
	lastLog, lastDone := time.Now(), uint64(0)
	importing := false
	s.log.Info("sync started", "from", r.start, "target", r.target.Number, "peers", len(peers))
	for {
		if r.feedNext > r.target.Number && !importing {
			return r.finish()
		}
		var feedCh chan *fetched
		var batch *fetched
		if !importing {
			batch = r.nextBatch() // may drop a peer
			if batch != nil {
				feedCh = toImport
			}
		}
		if r.alive == 0 && !importing && batch == nil {
			return fmt.Errorf("%w (last failure: %v)", ErrNoPeers, r.lastErr)
		}
		var workCh chan span
		sp, ok := r.peekSpan()
		if ok {
			workCh = work
		}
		select {
		case workCh <- sp:
			r.takeSpan()
		case feedCh <- batch:
			importing = true
			r.drop(batch)
		case a := <-answers:
			r.answered(a)
		case im := <-importedCh:
			importing = false
			if err := r.imported(im); err != nil {
				return err
			}
		case <-tick.C:
			now := time.Now()
			rate := float64(r.done-lastDone) / now.Sub(lastLog).Seconds()
			lastLog, lastDone = now, r.done
			left := r.target.Number - (r.feedNext - 1)
			eta := "unknown"
			if avg := float64(r.done) / now.Sub(r.started).Seconds(); avg > 0 {
				eta = (time.Duration(float64(left)/avg) * time.Second).String()
			}
			s.log.Info("syncing", "number", r.feedNext-1, "target", r.target.Number, "blocks_s", fmt.Sprintf("%.1f", rate),
				"eta", eta, "peers", r.alive)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// finish checks the target's hash and logs the end.
func (r *run) finish() error {
	took := time.Since(r.started)
	if r.target.Hash != (common.Hash{}) && r.lastHash != r.target.Hash {
		return fmt.Errorf("%w: block %d is %s, the target %s", ErrTargetMismatch, r.target.Number, r.lastHash, r.target.Hash)
	}
	r.s.log.Info("sync done", "number", r.target.Number, "blocks", r.done, "took", took.Round(time.Millisecond),
		"blocks_s", fmt.Sprintf("%.1f", float64(r.done)/took.Seconds()))
	return nil
}

// peekSpan is the next span to hand out: a handed-back one first, else
// a new window, unless the fetch is MaxAhead windows ahead of the import
// or the results waiting for it hold MaxAheadBytes. The window starting
// at feedNext is never held back: the import waits for it, and the
// results it would free are behind it.
func (r *run) peekSpan() (span, bool) {
	if len(r.pending) > 0 {
		return r.pending[0], true
	}
	w := r.s.cfg.Window
	if r.nextNew > r.target.Number || r.nextNew >= r.feedNext+uint64(r.s.cfg.MaxAhead)*w {
		return span{}, false
	}
	if r.nextNew > r.feedNext && r.held >= r.s.cfg.MaxAheadBytes {
		return span{}, false
	}
	return span{r.nextNew, min(r.nextNew+w-1, r.target.Number)}, true
}

// takeSpan consumes what peekSpan returned.
func (r *run) takeSpan() {
	if len(r.pending) > 0 {
		r.pending = r.pending[1:]
		return
	}
	r.nextNew = min(r.nextNew+r.s.cfg.Window-1, r.target.Number) + 1
}

// handBack queues sp to be fetched again.
func (r *run) handBack(sp span) {
	i, _ := slices.BinarySearchFunc(r.pending, sp, func(a, b span) int {
		switch {
		case a.from < b.from:
			return -1
		case a.from > b.from:
			return 1
		}
		return 0
	})
	r.pending = slices.Insert(r.pending, i, sp)
}

// nextBatch returns the answer that continues the import, once it has
// arrived; an answer that does not chain onto the last block imported is
// dropped, its peer penalised and its span fetched again.
func (r *run) nextBatch() *fetched {
	for {
		f := r.results[r.feedNext]
		if f == nil {
			return nil
		}
		if f.blocks[0].Header.ParentHash == r.lastHash {
			return f
		}
		r.drop(f)
		r.fault(f.peer, fmt.Errorf("%w: block %d's parent is %s, not the block %s imported", ErrWrongChain,
			f.span.from, f.blocks[0].Header.ParentHash, r.lastHash))
		r.handBack(f.span)
	}
}

// answered takes a worker's answer: the blocks become a result (the
// rest of a short answer is handed back), a failure hands the span back.
func (r *run) answered(a *fetched) {
	if a.err != nil {
		r.handBack(a.span)
		if !isRateLimit(a.err) {
			r.fault(a.peer, classify(a.err))
		}
		r.lastErr = a.err
		return
	}
	n := uint64(len(a.blocks))
	if n < a.span.count() {
		r.handBack(span{a.span.from + n, a.span.to})
		a.span.to = a.span.from + n - 1
	}
	r.results[a.span.from] = a
	r.held += a.bytes
}

// drop removes f from the results (fed to the import or refused).
func (r *run) drop(f *fetched) {
	delete(r.results, f.span.from)
	r.held -= f.bytes
}

// fault counts a failure of p, penalising it when reason is set, and
// drops p from the sync after MaxPeerFailures in a row.
func (r *run) fault(p peer.ID, reason error) {
	if reason != nil {
		r.s.cfg.Penalizer.Penalize(p, reason)
		r.s.log.Debug("peer penalised", "peer", p, "reason", reason)
		r.lastErr = reason
	}
	r.failures[p]++
	if q := r.quits[p]; q != nil && r.failures[p] >= r.s.cfg.MaxPeerFailures {
		close(q)
		delete(r.quits, p)
		r.alive--
		r.s.log.Info("peer dropped from the sync", "peer", p, "failures", r.failures[p], "last", r.lastErr)
	}
}

// imported takes the importer's answer.
func (r *run) imported(im imported) error {
	b := im.batch
	if im.n > 0 {
		// Failures count in a row until a peer's blocks are imported:
		// answering well-formed blocks of another chain is no success.
		r.failures[b.peer] = 0
		r.lastHash = b.blocks[im.n-1].Hash()
		r.feedNext = b.span.from + uint64(im.n)
		r.done += uint64(im.n)
	}
	if im.err == nil {
		return nil
	}
	if !errors.Is(im.err, chain.ErrInvalidBlock) {
		return fmt.Errorf("rangesync: import block %d: %w", b.span.from+uint64(im.n), im.err)
	}
	r.fault(b.peer, fmt.Errorf("%w: block %d: %w", ErrWrongChain, b.span.from+uint64(im.n), im.err))
	r.handBack(span{b.span.from + uint64(im.n), b.span.to})
	return nil
}

// importer inserts batches in the order given; a known block (inserted
// meanwhile by gossip) is skipped, a block whose Bitcoin view is not
// indexed yet is retried every RetryDelay.
func (s *Syncer) importer(ctx context.Context, in <-chan *fetched, out chan<- imported) {
	for {
		var b *fetched
		select {
		case b = <-in:
		case <-ctx.Done():
			return
		}
		done, waited := 0, false
		var err error
		for done < len(b.blocks) {
			var n int
			n, err = s.cfg.Chain.InsertChain(b.blocks[done:])
			done += n
			switch {
			case err == nil:
			case errors.Is(err, chain.ErrKnownBlock):
				done, err = done+1, nil
				continue
			case errors.Is(err, chain.ErrViewNotReady):
				if !waited {
					s.log.Info("waiting for the Bitcoin index to reach a block's view", "number", b.span.from+uint64(done), "err", err)
					waited = true
				}
				select {
				case <-time.After(s.cfg.RetryDelay):
					err = nil
					continue
				case <-ctx.Done():
					return
				}
			}
			break
		}
		select {
		case out <- imported{batch: b, n: done, err: err}:
		case <-ctx.Done():
			return
		}
	}
}

// worker fetches the spans it is handed from p until quit or ctx ends,
// backing off after a failure.
func (s *Syncer) worker(ctx context.Context, p peer.ID, work <-chan span, out chan<- *fetched, quit <-chan struct{}) {
	backoff := time.Duration(0)
	for {
		if backoff > 0 {
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-quit:
				t.Stop()
				return
			case <-ctx.Done():
				t.Stop()
				return
			}
		}
		var sp span
		select {
		case sp = <-work:
		case <-quit:
			return
		case <-ctx.Done():
			return
		}
		blocks, n, err := s.fetch(ctx, p, &Request{Kind: ByNumber, From: sp.from, Count: sp.count()})
		if err == nil && len(blocks) == 0 {
			err = fmt.Errorf("%w: no block of %d..%d", ErrNoAnswer, sp.from, sp.to)
		}
		if err == nil {
			backoff = 0
		} else {
			backoff = min(2*backoff+100*time.Millisecond, 2*time.Second)
		}
		select {
		case out <- &fetched{peer: p, span: sp, blocks: blocks, bytes: n, err: err}:
		case <-ctx.Done():
			return
		}
	}
}

// classify is the penalty reason of a failed request, nil for failures
// that are not the peer's fault (it is busy or failed itself).
func classify(err error) error {
	var se *StatusError
	switch {
	case errors.As(err, &se):
		return nil
	case errors.Is(err, ErrJunk), errors.Is(err, ErrNoAnswer):
		return err
	case errors.Is(err, ErrMalformed):
		return fmt.Errorf("%w: %w", ErrJunk, err)
	}
	return fmt.Errorf("%w: %w", ErrNoAnswer, err)
}

// isRateLimit reports a StatusRateLimited answer: backed off, not
// counted as a failure.
func isRateLimit(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Status == StatusRateLimited
}

// fetch sends one request to p and reads and checks its answer; it
// returns the answer's frame bytes too.
func (s *Syncer) fetch(ctx context.Context, p peer.ID, req *Request) ([]*chain.Block, int64, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	st, err := s.cfg.Host.NewStream(ctx, p, s.cfg.Protocol)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: open stream: %w", ErrNoAnswer, err)
	}
	defer st.Close()
	stop := context.AfterFunc(ctx, func() { _ = st.Reset() })
	defer stop()
	_ = st.SetDeadline(time.Now().Add(s.cfg.RequestTimeout))
	enc, err := EncodeRequest(req)
	if err != nil {
		return nil, 0, err
	}
	if _, err := st.Write(enc); err != nil {
		return nil, 0, fmt.Errorf("%w: send request: %w", ErrNoAnswer, err)
	}
	if err := st.CloseWrite(); err != nil {
		return nil, 0, fmt.Errorf("%w: send request: %w", ErrNoAnswer, err)
	}
	br := bufio.NewReaderSize(st, 64<<10)
	if err := readStatus(br); err != nil {
		return nil, 0, err
	}
	var blocks []*chain.Block
	total := 0
	for {
		b, n, err := readFrame(br)
		if err != nil {
			if err == io.EOF {
				break
			}
			if errors.Is(err, ErrMalformed) {
				return nil, 0, fmt.Errorf("%w: %w", ErrJunk, err)
			}
			return nil, 0, fmt.Errorf("%w: %w", ErrNoAnswer, err)
		}
		total += n
		if uint64(len(blocks)) == req.Count || total > maxAnswerBytes {
			return nil, 0, fmt.Errorf("%w: more than the %d blocks asked for", ErrJunk, req.Count)
		}
		blocks = append(blocks, b)
	}
	if err := s.verifyAlone(req, blocks); err != nil {
		return nil, 0, err
	}
	return blocks, int64(total), nil
}

// verifyAlone checks what can be checked of an answer before its parent
// is imported: each block sealed by a sequencer of the set and its
// transactions matching its header; the numbers asked for (by number) or
// the block asked for last (by hash); each block the parent of the next.
func (s *Syncer) verifyAlone(req *Request, blocks []*chain.Block) error {
	seqs := s.cfg.Chain.Rules().Sequencers
	for i, b := range blocks {
		num := b.NumberU64()
		if req.Kind == ByNumber && num != req.From+uint64(i) {
			return fmt.Errorf("%w: block %d where %d was asked for", ErrJunk, num, req.From+uint64(i))
		}
		if i > 0 && b.Header.ParentHash != blocks[i-1].Hash() {
			return fmt.Errorf("%w: block %d is not a child of the block before it", ErrJunk, num)
		}
		signer, err := block.Signer(b.Header)
		if err != nil {
			return fmt.Errorf("%w: block %d: %w", ErrJunk, num, err)
		}
		if !slices.Contains(seqs, signer) {
			return fmt.Errorf("%w: block %d sealed by %s, not a sequencer", ErrJunk, num, signer)
		}
		if root := block.TxRoot(b.Body); root != b.Header.TxHash {
			return fmt.Errorf("%w: block %d's transactions root is %s, its header says %s", ErrJunk, num, root, b.Header.TxHash)
		}
	}
	if req.Kind == ByHash && len(blocks) > 0 && blocks[len(blocks)-1].Hash() != req.Hash {
		return fmt.Errorf("%w: answer ends at %s, %s was asked for", ErrJunk, blocks[len(blocks)-1].Hash(), req.Hash)
	}
	return nil
}

// SyncBranch fetches from p the block hash and its ancestors back to a
// block the chain has (at most DefaultMaxBranch blocks), by hash, and
// imports them oldest first: how a side branch, or a gap below a gossiped
// block, is filled. It returns how many blocks it imported.
func (s *Syncer) SyncBranch(ctx context.Context, p peer.ID, hash common.Hash) (int, error) {
	var branch []*chain.Block
	for want := hash; ; {
		if _, err := s.cfg.Chain.HeaderByHash(want); err == nil {
			break
		}
		if len(branch) >= DefaultMaxBranch {
			return 0, fmt.Errorf("rangesync: branch of %s longer than %d blocks", hash, DefaultMaxBranch)
		}
		req := &Request{Kind: ByHash, Hash: want, Count: s.cfg.Window}
		got, _, err := s.fetch(ctx, p, req)
		if err == nil && len(got) == 0 {
			err = fmt.Errorf("%w: no block ending at %s", ErrNoAnswer, want)
		}
		if err != nil {
			if reason := classify(err); reason != nil {
				s.cfg.Penalizer.Penalize(p, reason)
			}
			return 0, err
		}
		branch = append(got, branch...)
		want = got[0].Header.ParentHash
	}
	// Drop what the chain already has (an answer may reach below the fork).
	for len(branch) > 0 {
		if _, err := s.cfg.Chain.HeaderByHash(branch[0].Hash()); err != nil {
			break
		}
		branch = branch[1:]
	}
	n, err := s.cfg.Chain.InsertChain(branch)
	if err != nil && errors.Is(err, chain.ErrInvalidBlock) && !errors.Is(err, chain.ErrKnownBlock) {
		s.cfg.Penalizer.Penalize(p, fmt.Errorf("%w: %w", ErrWrongChain, err))
	}
	return n, err
}

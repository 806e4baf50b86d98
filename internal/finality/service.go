package finality

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/event"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/hemi-go/hemi/internal/btc/index"
	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/finality/tracker"
	"github.com/hemi-go/hemi/internal/pop"
)

// startMargin is how many Bitcoin blocks below the first L2 block's view
// the service starts reading publications: a keystone cannot be published
// before its L2 block exists, whose view lags the Bitcoin tip.
const startMargin = 6

// Errors of the service; callers test them with errors.Is (the tracker's
// are in package tracker).
var (
	// ErrNotFound: the L2 block does not exist (above the head).
	ErrNotFound = errors.New("finality: block not found")
	// ErrNotReady: the service has not been bound to a chain or has not
	// started.
	ErrNotReady = errors.New("finality: not ready")
)

// Config configures a Service. It is not modified after New.
type Config struct {
	// Index is the node's Bitcoin index (required).
	Index Bitcoin
	// PoP is the chain's PoP schedule: SuperfinalDepth (0: default 10)
	// and ForkTable (empty: tracker.DefaultForkTable).
	PoP genesis.PoPConfig
	// Logger defaults to slog.Default() with subsystem=finality.
	Logger *slog.Logger
	// Registerer takes the hemi_finality_* collectors (nil: none).
	Registerer prometheus.Registerer
}

// BlockFinality is the finality of one canonical L2 block.
type BlockFinality struct {
	Number uint64
	Hash   common.Hash
	// KeystoneNumber is the covering keystone: the first at or after
	// Number. KeystoneExists is false while the chain has not reached
	// it; KeystoneID and KeystoneHash are valid when it is true.
	KeystoneNumber uint64
	KeystoneExists bool
	KeystoneID     [32]byte
	KeystoneHash   common.Hash
	tracker.Status
}

// Heads are the newest safe and finalized canonical L2 blocks.
type Heads struct {
	Safe, Finalized uint64
}

// canonKeystone is one keystone of the canonical chain.
type canonKeystone struct {
	number uint64
	hash   common.Hash
	id     [32]byte
}

// Service feeds a tracker.Tracker from the index and the chain, answers finality
// queries and decides fork choice. Queries and Prefer are safe for
// concurrent use.
type Service struct {
	cfg     Config
	log     *slog.Logger
	table   []uint32
	metrics *metrics

	chain Chain // set by Bind before Run

	mu    sync.Mutex
	tr    *tracker.Tracker
	canon []canonKeystone // canon[i] is keystone number (i+1)*interval
	heads Heads
	// caughtUp: the tracker has applied the index's events up to the
	// Bitcoin tip of start-up. Before that fork choice is not asked and
	// Prefer refuses: a replay sees publications without the later
	// Bitcoin blocks that made the current branch superfinal.
	caughtUp bool

	keystoneFeed event.Feed // []*pop.L2Keystone, new canonical keystones
	headsFeed    event.Feed // Heads
}

// New returns a service; Bind it to the chain, then Run it.
func New(cfg Config) (*Service, error) {
	if cfg.Index == nil {
		return nil, errors.New("finality: config: no Bitcoin index")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default().With("subsystem", "finality")
	}
	table := cfg.PoP.ForkTable
	if len(table) == 0 {
		table = tracker.DefaultForkTable
	}
	return &Service{
		cfg:     cfg,
		log:     cfg.Logger,
		table:   table,
		metrics: newMetrics(cfg.Registerer),
		tr:      tracker.New(cfg.PoP.SuperfinalDepth),
	}, nil
}

// Bind sets the chain the service follows. Call it once, before Run (the
// chain is built with the service as its ForkChoice, so it cannot be in
// Config).
func (s *Service) Bind(c Chain) { s.chain = c }

// Depth is the superfinality depth in force.
func (s *Service) Depth() uint32 { return s.tr.Depth() }

// Run follows the index and the chain until ctx is done.
func (s *Service) Run(ctx context.Context) error {
	if s.chain == nil {
		return fmt.Errorf("run before Bind: %w", ErrNotReady)
	}
	if s.chain.Config().KeystoneInterval == 0 {
		return fmt.Errorf("%w: keystone interval is 0", ErrNotReady)
	}
	from, err := s.startSeq()
	if err != nil {
		return err
	}
	tipHash, _ := s.cfg.Index.BlockTip()
	target, err := s.cfg.Index.SeqAfter(tipHash)
	if err != nil {
		return fmt.Errorf("finality: catch up to Bitcoin tip %s: %w", tipHash, err)
	}
	if from >= target {
		s.mu.Lock()
		s.caughtUp = true
		s.mu.Unlock()
	}
	// Keystones first, so publications found while catching up on
	// Bitcoin apply to them at once.
	if err := s.syncCanonical(); err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.followBitcoin(ctx, from, target) })
	g.Go(func() error { return s.followChain(ctx) })
	return g.Wait()
}

// startSeq chooses the first index event to read: the Bitcoin block
// startMargin below the first L2 block's view, or below the index tip
// when the chain has no block yet.
func (s *Service) startSeq() (uint64, error) {
	_, h := s.cfg.Index.BlockTip()
	if b1, err := s.chain.HeaderByNumber(1); err == nil {
		if e, err := block.DecodeExtra(b1.Extra); err == nil {
			h = min(h, int32(e.BitcoinHeight))
		}
	}
	h -= startMargin + 1
	if h < 0 {
		return 0, nil
	}
	hi, err := s.cfg.Index.HeaderByHeight(h, chainhash.Hash{})
	if err != nil {
		return 0, fmt.Errorf("finality: start at Bitcoin height %d: %w", h, err)
	}
	seq, err := s.cfg.Index.SeqAfter(hi.Hash)
	if err != nil {
		return 0, fmt.Errorf("finality: start after Bitcoin block %s: %w", hi.Hash, err)
	}
	return seq, nil
}

// followBitcoin applies the index's events from seq from on; fork choice
// is reconsidered from the event before seq target (the start-up tip) on.
func (s *Service) followBitcoin(ctx context.Context, from, target uint64) error {
	events := s.cfg.Index.Subscribe(ctx, from)
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return errors.New("finality: index event stream closed")
			}
			changed, err := s.applyEvent(ev)
			if err != nil {
				return err
			}
			s.mu.Lock()
			caught := s.caughtUp
			if !caught && ev.Seq+1 >= target {
				s.caughtUp, changed = true, true // reconsider once, with everything known
			}
			s.mu.Unlock()
			if changed && (caught || s.isCaughtUp()) {
				s.reconsider()
			}
			s.refresh()
		}
	}
}

// applyEvent feeds one index event to the tracker. It reports whether
// fork choice may have changed: the block held publications (of any
// keystone, also of side branches the tracker does not hold) or an
// effective publication changed.
func (s *Service) applyEvent(ev index.Event) (bool, error) {
	if ev.Kind == index.EventDisconnected {
		s.mu.Lock()
		defer s.mu.Unlock()
		held := s.tr.TipPublications(ev.Hash)
		changed, err := s.tr.DisconnectBitcoin(ev.Hash)
		if err != nil {
			return false, fmt.Errorf("finality: event %d: %w", ev.Seq, err)
		}
		s.log.Debug("bitcoin block disconnected", "height", ev.Height, "hash", ev.Hash, "changed", changed)
		// Side branches' keystones are not in the tracker: any
		// publication that left may change fork choice.
		return changed || held > 0, nil
	}
	msg, err := s.cfg.Index.Block(ev.Hash)
	if err != nil {
		return false, fmt.Errorf("finality: read Bitcoin block %s: %w", ev.Hash, err)
	}
	pubs := pop.BlockPublications(msg)
	s.mu.Lock()
	defer s.mu.Unlock()
	changed, err := s.tr.ConnectBitcoin(ev.Height, ev.Hash, pubs)
	if err != nil {
		return false, fmt.Errorf("finality: event %d: %w", ev.Seq, err)
	}
	if len(pubs) > 0 {
		s.log.Debug("bitcoin block connected", "height", ev.Height, "hash", ev.Hash, "publications", len(pubs), "changed", changed)
	}
	return changed || len(pubs) > 0, nil
}

func (s *Service) isCaughtUp() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.caughtUp
}

func (s *Service) reconsider() {
	reorged, err := s.chain.Reconsider()
	if err != nil {
		s.log.Warn("fork choice reconsider failed", "err", err)
		return
	}
	if reorged {
		s.log.Info("fork choice switched branch after Bitcoin publications changed")
	}
}

func (s *Service) followChain(ctx context.Context) error {
	heads := s.chain.Subscribe(ctx, s.chain.Head().Number.Uint64())
	for {
		select {
		case <-ctx.Done():
			return nil
		case _, ok := <-heads:
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return errors.New("finality: chain head stream closed")
			}
			if err := s.syncCanonical(); err != nil {
				s.log.Warn("keystone sync failed", "err", err)
			}
			s.refresh()
		}
	}
}

// syncCanonical brings the canonical keystone list up to the chain's
// head: it drops keystones no longer canonical (a reorg), then reads the
// new ones. Chain reads happen outside the lock.
func (s *Service) syncCanonical() error {
	iv := s.chain.Config().KeystoneInterval
	top := s.chain.Head().Number.Uint64() / iv
	s.mu.Lock()
	have := append([]canonKeystone(nil), s.canon...)
	s.mu.Unlock()
	if uint64(len(have)) > top {
		have = have[:top]
	}
	for len(have) > 0 {
		last := have[len(have)-1]
		h, err := s.chain.HeaderByNumber(last.number)
		if err == nil && h.Hash() == last.hash {
			break
		}
		have = have[:len(have)-1]
	}
	keep := len(have)
	var added []*pop.L2Keystone
	for n := uint64(len(have)) + 1; n <= top; n++ {
		k, err := s.chain.KeystoneAt(n * iv)
		if err != nil {
			if errors.Is(err, chain.ErrNotFound) {
				break // the head moved back meanwhile; the next head fixes it
			}
			return fmt.Errorf("finality: keystone %d: %w", n*iv, err)
		}
		have = append(have, canonKeystone{number: k.Number, hash: k.Hash, id: k.ID})
		added = append(added, k)
	}
	s.mu.Lock()
	for _, k := range added {
		s.tr.AddKeystone(k.ID, k.Number, k.Hash, k.PrevID)
	}
	s.canon = have
	n := s.tr.Keystones()
	s.mu.Unlock()
	s.metrics.keystones.Set(float64(n))
	if len(added) > 0 {
		s.log.Debug("keystones", "new", len(added), "first", added[0].Number, "kept", keep)
		s.keystoneFeed.Send(added)
	}
	return nil
}

// refresh recomputes the safe and finalized heads, logs and publishes a
// change.
func (s *Service) refresh() {
	s.mu.Lock()
	h := s.headsLocked()
	old := s.heads
	s.heads = h
	tip, _, _ := s.tr.Tip()
	s.mu.Unlock()
	s.metrics.safe.Set(float64(h.Safe))
	s.metrics.finalized.Set(float64(h.Finalized))
	s.metrics.btcHeight.Set(float64(tip))
	if h != old {
		s.log.Info("finality advanced", "safe", h.Safe, "finalized", h.Finalized, "btc_tip", tip)
		s.headsFeed.Send(h)
	}
}

// headsLocked finds the newest published and the newest superfinal
// canonical keystone by binary search: effective publications never get
// later towards the root, so both predicates hold on a prefix.
func (s *Service) headsLocked() Heads {
	var h Heads
	pub := sort.Search(len(s.canon), func(i int) bool { return !s.tr.Status(s.canon[i].id).Published })
	if pub > 0 {
		h.Safe = s.canon[pub-1].number
	}
	sf := sort.Search(pub, func(i int) bool { return !s.tr.Status(s.canon[i].id).Superfinal })
	if sf > 0 {
		h.Finalized = s.canon[sf-1].number
	}
	return h
}

// Heads returns the newest safe and finalized canonical blocks (0, the
// genesis, while none is).
func (s *Service) Heads() Heads {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.headsLocked()
}

// Safe is the newest canonical block with at least one Bitcoin
// confirmation (the RPC "safe" tag).
func (s *Service) Safe() uint64 { return s.Heads().Safe }

// Finalized is the newest superfinal canonical block (the RPC
// "finalized" tag).
func (s *Service) Finalized() uint64 { return s.Heads().Finalized }

// Finality returns the finality of canonical L2 block number.
func (s *Service) Finality(number uint64) (*BlockFinality, error) {
	if s.chain == nil {
		return nil, ErrNotReady
	}
	h, err := s.chain.HeaderByNumber(number)
	if err != nil {
		if errors.Is(err, chain.ErrNotFound) {
			return nil, fmt.Errorf("block %d: %w", number, ErrNotFound)
		}
		return nil, err
	}
	out := &BlockFinality{Number: number, Hash: h.Hash(), KeystoneNumber: s.chain.CoveringKeystone(number)}
	k, err := s.chain.KeystoneAt(out.KeystoneNumber)
	switch {
	case errors.Is(err, chain.ErrNotFound):
		s.mu.Lock()
		out.Status = tracker.Status{Depth: s.tr.Depth()}
		s.mu.Unlock()
		return out, nil
	case err != nil:
		return nil, err
	}
	out.KeystoneExists, out.KeystoneID, out.KeystoneHash = true, k.ID, k.Hash
	out.Status = s.KeystoneStatus(k)
	return out, nil
}

// KeystoneStatus is the finality of keystone k (of any branch): the
// tracker's, or for a keystone it has not been told about, that of its
// own publications.
func (s *Service) KeystoneStatus(k *pop.L2Keystone) tracker.Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.tr.Status(k.ID)
	if !st.Known {
		st = s.tr.OwnStatus(k.ID)
	}
	return st
}

// Publications returns the canonical publications of keystone id itself.
func (s *Service) KeystonePublications(id [32]byte) []pop.Publication {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tr.Publications(id)
}

// Prefer implements chain.ForkChoice with the rule in the package doc. It
// refuses until the service has caught up with the Bitcoin tip of
// start-up; then it reconsiders the side branches itself.
func (s *Service) Prefer(current, candidate []tracker.KeystoneRef) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.caughtUp {
		return false
	}
	return s.tr.Prefer(s.table, current, candidate)
}

// SubscribeKeystones delivers the new canonical keystones each time the
// head reaches them (after an L2 reorg, those of the new branch), oldest
// first.
func (s *Service) SubscribeKeystones(ch chan<- []*pop.L2Keystone) event.Subscription {
	return s.keystoneFeed.Subscribe(ch)
}

// SubscribeHeads delivers the safe and finalized heads when they change.
func (s *Service) SubscribeHeads(ch chan<- Heads) event.Subscription {
	return s.headsFeed.Subscribe(ch)
}

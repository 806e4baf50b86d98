package finality

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

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
	// Dir holds the service's state (pebble; package doc, "State on
	// disk"); "" keeps it in memory only, so every Run rebuilds it from
	// the index and the chain (tests).
	Dir string
	// Now is the clock of the rate-limited Error log (nil: time.Now).
	Now func() time.Time
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
	// Finalized: the block is at or below the node's finalized tag,
	// which never moves back. Status is the Bitcoin confirmations as they
	// are now, so a block can be Finalized and not Superfinal: a Bitcoin
	// reorg deeper than the superfinal depth removed the publication that
	// made it final; SuperfinalityLost says so.
	Finalized         bool
	SuperfinalityLost bool
}

// Heads are the newest safe and finalized canonical L2 blocks (package
// doc: finalized never moves back, safe may).
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
	depth   uint32
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

	// floor is the finalized tag: the newest block ever finalized, only
	// raised (and then saved) by refresh. Guarded by mu; floorMu
	// serialises refresh's read-compute-save of it.
	floor   floorRec
	floorMu sync.Mutex
	lost    lostState // guarded by floorMu

	store *store // nil without Config.Dir; open during Run
	pos   btcPos // the Bitcoin position saved last; followBitcoin's

	keystoneFeed event.Feed // []*pop.L2Keystone, new canonical keystones
	headsFeed    event.Feed // Heads
}

// lostState tracks finalized blocks that are not superfinal any more, for
// the rate-limited Error log.
type lostState struct {
	active  bool
	lastLog time.Time
}

// New returns a service; Bind it to the chain, then Run it.
func New(cfg Config) (*Service, error) {
	if cfg.Index == nil {
		return nil, errors.New("finality: config: no Bitcoin index")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default().With("subsystem", "finality")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	table := cfg.PoP.ForkTable
	if len(table) == 0 {
		table = tracker.DefaultForkTable
	}
	tr := tracker.New(cfg.PoP.SuperfinalDepth)
	return &Service{
		cfg:     cfg,
		log:     cfg.Logger,
		table:   table,
		depth:   tr.Depth(),
		metrics: newMetrics(cfg.Registerer),
		tr:      tr,
	}, nil
}

// Bind sets the chain the service follows. Call it once, before Run (the
// chain is built with the service as its ForkChoice, so it cannot be in
// Config).
func (s *Service) Bind(c Chain) { s.chain = c }

// Depth is the superfinality depth in force.
func (s *Service) Depth() uint32 { return s.depth }

// Run follows the index and the chain until ctx is done. With
// Config.Dir it first loads the saved state and replays only what came
// after it (package doc, "State on disk").
func (s *Service) Run(ctx context.Context) error {
	if s.chain == nil {
		return fmt.Errorf("run before Bind: %w", ErrNotReady)
	}
	if s.chain.Config().KeystoneInterval == 0 {
		return fmt.Errorf("%w: keystone interval is 0", ErrNotReady)
	}
	from, err := s.load(ctx)
	if s.store != nil {
		defer func() {
			if cerr := s.store.close(); cerr != nil {
				s.log.Warn("close finality state", "err", cerr)
			}
		}()
	}
	if err != nil {
		return err
	}
	tipHash, _ := s.cfg.Index.BlockTip()
	target, err := s.cfg.Index.SeqAfter(tipHash)
	if err != nil {
		if ctx.Err() != nil {
			// Stopping: the node closes the index as ctx ends, which
			// is no failure of the service (as in the loops below).
			return nil
		}
		return fmt.Errorf("finality: catch up to Bitcoin tip %s: %w", tipHash, err)
	}
	if from >= target {
		s.mu.Lock()
		s.caughtUp = true
		s.mu.Unlock()
	}
	s.log.Info("finality starts", "replay_from_event", from, "bitcoin_events", target, "keystones", s.tr.Keystones(),
		"finalized", s.floor.number, "saved", s.store != nil)
	// Keystones first, so publications found while catching up on
	// Bitcoin apply to them at once.
	if err := s.syncCanonical(); err != nil {
		return err
	}
	s.refresh()
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
	// Both kinds read the block: a disconnect for its parent (the new
	// tip, which the tracker does not keep), a connect for its
	// publications.
	msg, err := s.cfg.Index.Block(ev.Hash)
	if err != nil {
		return false, fmt.Errorf("finality: read Bitcoin block %s: %w", ev.Hash, err)
	}
	var (
		changed bool
		rec     *tracker.Block
	)
	s.mu.Lock()
	if ev.Kind == index.EventDisconnected {
		held := s.tr.TipPublications(ev.Hash)
		changed, err = s.tr.DisconnectBitcoin(ev.Hash, msg.Header.PrevBlock)
		if err == nil {
			s.log.Debug("bitcoin block disconnected", "height", ev.Height, "hash", ev.Hash, "changed", changed)
			// Side branches' keystones are not in the tracker: any
			// publication that left may change fork choice.
			changed = changed || held > 0
		}
	} else {
		pubs := pop.BlockPublications(msg)
		changed, err = s.tr.ConnectBitcoin(ev.Height, ev.Hash, pubs)
		if err == nil && len(pubs) > 0 {
			s.log.Debug("bitcoin block connected", "height", ev.Height, "hash", ev.Hash, "publications", len(pubs), "changed", changed)
			rec = &tracker.Block{Height: ev.Height, Hash: ev.Hash, Pubs: pubs}
			changed = true
		}
	}
	tipH, tipHash, tipOK := s.tr.Tip()
	s.mu.Unlock()
	if err != nil {
		return false, fmt.Errorf("finality: event %d: %w", ev.Seq, err)
	}
	if s.store != nil {
		s.pos.next, s.pos.last = ev.Seq+1, ev
		s.pos.tip.ok, s.pos.tip.height, s.pos.tip.hash = tipOK, tipH, tipHash
		if err := s.store.putBitcoin(&s.pos, ev, rec); err != nil {
			return false, err
		}
	}
	return changed, nil
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
// new ones, and saves the change. Chain reads happen outside the lock.
// Checking only the newest kept keystone against the chain suffices:
// the list is a chain of keystones linked by previous id, so the newest
// being canonical makes all below it canonical.
func (s *Service) syncCanonical() error {
	iv := s.chain.Config().KeystoneInterval
	top := s.chain.Head().Number.Uint64() / iv
	s.mu.Lock()
	old := s.canon // never changed in place: syncCanonical replaces it
	have := append([]canonKeystone(nil), old...)
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
		if len(have) > 0 && k.PrevID != have[len(have)-1].id {
			break // a reorg between two reads; the next head fixes it
		}
		have = append(have, canonKeystone{number: k.Number, hash: k.Hash, id: k.ID})
		added = append(added, k)
	}
	if s.store != nil && (keep < len(old) || len(added) > 0) {
		ks := make([]tracker.Keystone, len(added))
		for i, k := range added {
			ks[i] = tracker.Keystone{ID: k.ID, Number: k.Number, Hash: k.Hash, PrevID: k.PrevID}
		}
		if err := s.store.putCanon(old[keep:], have[keep:], ks); err != nil {
			return err
		}
	}
	s.mu.Lock()
	for _, k := range added {
		s.tr.AddKeystone(k.ID, k.Number, k.Hash, k.PrevID)
	}
	s.canon = have
	n := s.tr.Keystones()
	s.mu.Unlock()
	if uint64(keep)*iv < s.floorNumber() {
		s.dropFloor(uint64(keep) * iv)
	}
	s.metrics.keystones.Set(float64(n))
	if len(added) > 0 {
		s.log.Debug("keystones", "new", len(added), "first", added[0].Number, "kept", keep)
		s.keystoneFeed.Send(added)
	}
	return nil
}

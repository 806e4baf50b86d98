package netp2p

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/lru"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/block"
)

// Gossip acceptance parameters (DESIGN 9).
const (
	// MaxAhead is how far above the local head a gossiped block may be.
	MaxAhead = 32
	// MaxPerHeight is how many distinct blocks one height may have
	// accepted within the window (the last HeightWindow heights seen).
	MaxPerHeight = 3
	// HeightWindow is how many heights the per-height records cover; the
	// least recently touched height is forgotten first.
	HeightWindow = 1024
	// SeenCache is how many accepted block hashes are remembered.
	SeenCache = 4096
	// MaxEvidence is how many equivocations are kept in memory.
	MaxEvidence = 256
)

// Verdict is the validator's answer, gossipsub's Accept / Ignore /
// Reject: Accept delivers and forwards the message; Ignore drops it
// without blame; Reject drops it and penalises the peer that sent it.
type Verdict int

const (
	Accept Verdict = iota
	Ignore
	Reject
)

func (v Verdict) String() string {
	switch v {
	case Accept:
		return "accept"
	case Ignore:
		return "ignore"
	case Reject:
		return "reject"
	}
	return fmt.Sprintf("verdict(%d)", int(v))
}

// Reasons a message is not accepted (the reason label of
// hemi_netp2p_gossip_messages_total; doc.go has the table).
const (
	ReasonMalformed        = "malformed"
	ReasonTooLarge         = "too_large"
	ReasonSeen             = "seen"
	ReasonBadSeal          = "bad_seal"
	ReasonUnknownSequencer = "unknown_sequencer"
	ReasonBadBody          = "bad_body"
	ReasonBadTxRoot        = "bad_tx_root"
	ReasonBehindFinalized  = "behind_finalized"
	ReasonFarAhead         = "far_ahead"
	ReasonKnown            = "known"
	ReasonHeightFull       = "height_full"
	ReasonPeerNotReady     = "peer_not_ready"
	ReasonInFlight         = "in_flight"
	ReasonOK               = "ok"
)

// Facts are what the gate needs of the local node when it judges a
// message; the service reads them from the chain and finality.
type Facts struct {
	// Head and Finalized are the numbers of the local head and the newest
	// superfinal block.
	Head, Finalized uint64
	// Known reports whether the chain stores a block (any branch).
	Known func(common.Hash) bool
}

// Decision is the gate's answer about one message.
type Decision struct {
	Verdict Verdict
	Reason  string
	// Err says what is wrong (nil on Accept).
	Err error
	// Block is the decoded block (nil when it did not decode).
	Block *chain.Block
	// Signer is the sequencer that sealed it (when the seal was checked).
	Signer common.Address
	// Evidence is set when this block is a second block at its height by
	// the same sequencer (the block is still accepted: PoP fork choice
	// decides between the branches).
	Evidence *Evidence
}

// Evidence is an equivocation: two different blocks at one height sealed
// by one sequencer.
type Evidence struct {
	Number        uint64
	Signer        common.Address
	First, Second *types.Header
}

// heightRecord is what the gate accepted at one height.
type heightRecord struct {
	hashes   []common.Hash
	bySigner map[common.Address]*types.Header // the first block each sequencer sealed here
}

// Gate is the gossip validator's state machine: pure rules over the
// message and the Facts, plus the seen cache, the per-height records and
// the evidence. No I/O, no clock. Safe for concurrent use (gossipsub runs
// validators concurrently). The Service runs one; it is exported so
// benchmarks can time a gossiped block's whole path (validate, import)
// without a libp2p host.
type Gate struct {
	sequencers map[common.Address]bool

	mu       sync.Mutex
	seen     lru.BasicLRU[common.Hash, struct{}]
	heights  lru.BasicLRU[uint64, *heightRecord]
	evidence []Evidence
}

// NewGate returns a gate accepting blocks sealed by sequencers.
func NewGate(sequencers []common.Address) *Gate {
	g := &Gate{sequencers: map[common.Address]bool{},
		seen:    lru.NewBasicLRU[common.Hash, struct{}](SeenCache),
		heights: lru.NewBasicLRU[uint64, *heightRecord](HeightWindow)}
	for _, s := range sequencers {
		g.sequencers[s] = true
	}
	return g
}

// Check judges one gossip message, in the order of doc.go's table: the
// cheap checks that need only the message first, then the seal (one
// signature recovery), then the checks against the local chain. A block
// is marked seen only when it is accepted: a block with a junk body has
// the same header hash as the real one, which must still get through.
func (g *Gate) Check(data []byte, f Facts) Decision {
	b, err := DecodeBlock(data)
	if err != nil {
		reason := ReasonMalformed
		if errors.Is(err, ErrTooLarge) {
			reason = ReasonTooLarge
		}
		return Decision{Verdict: Reject, Reason: reason, Err: err}
	}
	return g.CheckBlock(b, f)
}

// CheckBlock is Check on a decoded block.
func (g *Gate) CheckBlock(b *chain.Block, f Facts) Decision {
	h := b.Header
	hash := h.Hash()
	number := h.Number.Uint64()
	d := Decision{Block: b}
	g.mu.Lock()
	_, seen := g.seen.Get(hash)
	g.mu.Unlock()
	if seen {
		return d.with(Ignore, ReasonSeen, fmt.Errorf("block %d %s already accepted", number, hash))
	}
	signer, err := block.Signer(h)
	if err != nil {
		return d.with(Reject, ReasonBadSeal, fmt.Errorf("block %d %s: %w", number, hash, err))
	}
	d.Signer = signer
	if !g.sequencers[signer] {
		return d.with(Reject, ReasonUnknownSequencer, fmt.Errorf("block %d %s sealed by %s, not a sequencer of the genesis", number, hash, signer))
	}
	if err := b.Body.Validate(); err != nil {
		return d.with(Reject, ReasonBadBody, fmt.Errorf("block %d %s: %w", number, hash, err))
	}
	if root := block.TxRoot(b.Body); root != h.TxHash {
		return d.with(Reject, ReasonBadTxRoot, fmt.Errorf("block %d %s: transactions root %s, header %s", number, hash, root, h.TxHash))
	}
	if number <= f.Finalized {
		return d.with(Reject, ReasonBehindFinalized, fmt.Errorf("block %d %s at or below the finalized block %d", number, hash, f.Finalized))
	}
	if number > f.Head+MaxAhead {
		return d.with(Ignore, ReasonFarAhead, fmt.Errorf("block %d %s more than %d above the head %d", number, hash, MaxAhead, f.Head))
	}
	if f.Known != nil && f.Known(hash) {
		return d.with(Ignore, ReasonKnown, fmt.Errorf("block %d %s already stored", number, hash))
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, seen := g.seen.Get(hash); seen { // accepted meanwhile by a concurrent validation
		return d.with(Ignore, ReasonSeen, fmt.Errorf("block %d %s already accepted", number, hash))
	}
	rec, ok := g.heights.Get(number)
	if !ok {
		rec = &heightRecord{bySigner: map[common.Address]*types.Header{}}
		g.heights.Add(number, rec)
	}
	if len(rec.hashes) >= MaxPerHeight {
		return d.with(Ignore, ReasonHeightFull, fmt.Errorf("block %d %s: %d blocks at this height already", number, hash, len(rec.hashes)))
	}
	rec.hashes = append(rec.hashes, hash)
	if first, ok := rec.bySigner[signer]; ok {
		ev := Evidence{Number: number, Signer: signer, First: first, Second: types.CopyHeader(h)}
		if len(g.evidence) == MaxEvidence {
			g.evidence = g.evidence[1:]
		}
		g.evidence = append(g.evidence, ev)
		d.Evidence = &ev
	} else {
		rec.bySigner[signer] = types.CopyHeader(h)
	}
	g.seen.Add(hash, struct{}{})
	return d.with(Accept, ReasonOK, nil)
}

// MarkLocal records a block this node publishes itself, so its echo is
// ignored and the per-height records count it.
func (g *Gate) MarkLocal(h *types.Header) {
	signer, _ := block.Signer(h)
	g.markLocal(h, signer)
}

// markLocal is MarkLocal with the seal's signer known (the zero address
// when it does not recover).
func (g *Gate) markLocal(h *types.Header, signer common.Address) {
	g.mu.Lock()
	defer g.mu.Unlock()
	hash := h.Hash()
	if _, ok := g.seen.Get(hash); ok {
		return
	}
	g.seen.Add(hash, struct{}{})
	number := h.Number.Uint64()
	rec, ok := g.heights.Get(number)
	if !ok {
		rec = &heightRecord{bySigner: map[common.Address]*types.Header{}}
		g.heights.Add(number, rec)
	}
	rec.hashes = append(rec.hashes, hash)
	if signer != (common.Address{}) {
		if _, ok := rec.bySigner[signer]; !ok {
			rec.bySigner[signer] = types.CopyHeader(h)
		}
	}
}

// Seen reports whether hash was accepted (or published) by this node.
func (g *Gate) Seen(hash common.Hash) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.seen.Contains(hash)
}

// Evidence returns the equivocations seen, oldest first.
func (g *Gate) Evidence() []Evidence {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]Evidence(nil), g.evidence...)
}

func (d Decision) with(v Verdict, reason string, err error) Decision {
	d.Verdict, d.Reason, d.Err = v, reason, err
	return d
}

// sortPending orders held blocks by number, so parents go first.
func sortPending(held []*pending) {
	slices.SortStableFunc(held, func(a, b *pending) int { return cmp.Compare(a.b.NumberU64(), b.b.NumberU64()) })
}

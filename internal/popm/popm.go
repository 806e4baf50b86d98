package popm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hemi-go/hemi/internal/pop"
)

// Defaults of Config.
const (
	DefaultFeeTarget  = 1
	DefaultMaxFeeRate = 100 // sat/vB
	DefaultBumpBlocks = 2
	DefaultKeepDepth  = 12
	DefaultTick       = 30 * time.Second
	retryPause        = 2 * time.Second
)

// ErrStateWallet: the data directory holds the state of another wallet.
var ErrStateWallet = errors.New("popm: state of another wallet")

// Config configures a Miner. It is read once by New.
type Config struct {
	// Wallet pays for and signs the PoP transactions. Required.
	Wallet *Wallet
	// Keystones and Bitcoin are the miner's node. Required.
	Keystones Keystones
	Bitcoin   Bitcoin
	// DataDir holds the miner's crash-safe state (pebble). Required.
	DataDir string
	// FeeTarget is the confirmation target, in blocks, of the fee
	// estimate (default 1).
	FeeTarget int
	// MaxFeeRate caps the fee rate of every transaction, bumps included
	// (sat/vB, default 100). Above it the keystone waits.
	MaxFeeRate int64
	// BumpBlocks is how many Bitcoin blocks a transaction may stay
	// unconfirmed before it is replaced at a higher fee (default 2).
	BumpBlocks int32
	// KeepDepth is how many confirmations end the watch for reorgs
	// (default 12).
	KeepDepth int32
	// Tick is how often the Bitcoin snapshot (and with it the fee
	// estimate) is refreshed between tip changes (default 30s).
	Tick time.Duration
	// Logger receives the miner's logs. Required.
	Logger *slog.Logger
	// Registerer gets the miner's metrics; may be nil.
	Registerer prometheus.Registerer
	// OnEvent, if set, is called (from the miner's goroutine; it must not
	// block) for every publication, bump, republication and confirmation.
	OnEvent func(Event)
}

// Event reports one thing the miner did with a transaction.
type Event struct {
	Kind           NoteKind
	KeystoneNumber uint64
	KeystoneID     [32]byte
	Txid           chainhash.Hash
	VSize          int64 // measured virtual size
	Fee            int64 // satoshis
	FeeRate        int64 // sat/vB
	// SeenAt is when the keystone reached the miner; SentAt when the
	// transaction was handed to the network (zero for confirmations).
	SeenAt, SentAt time.Time
	// BlockHash and Height: the Bitcoin block it was mined in
	// (NoteConfirmed only).
	BlockHash chainhash.Hash
	Height    int32
	// Err explains waits and refusals (ErrWalletEmpty names the address
	// to fund).
	Err error
}

// Miner is a running PoP miner.
type Miner struct {
	cfg    Config
	log    *slog.Logger
	m      *Machine
	st     *store
	met    *metrics
	seen   map[[32]byte]time.Time // when each recent keystone arrived
	sentAt map[chainhash.Hash]time.Time
	empty  bool // the empty-wallet warning is logged

	// Broadcasts run in their own goroutines (sending), at most one per
	// transaction; each reports on verdicts, which Run reads. sending
	// and inflight are only touched by Run's goroutine.
	sending  sync.WaitGroup
	inflight map[chainhash.Hash]bool
	verdicts chan verdict
}

// verdict is the outcome of one broadcast goroutine.
type verdict struct {
	txid chainhash.Hash
	ev   *BroadcastEvent // nil: no verdict (an error); resent at the next block
}

// New validates cfg and opens the miner's state.
func New(cfg Config) (*Miner, error) {
	if cfg.Wallet == nil || cfg.Keystones == nil || cfg.Bitcoin == nil || cfg.Logger == nil || cfg.DataDir == "" {
		return nil, errors.New("popm: Config.Wallet, Keystones, Bitcoin, Logger and DataDir are required")
	}
	if cfg.FeeTarget <= 0 {
		cfg.FeeTarget = DefaultFeeTarget
	}
	if cfg.MaxFeeRate <= 0 {
		cfg.MaxFeeRate = DefaultMaxFeeRate
	}
	if cfg.BumpBlocks <= 0 {
		cfg.BumpBlocks = DefaultBumpBlocks
	}
	if cfg.KeepDepth <= 0 {
		cfg.KeepDepth = DefaultKeepDepth
	}
	if cfg.Tick <= 0 {
		cfg.Tick = DefaultTick
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("popm: %w", err)
	}
	st, err := openStore(cfg.DataDir, cfg.Logger.With("subsystem", "popm"))
	if err != nil {
		return nil, err
	}
	s, err := st.load()
	if err != nil {
		st.close()
		return nil, err
	}
	if s.Wallet == nil {
		s.Wallet = cfg.Wallet.Script()
	} else if !bytes.Equal(s.Wallet, cfg.Wallet.Script()) {
		st.close()
		return nil, fmt.Errorf("%w: the state in %s belongs to another wallet (script %x); use another data directory for this key",
			ErrStateWallet, cfg.DataDir, s.Wallet)
	}
	mc := MachineConfig{MaxFeeRate: cfg.MaxFeeRate, BumpBlocks: cfg.BumpBlocks, KeepDepth: cfg.KeepDepth}
	return &Miner{
		cfg: cfg, log: cfg.Logger.With("subsystem", "popm"), m: NewMachine(mc, cfg.Wallet, s), st: st,
		met: newMetrics(cfg.Registerer), seen: map[[32]byte]time.Time{}, sentAt: map[chainhash.Hash]time.Time{},
		inflight: map[chainhash.Hash]bool{}, verdicts: make(chan verdict),
	}, nil
}

// Run mines until ctx is done, then closes the state.
func (mi *Miner) Run(ctx context.Context) error {
	defer mi.st.close()
	ctx, cancel := context.WithCancel(ctx)
	defer mi.sending.Wait()
	defer cancel()
	w := mi.cfg.Wallet
	src, path := w.Source()
	mi.log.Info("pop miner started", "address", w.Address().EncodeAddress(), "kind", w.Kind(), "key", src, "path", path,
		"l2_reward_address", w.RewardAddress().Hex(), "fee_target", mi.cfg.FeeTarget, "max_fee_rate", mi.cfg.MaxFeeRate,
		"bump_blocks", mi.cfg.BumpBlocks, "watched_txs", len(mi.m.State().Txs))
	if err := mi.exec(ctx, mi.m.Restart()); err != nil {
		return err
	}
	kch := make(chan pop.L2Keystone)
	go mi.pumpKeystones(ctx, kch)
	tips := mi.cfg.Bitcoin.TipChanges(ctx)
	tick := time.NewTicker(mi.cfg.Tick)
	defer tick.Stop()
	// retry re-takes a snapshot that failed (the node was down) sooner
	// than the next tick.
	retry := time.NewTimer(0)
	defer retry.Stop()
	for {
		var ev Input
		select {
		case <-ctx.Done():
			return nil
		case k := <-kch:
			mi.met.seen.Inc()
			mi.seen[k.ID] = time.Now()
			mi.log.Info("keystone", "number", k.Number, "id", fmt.Sprintf("%x", k.ID), "block", k.Hash)
			ev = KeystoneEvent{Keystone: k}
		case _, ok := <-tips:
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return errors.New("popm: the Bitcoin tip notifications stopped")
			}
		case <-tick.C:
		case <-retry.C:
		case v := <-mi.verdicts:
			delete(mi.inflight, v.txid)
			if v.ev == nil {
				continue
			}
			if err := mi.exec(ctx, mi.m.Step(*v.ev)); err != nil {
				return err
			}
			continue
		}
		if ev == nil {
			te, err := mi.snapshot(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				mi.log.Warn("bitcoin snapshot failed; retrying", "err", err, "in", retryPause)
				retry.Reset(retryPause)
				continue
			}
			ev = te
		}
		if err := mi.exec(ctx, mi.m.Step(ev)); err != nil {
			return err
		}
	}
}

// snapshot reads the Bitcoin chain as of its current tip: the wallet's
// coins, where each watched transaction is mined, who spends the inputs
// of the unconfirmed ones, and the fee estimate.
func (mi *Miner) snapshot(ctx context.Context) (TipEvent, error) {
	b := mi.cfg.Bitcoin
	hash, height, err := b.Tip(ctx)
	if err != nil {
		return TipEvent{}, err
	}
	coins, err := b.Coins(ctx, mi.cfg.Wallet.Script(), hash)
	if err != nil {
		return TipEvent{}, err
	}
	mined := map[chainhash.Hash]Mined{}
	for _, t := range mi.m.State().Txs {
		ids := []chainhash.Hash{t.Txid}
		for _, r := range t.Replaces {
			ids = append(ids, r.Txid)
		}
		for _, id := range ids {
			mm, ok, err := b.Mined(ctx, id, hash)
			if err != nil {
				return TipEvent{}, err
			}
			if ok {
				mined[id] = mm
			}
		}
	}
	spent := map[wire.OutPoint]chainhash.Hash{}
	for _, t := range mi.m.State().Txs {
		if _, ok := mined[t.Txid]; ok {
			continue
		}
		by, ok, err := b.Spender(ctx, t.Input.OutPoint, hash)
		if err != nil {
			return TipEvent{}, err
		}
		if ok {
			spent[t.Input.OutPoint] = by
		}
	}
	rate, err := b.FeeRate(ctx, mi.cfg.FeeTarget)
	if err != nil {
		return TipEvent{}, err
	}
	var bal int64
	for _, c := range coins {
		bal += c.Value
	}
	mi.met.balance.Set(float64(bal))
	mi.met.feeRate.Set(float64(rate))
	if empty := bal == 0 && len(mi.m.State().Txs) == 0; empty != mi.empty {
		mi.empty = empty
		if empty {
			mi.log.Warn("wallet is empty: send bitcoin to its address before the next keystone",
				"address", mi.cfg.Wallet.Address().EncodeAddress(), "err", ErrWalletEmpty)
		}
	}
	// The state keeps only coins that can pay a PoP transaction alone
	// (at 1 sat/vB): dust sent to the wallet by strangers neither grows
	// the persisted state nor hides the coins that can pay.
	minCoin := mi.cfg.Wallet.MinCoin(1)
	coins = slices.DeleteFunc(coins, func(c Coin) bool { return c.Value < minCoin })
	return TipEvent{Hash: hash, Height: height, Coins: coins, Mined: mined, Spent: spent, FeeRate: rate}, nil
}

// exec persists the state, then reports the step's notes and starts a
// broadcast for each transaction it asks to send. Persisting first makes
// a crash at any point safe: Restart resends whatever was persisted but
// maybe not sent.
func (mi *Miner) exec(ctx context.Context, out Output) error {
	if err := mi.st.save(mi.m.State()); err != nil {
		return err
	}
	for _, n := range out.Notes {
		mi.note(n)
	}
	for _, t := range out.Send {
		if err := mi.send(ctx, t); err != nil {
			return err
		}
	}
	return nil
}

// send broadcasts t in its own goroutine, whose verdict comes back to
// Run as an event: a broadcast waits for its peers' answers (up to the
// node's broadcast timeout for a peer that never answers), and neither
// the next keystone nor the other transactions wait with it. Right
// after a reorg the miner re-sends every orphaned transaction at once.
// A transaction whose broadcast is still running is not sent twice: its
// verdict is on the way.
func (mi *Miner) send(ctx context.Context, t *Tx) error {
	if mi.inflight[t.Txid] {
		return nil
	}
	msg, err := t.MsgTx()
	if err != nil {
		return err
	}
	mi.inflight[t.Txid] = true
	mi.sending.Add(1)
	go func() {
		defer mi.sending.Done()
		v := verdict{txid: t.Txid}
		now := time.Now()
		res, reason, err := mi.cfg.Bitcoin.Broadcast(ctx, msg)
		switch {
		case err == nil:
			mi.log.Debug("broadcast", "txid", t.Txid, "verdict", res, "reason", reason, "took", time.Since(now))
			v.ev = &BroadcastEvent{Txid: t.Txid, Verdict: res, Reason: reason}
		case ctx.Err() == nil:
			mi.log.Warn("broadcast got no verdict; resent at the next block", "txid", t.Txid, "err", err)
		}
		select {
		case mi.verdicts <- v:
		case <-ctx.Done():
		}
	}()
	return nil
}

func (mi *Miner) note(n Note) {
	t := &n.Tx
	ev := Event{Kind: n.Kind, KeystoneNumber: n.Keystone.Number, KeystoneID: n.Keystone.ID, Txid: t.Txid,
		VSize: t.VSize, Fee: t.Fee, FeeRate: t.FeeRate, SeenAt: mi.seen[n.Keystone.ID], Err: n.Err}
	id := fmt.Sprintf("%x", n.Keystone.ID)
	switch n.Kind {
	case NotePublished, NoteBumped, NoteRepublished:
		ev.SentAt = time.Now()
		mi.sentAt[t.Txid] = ev.SentAt
		mi.met.waiting.Set(0)
		switch n.Kind {
		case NotePublished:
			mi.met.published.Inc()
		case NoteBumped:
			mi.met.bumps.Inc()
		default:
			mi.met.republished.Inc()
		}
		mi.log.Info("keystone "+n.Kind.String(), "number", n.Keystone.Number, "id", id, "txid", t.Txid, "vsize", t.VSize,
			"fee", t.Fee, "fee_rate", t.FeeRate, "input", t.Input.OutPoint, "bumps", t.Bumps,
			"since_keystone", time.Since(ev.SeenAt).Round(time.Millisecond))
	case NoteConfirmed:
		mi.met.confirmed.Inc()
		mi.met.feesPaid.Add(float64(t.Fee))
		ev.BlockHash, ev.Height, ev.SentAt = t.BlockHash, t.Height, mi.sentAt[t.Txid]
		mi.log.Info("keystone publication mined", "number", n.Keystone.Number, "id", id, "txid", t.Txid,
			"btc_block", t.BlockHash, "btc_height", t.Height, "vsize", t.VSize, "fee", t.Fee)
		delete(mi.sentAt, t.Txid)
		mi.pruneSeen()
	case NoteWaitingFee:
		mi.met.waiting.Set(1)
		mi.log.Warn("keystone waits: fee estimate above the cap", "number", n.Keystone.Number, "id", id,
			"fee_rate", n.FeeRate, "max_fee_rate", mi.cfg.MaxFeeRate)
	case NoteNoFunds:
		mi.met.waiting.Set(1)
		mi.log.Warn("keystone waits: wallet cannot pay", "number", n.Keystone.Number, "err", n.Err,
			"address", mi.cfg.Wallet.Address().EncodeAddress())
	case NoteConflicted:
		mi.met.refused.Inc()
		mi.log.Warn("pop transaction's input spent by another transaction; dropped", "txid", t.Txid,
			"number", n.Keystone.Number, "err", n.Err)
	case NoteRefused:
		mi.met.refused.Inc()
		mi.log.Warn("network refused a pop transaction; dropped", "txid", t.Txid, "number", n.Keystone.Number, "err", n.Err)
	case NoteBumpRefused:
		mi.met.refused.Inc()
		mi.log.Warn("network refused a fee bump; keeping the original", "txid", t.Txid, "err", n.Err)
	case NoteBumpCapped:
		mi.log.Warn("fee bump waits: above the cap or the coin", "txid", t.Txid, "fee_rate", n.FeeRate, "err", n.Err)
	}
	if mi.cfg.OnEvent != nil {
		mi.cfg.OnEvent(ev)
	}
}

// pruneSeen bounds the timing maps (they only feed Event times).
func (mi *Miner) pruneSeen() {
	if len(mi.seen) >= 1024 {
		clear(mi.seen)
	}
	if len(mi.sentAt) >= 1024 {
		clear(mi.sentAt)
	}
}

// pumpKeystones forwards the node's keystones, reconnecting after a pause
// when the source fails.
func (mi *Miner) pumpKeystones(ctx context.Context, out chan<- pop.L2Keystone) {
	for ctx.Err() == nil {
		ch, err := mi.cfg.Keystones.Keystones(ctx)
		if err != nil {
			mi.log.Warn("keystone source failed; retrying", "err", err, "in", retryPause)
		} else {
			for k := range ch {
				select {
				case out <- k:
				case <-ctx.Done():
					return
				}
			}
			if ctx.Err() == nil {
				mi.log.Warn("keystone source closed; reconnecting", "in", retryPause)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(retryPause):
		}
	}
}

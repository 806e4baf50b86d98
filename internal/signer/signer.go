package signer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/prometheus/client_golang/prometheus"

	metricsreg "github.com/hemi-go/hemi/internal/metrics"
	"github.com/hemi-go/hemi/internal/tunnel"
)

// ErrConfig is an invalid Config.
var ErrConfig = errors.New("signer: invalid config")

// Defaults of Config.
const (
	DefaultPoll        = 2 * time.Second
	DefaultRebroadcast = 30 * time.Second
)

// Config configures a Signer; it is not changed after New.
type Config struct {
	// Key is this signer's committee key (BIP-340; its x-only public key
	// must be one of the vault's signers).
	Key *btcec.PrivateKey
	// Vault is the tunnel vault of the network's genesis.
	Vault tunnel.VaultScripts
	// Node is the signer's own node.
	Node Node
	// DataDir holds what the signer signed (required: restart safety).
	DataDir string
	// Poll is how often the loop looks at the node; 0 means DefaultPoll.
	Poll time.Duration
	// Rebroadcast is how often an assembled, unmined payout is sent
	// again; 0 means DefaultRebroadcast.
	Rebroadcast time.Duration
	// Logger receives the signer's logs; nil means slog.Default().
	Logger *slog.Logger
	// Registerer registers the signer's metrics; nil means none.
	Registerer prometheus.Registerer
}

type metrics struct {
	signed, posted, assembled, broadcasts, badSets, reorged prometheus.Counter
	refused                                                 *prometheus.CounterVec
}

// Signer is one committee member's signing and assembling loop.
type Signer struct {
	cfg   Config
	log   *slog.Logger
	st    *store
	keys  [][32]byte // committee keys in leaf order (signer index order)
	k     int
	index uint8
	m     metrics

	refusedSeen   map[string]bool              // (batch, attempt, reason) already logged
	lastBroadcast map[chainhash.Hash]time.Time // payouts sent, when
	minedSeen     map[chainhash.Hash]time.Time // payouts seen in the best chain, when last
}

// New checks cfg, finds the key's signer index and opens the store.
func New(cfg Config) (*Signer, error) {
	switch {
	case cfg.Key == nil:
		return nil, fmt.Errorf("%w: no signing key", ErrConfig)
	case cfg.Vault == nil:
		return nil, fmt.Errorf("%w: no vault (the genesis has no tunnel section?)", ErrConfig)
	case cfg.Node == nil:
		return nil, fmt.Errorf("%w: no node", ErrConfig)
	case cfg.DataDir == "":
		return nil, fmt.Errorf("%w: no data directory (the signer must remember what it signed)", ErrConfig)
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.Rebroadcast <= 0 {
		cfg.Rebroadcast = DefaultRebroadcast
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	keys, k, err := tunnel.CommitteeKeys(cfg.Vault)
	if err != nil {
		return nil, err
	}
	me := tunnel.XOnly(cfg.Key.PubKey())
	index := -1
	for i, key := range keys {
		if key == me {
			index = i
		}
	}
	if index < 0 {
		return nil, fmt.Errorf("%w: key %x is not one of the vault's %d signers", ErrConfig, me, len(keys))
	}
	log := cfg.Logger.With("subsystem", "signer", "index", index)
	st, err := openStore(cfg.DataDir, log)
	if err != nil {
		return nil, err
	}
	r := cfg.Registerer
	c := func(name, help string) prometheus.Counter { return metricsreg.Counter(r, "signer", name, help) }
	s := &Signer{
		cfg: cfg, log: log, st: st, keys: keys, k: k, index: uint8(index),
		m: metrics{
			signed:     c("signed_total", "Payout attempts this signer signed."),
			posted:     c("posted_total", "postSignatures transactions sent."),
			assembled:  c("assembled_total", "Payouts assembled from k good posted signature sets."),
			broadcasts: c("broadcasts_total", "Payout broadcasts through the node's Bitcoin API."),
			badSets:    c("bad_signature_sets_total", "Posted signature sets that did not verify (dropped)."),
			reorged:    c("reorged_payouts_total", "Payouts seen mined, then reorged out of the best chain and broadcast again."),
			refused: metricsreg.Register(r, prometheus.NewCounterVec(prometheus.CounterOpts{
				Namespace: "hemi", Subsystem: "signer", Name: "refused_total",
				Help: "Payout attempts refused, by reason.",
			}, []string{"reason"})),
		},
		refusedSeen:   map[string]bool{},
		lastBroadcast: map[chainhash.Hash]time.Time{},
		minedSeen:     map[chainhash.Hash]time.Time{},
	}
	log.Info("tunnel signer ready", "key", fmt.Sprintf("%x", me), "committee", len(keys), "k", k)
	return s, nil
}

// Index is this signer's index in the committee leaf (postSignatures').
func (s *Signer) Index() uint8 { return s.index }

// Run steps until ctx is done, then closes the store. A step that fails
// (the node unreachable) is logged and retried at the next poll.
func (s *Signer) Run(ctx context.Context) error {
	defer s.st.close()
	t := time.NewTicker(s.cfg.Poll)
	defer t.Stop()
	for {
		if err := s.Step(ctx, time.Now()); err != nil && ctx.Err() == nil {
			s.log.Warn("signer step failed; retrying", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Close releases the store (for callers that used Step without Run).
func (s *Signer) Close() error { return s.st.close() }

// Step looks at the open batch once: signs and posts it if every check
// passes and it has not posted for this attempt yet, then assembles and
// broadcasts it when k good signature sets are posted. now paces the
// re-broadcasts.
func (s *Signer) Step(ctx context.Context, now time.Time) error {
	b, err := s.cfg.Node.OpenBatch(ctx)
	if err != nil {
		return fmt.Errorf("read open batch: %w", err)
	}
	if b == nil || !b.Open {
		return nil
	}
	log := s.log.With("batch", b.Number, "attempt", b.Attempt)
	tx, err := tunnel.BuildPayout(b, s.cfg.Vault)
	if err != nil {
		s.refuse(log, b, &RefusalError{Kind: RefuseDerivation, Output: -1, Detail: err.Error()})
		return nil
	}
	txid := tx.TxHash()
	rec, signed, err := s.st.get(b.Number, b.Attempt)
	if err != nil {
		return err
	}
	if signed && rec.Txid != txid {
		// Never sign a second transaction for one attempt. This means the
		// node's state changed under an attempt number: a bug or an attack.
		log.Error("payout differs from the one signed for this attempt; refusing", "signed", rec.Txid, "derived", txid)
		s.refuse(log, b, &RefusalError{Kind: RefuseDerivation, Output: -1, Detail: fmt.Sprintf("signed %s for this attempt, now derives %s", rec.Txid, txid)})
		return nil
	}
	if !signed {
		claims, err := s.cfg.Node.Claims(ctx, b)
		if err != nil {
			return fmt.Errorf("read claims: %w", err)
		}
		fin, err := s.cfg.Node.Finalized(ctx)
		if err != nil {
			return fmt.Errorf("read finalized block: %w", err)
		}
		if err := CheckPayout(b, tx, claims, fin); err != nil {
			var r *RefusalError
			if errors.As(err, &r) {
				s.refuse(log, b, r)
				return nil
			}
			return err
		}
	}
	prevouts := tunnel.PayoutPrevouts(b, s.cfg.Vault)
	posted, err := s.cfg.Node.Posted(ctx, b.Number, b.Attempt)
	if err != nil {
		return fmt.Errorf("read posted signatures: %w", err)
	}
	good := s.goodSets(log, tx, prevouts, posted)
	if _, mine := good[s.keys[s.index]]; !mine {
		sigs, err := tunnel.SignPayout(tx, prevouts, s.cfg.Vault, s.cfg.Key)
		if err != nil {
			return err
		}
		if !signed {
			// The record first, synced: after a crash from here on, a
			// restart finds it and signs nothing else for this attempt.
			if err := s.st.put(b.Number, b.Attempt, record{Txid: txid}); err != nil {
				return err
			}
			s.m.signed.Inc()
			log.Info("payout checked and signed", "txid", txid, "outputs", len(b.Outputs), "inputs", len(b.Inputs), "fee_rate", b.FeeRate)
		}
		if err := s.cfg.Node.Post(ctx, b.Number, b.Attempt, s.index, sigs); err != nil {
			return fmt.Errorf("post signatures: %w", err)
		}
		s.m.posted.Inc()
		good[s.keys[s.index]] = sigs
	}
	if len(good) < s.k {
		return nil
	}
	return s.assemble(ctx, log, tx, prevouts, good, now)
}

// refuse logs a refusal once per (batch, attempt, reason) and counts it.
func (s *Signer) refuse(log *slog.Logger, b *tunnel.Batch, r *RefusalError) {
	key := fmt.Sprintf("%d/%d/%s", b.Number, b.Attempt, r.Kind)
	if s.refusedSeen[key] {
		return
	}
	s.refusedSeen[key] = true
	s.m.refused.WithLabelValues(string(r.Kind)).Inc()
	log.Warn("refusing to sign payout", "reason", string(r.Kind), "output", r.Output, "id", r.ID, "detail", r.Detail)
}

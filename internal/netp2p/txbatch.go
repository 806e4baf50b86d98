package netp2p

import (
	"crypto/ecdsa"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/lru"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/golang/snappy"

	"github.com/hemi-go/hemi/internal/chain/block"
)

// Pending-transaction feed limits (doc.go "Pending-transaction feed").
const (
	// MaxTxBatchTxs is the most transactions one batch may carry.
	MaxTxBatchTxs = 1024
	// MaxTxBatchSize is the largest decompressed batch (RLP) accepted,
	// and, compressed, the largest message: 1,024 transactions of 1 KB.
	MaxTxBatchSize = 1 << 20
	// MaxTxBatchAge is how far a batch's time may be from the local
	// clock, either way: an older batch (a replay once the seen cache
	// forgot it) is ignored without being checked further.
	MaxTxBatchAge = time.Minute
	// TxBatchSeenCache is how many accepted batch hashes are remembered.
	TxBatchSeenCache = 4096
	// txBatchDomain separates the batch seal's hash from every other
	// signed hash of the chain.
	txBatchDomain = "hemi/txbatch/1"
)

// ErrTxBatch: a batch message that does not decode or breaks a limit
// (Reject).
var ErrTxBatch = errors.New("netp2p: malformed transaction batch")

// TxBatch is one announcement of the pending-transaction feed: the
// transactions a sequencer's pool accepted, in the order it accepted
// them, sealed once by its seal key.
type TxBatch struct {
	// Time is when the batch was sealed, in Unix milliseconds.
	Time uint64
	// Txs are the transactions.
	Txs []*types.Transaction
	// Sig is the sequencer's 65-byte signature over Hash.
	Sig []byte

	raw [][]byte // the transactions' binary encodings, as signed
}

// wireTxBatch is a batch before compression: RLP([time, [tx...], sig])
// with each transaction in its binary (EIP-2718) encoding.
type wireTxBatch struct {
	Time uint64
	Txs  [][]byte
	Sig  []byte
}

// txBatchHash is what a batch's seal signs: keccak256(RLP([domain,
// genesis hash, time, [tx...]])). The genesis hash binds it to one
// network (a batch of another recovers to a stranger).
func txBatchHash(genesis common.Hash, time uint64, raw [][]byte) common.Hash {
	enc, err := rlp.EncodeToBytes([]any{txBatchDomain, genesis, time, raw})
	if err != nil {
		// Byte strings and integers always encode.
		panic("netp2p: encode batch hash: " + err.Error())
	}
	return crypto.Keccak256Hash(enc)
}

// Hash is the batch's sealed hash on the network of genesis.
func (b *TxBatch) Hash(genesis common.Hash) common.Hash { return txBatchHash(genesis, b.Time, b.raw) }

// SealTxBatch builds and seals a batch of txs at time t with key, for
// the network of genesis, and returns its gossip message
// (snappy(RLP(wireTxBatch))) and its hash (TxBatch.Hash).
func SealTxBatch(genesis common.Hash, key *ecdsa.PrivateKey, t time.Time, txs []*types.Transaction) ([]byte, common.Hash, error) {
	if len(txs) == 0 || len(txs) > MaxTxBatchTxs {
		return nil, common.Hash{}, fmt.Errorf("%w: %d transactions, want 1 to %d", ErrTxBatch, len(txs), MaxTxBatchTxs)
	}
	w := wireTxBatch{Time: uint64(t.UnixMilli()), Txs: make([][]byte, len(txs))}
	for i, tx := range txs {
		enc, err := tx.MarshalBinary()
		if err != nil {
			return nil, common.Hash{}, fmt.Errorf("netp2p: encode transaction %s: %w", tx.Hash(), err)
		}
		w.Txs[i] = enc
	}
	hash := txBatchHash(genesis, w.Time, w.Txs)
	sig, err := crypto.Sign(hash[:], key)
	if err != nil {
		return nil, common.Hash{}, fmt.Errorf("netp2p: seal batch: %w", err)
	}
	w.Sig = sig
	raw, err := rlp.EncodeToBytes(&w)
	if err != nil {
		return nil, common.Hash{}, fmt.Errorf("netp2p: encode batch: %w", err)
	}
	if len(raw) > MaxTxBatchSize {
		return nil, common.Hash{}, fmt.Errorf("%w: batch of %d transactions is %d bytes, limit %d", ErrTooLarge, len(txs), len(raw), MaxTxBatchSize)
	}
	return snappy.Encode(nil, raw), hash, nil
}

// DecodeTxBatch decodes a batch message: sizes are checked before
// allocating (compressed, then the length snappy's header announces),
// trailing bytes are refused, every transaction must decode and be of a
// type the pool accepts (no blob transactions). It checks no signature
// and never panics: the whole message comes from an untrusted peer.
func DecodeTxBatch(data []byte) (*TxBatch, error) {
	raw, err := decompress(data, MaxTxBatchSize, MaxTxBatchSize, ErrTxBatch)
	if err != nil {
		return nil, fmt.Errorf("batch: %w", err)
	}
	var w wireTxBatch
	if err := rlp.DecodeBytes(raw, &w); err != nil {
		return nil, fmt.Errorf("%w: rlp: %w", ErrTxBatch, err)
	}
	if len(w.Txs) == 0 {
		return nil, fmt.Errorf("%w: no transactions", ErrTxBatch)
	}
	if len(w.Txs) > MaxTxBatchTxs {
		return nil, fmt.Errorf("%w: %d transactions, limit %d", ErrTooLarge, len(w.Txs), MaxTxBatchTxs)
	}
	if len(w.Sig) != crypto.SignatureLength {
		return nil, fmt.Errorf("%w: seal of %d bytes, want %d", ErrTxBatch, len(w.Sig), crypto.SignatureLength)
	}
	b := &TxBatch{Time: w.Time, Sig: w.Sig, raw: w.Txs, Txs: make([]*types.Transaction, len(w.Txs))}
	for i, enc := range w.Txs {
		tx := new(types.Transaction)
		if err := tx.UnmarshalBinary(enc); err != nil {
			return nil, fmt.Errorf("%w: transaction %d: %w", ErrTxBatch, i, err)
		}
		if tx.Type() == types.BlobTxType {
			return nil, fmt.Errorf("%w: transaction %d is a blob transaction", ErrTxBatch, i)
		}
		b.Txs[i] = tx
	}
	return b, nil
}

// TxDecision is the TxGate's answer about one batch message.
type TxDecision struct {
	Verdict Verdict
	Reason  string
	Err     error
	// Batch is the decoded batch (nil when it did not decode).
	Batch *TxBatch
	// Signer is the sequencer that sealed it (when the seal was checked).
	Signer common.Address
}

func (d TxDecision) with(v Verdict, reason string, err error) TxDecision {
	d.Verdict, d.Reason, d.Err = v, reason, err
	return d
}

// ReasonStale: a batch whose time is more than MaxTxBatchAge from the
// local clock.
const ReasonStale = "stale"

// TxGate is the feed's validator state machine: pure rules over the
// message and the time it is given, plus the seen cache. One signature
// recovery per message at most, and only for a message that decoded, is
// new and is recent; no I/O, no clock. Safe for concurrent use.
type TxGate struct {
	genesis    common.Hash
	sequencers map[common.Address]bool

	mu   sync.Mutex
	seen lru.BasicLRU[common.Hash, struct{}]
}

// NewTxGate returns a gate accepting batches of the network of genesis
// sealed by sequencers.
func NewTxGate(genesis common.Hash, sequencers []common.Address) *TxGate {
	g := &TxGate{genesis: genesis, sequencers: map[common.Address]bool{}, seen: lru.NewBasicLRU[common.Hash, struct{}](TxBatchSeenCache)}
	for _, s := range sequencers {
		g.sequencers[s] = true
	}
	return g
}

// Check judges one batch message at local time now, in the order of
// doc.go's table. A batch is marked seen only when accepted: a copy
// with a junk seal has the same hash as the real one, which must still
// get through after it.
func (g *TxGate) Check(data []byte, now time.Time) TxDecision {
	b, err := DecodeTxBatch(data)
	if err != nil {
		reason := ReasonMalformed
		if errors.Is(err, ErrTooLarge) {
			reason = ReasonTooLarge
		}
		return TxDecision{Verdict: Reject, Reason: reason, Err: err}
	}
	d := TxDecision{Batch: b}
	hash := b.Hash(g.genesis)
	g.mu.Lock()
	_, seen := g.seen.Get(hash)
	g.mu.Unlock()
	if seen {
		return d.with(Ignore, ReasonSeen, fmt.Errorf("batch %s already accepted", hash))
	}
	at := time.UnixMilli(int64(min(b.Time, uint64(1)<<62)))
	if age := now.Sub(at); age > MaxTxBatchAge || age < -MaxTxBatchAge {
		return d.with(Ignore, ReasonStale, fmt.Errorf("batch %s sealed at %s, %s from the local clock (limit %s)", hash, at.UTC().Format(time.RFC3339), age.Round(time.Millisecond), MaxTxBatchAge))
	}
	signer, err := block.RecoverSeal(hash, b.Sig)
	if err != nil {
		return d.with(Reject, ReasonBadSeal, fmt.Errorf("batch %s: %w", hash, err))
	}
	d.Signer = signer
	if !g.sequencers[signer] {
		return d.with(Reject, ReasonUnknownSequencer, fmt.Errorf("batch %s sealed by %s, not a sequencer of the genesis", hash, signer))
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, seen := g.seen.Get(hash); seen { // accepted meanwhile by a concurrent validation
		return d.with(Ignore, ReasonSeen, fmt.Errorf("batch %s already accepted", hash))
	}
	g.seen.Add(hash, struct{}{})
	return d.with(Accept, ReasonOK, nil)
}

// MarkLocal records a batch this node publishes, so its echo is ignored.
func (g *TxGate) MarkLocal(hash common.Hash) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.seen.Add(hash, struct{}{})
}

package popm

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/mempool"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hemi-go/hemi/internal/pop"
)

// Tx is one PoP transaction of the miner, unconfirmed or confirmed.
type Tx struct {
	Seq      uint64         `json:"seq"` // creation order
	Txid     chainhash.Hash `json:"txid"`
	Raw      []byte         `json:"raw"` // the signed transaction
	Keystone pop.L2Keystone `json:"keystone"`
	Input    Coin           `json:"input"`
	Change   Coin           `json:"change"` // output 1
	Fee      int64          `json:"fee"`
	FeeRate  int64          `json:"fee_rate"` // sat/vB paid for PoPVSize
	VSize    int64          `json:"vsize"`    // measured
	// SentHeight is the Bitcoin tip height when it was last (re)sent:
	// bumping counts blocks from it.
	SentHeight int32 `json:"sent_height"`
	// Accepted: a peer took it into its mempool since it was last sent.
	Accepted bool `json:"accepted"`
	// Height and BlockHash locate it in the Bitcoin chain (0: unconfirmed).
	Height    int32          `json:"height"`
	BlockHash chainhash.Hash `json:"block_hash"`
	Bumps     int            `json:"bumps"`
	// Replaces is the chain of unconfirmed transactions this replacement
	// (RBF bump) evicts; they come back if the network refuses it or one
	// of them is mined anyway. Cleared when it confirms.
	Replaces []*Tx `json:"replaces,omitempty"`
}

// MsgTx decodes the signed transaction.
func (t *Tx) MsgTx() (*wire.MsgTx, error) {
	var tx wire.MsgTx
	if err := tx.Deserialize(bytes.NewReader(t.Raw)); err != nil {
		return nil, fmt.Errorf("popm: stored tx %s: %w", t.Txid, err)
	}
	return &tx, nil
}

func (t *Tx) changeOutpoint() wire.OutPoint { return t.Change.OutPoint }

// State is everything the miner knows; it is persisted after every step.
type State struct {
	// Wallet is the output script of the wallet the state belongs to.
	Wallet []byte `json:"wallet"`
	// Latest is the newest keystone the node delivered (nil: none yet).
	Latest *pop.L2Keystone `json:"latest,omitempty"`
	// Txs are the miner's transactions not yet buried KeepDepth deep, in
	// Seq order.
	Txs     []*Tx  `json:"txs"`
	NextSeq uint64 `json:"next_seq"`
	// Buried is the keystone of the last transaction buried KeepDepth
	// deep and no longer watched: it needs no new publication.
	Buried [32]byte `json:"buried"`
	// TipHash and TipHeight are the Bitcoin tip of the last snapshot.
	TipHash   chainhash.Hash `json:"tip_hash"`
	TipHeight int32          `json:"tip_height"`
	HaveTip   bool           `json:"have_tip"`
	// Coins are the wallet's confirmed unspent outputs as of the tip.
	Coins []Coin `json:"coins"`
	// FeeRate is the latest estimate for the confirmation target (sat/vB).
	FeeRate int64 `json:"fee_rate"`
	// Bad are inputs the network refused since the last snapshot.
	Bad []wire.OutPoint `json:"bad,omitempty"`
	// Wait and WaitBump remember the last waiting reasons reported, so
	// each is reported once, not at every event.
	Wait     string `json:"wait,omitempty"`
	WaitBump string `json:"wait_bump,omitempty"`
}

// MachineConfig are the machine's policy parameters.
type MachineConfig struct {
	// MaxFeeRate caps every transaction's fee rate (sat/vB). Above it a
	// keystone waits and a bump is not made.
	MaxFeeRate int64
	// BumpBlocks is how many Bitcoin blocks an unconfirmed transaction
	// may wait before it is replaced at a higher fee rate.
	BumpBlocks int32
	// KeepDepth is how many confirmations a transaction needs before the
	// miner stops watching it for reorgs.
	KeepDepth int32
	// MaxChain bounds the chain of unconfirmed transactions built on
	// each other's change (Bitcoin Core's ancestor limit is 25).
	MaxChain int
}

// Input is an event fed to the machine: KeystoneEvent, TipEvent,
// BroadcastEvent or TickEvent.
type Input interface{ isEvent() }

// KeystoneEvent delivers a new canonical keystone.
type KeystoneEvent struct{ Keystone pop.L2Keystone }

// Mined locates a transaction in the chain as of a tip.
type Mined struct {
	Height    int32
	BlockHash chainhash.Hash
}

// TipEvent is a snapshot of the Bitcoin chain as of a new tip (a block
// connected or a reorg): the wallet's confirmed unspent outputs, where
// each watched transaction (Watched) is mined, and the fee estimate. All
// of it must be read as of the same tip. Connected and disconnected
// blocks are folded into it: a transaction mined before and absent now
// was removed by a reorg.
type TipEvent struct {
	Hash   chainhash.Hash
	Height int32
	Coins  []Coin
	Mined  map[chainhash.Hash]Mined
	// Spent names, for inputs of watched unconfirmed transactions, the
	// transaction that spends them in the chain as of the tip.
	Spent   map[wire.OutPoint]chainhash.Hash
	FeeRate int64
}

// BroadcastEvent reports what the network did with a sent transaction.
type BroadcastEvent struct {
	Txid    chainhash.Hash
	Verdict Verdict
	Reason  string
}

// TickEvent updates the fee estimate between blocks.
type TickEvent struct{ FeeRate int64 }

func (KeystoneEvent) isEvent()  {}
func (TipEvent) isEvent()       {}
func (BroadcastEvent) isEvent() {}
func (TickEvent) isEvent()      {}

// Verdict is the network's answer to a broadcast.
type Verdict uint8

// Verdicts.
const (
	VerdictUnknown  Verdict = iota // no peer answered; resent at the next block
	VerdictAccepted                // in a mempool, or mined
	VerdictRejected                // refused (conflict, fee, invalid)
)

// NoteKind classifies what a step did, for logs, metrics and callers.
type NoteKind uint8

// Note kinds.
const (
	NotePublished   NoteKind = iota + 1 // a new keystone transaction was built
	NoteBumped                          // an unconfirmed chain was replaced at a higher fee
	NoteRepublished                     // a reorg removed a mined transaction; it is sent again
	NoteConfirmed                       // a transaction was mined
	NoteWaitingFee                      // the fee estimate is above the cap: the keystone waits
	NoteNoFunds                         // no coin can pay for a PoP transaction
	NoteRefused                         // the network refused a new transaction; dropped
	NoteBumpRefused                     // the network refused a replacement; the old chain stays
	NoteBumpCapped                      // a bump would exceed the fee cap or the coin
	NoteConflicted                      // another transaction spent the input in the chain; dropped
)

func (k NoteKind) String() string {
	return [...]string{"", "published", "bumped", "republished", "confirmed", "waiting-fee",
		"no-funds", "refused", "bump-refused", "bump-capped", "conflicted"}[k]
}

// Note is one thing a step did.
type Note struct {
	Kind     NoteKind
	Tx       Tx // a copy (for tx notes)
	Keystone pop.L2Keystone
	FeeRate  int64 // the estimate, for waits
	Err      error
}

// Output is what a step asks the driver to do and report.
type Output struct {
	// Send are transactions to broadcast, in order; each result comes
	// back as a BroadcastEvent.
	Send  []*Tx
	Notes []Note
}

// Machine is the PoP miner's core: what to publish, when to bump and
// when to republish, and which coin to spend. It is a pure state machine:
// no goroutines, clocks or I/O; the driver feeds it events and carries
// out its Output. Not safe for concurrent use.
type Machine struct {
	cfg MachineConfig
	w   *Wallet
	s   State
}

// NewMachine resumes from s (the zero State for a new miner).
func NewMachine(cfg MachineConfig, w *Wallet, s State) *Machine {
	if cfg.MaxChain <= 0 {
		cfg.MaxChain = 20
	}
	if cfg.KeepDepth <= 0 {
		cfg.KeepDepth = 12
	}
	if cfg.BumpBlocks <= 0 {
		cfg.BumpBlocks = DefaultBumpBlocks
	}
	return &Machine{cfg: cfg, w: w, s: s}
}

// State returns the machine's state (shared: do not modify).
func (m *Machine) State() *State { return &m.s }

// Restart is the first step after a (re)start: it resends every
// unconfirmed transaction, since a crash may have come between
// persisting a transaction and sending it.
func (m *Machine) Restart() Output {
	var out Output
	for _, t := range m.s.Txs {
		if t.Height == 0 {
			t.Accepted = false
			out.Send = append(out.Send, t)
		}
	}
	return out
}

// Step applies one event and decides.
func (m *Machine) Step(ev Input) Output {
	var out Output
	switch e := ev.(type) {
	case KeystoneEvent:
		k := e.Keystone
		m.s.Latest = &k
	case TickEvent:
		if e.FeeRate > 0 {
			m.s.FeeRate = e.FeeRate
		}
	case TipEvent:
		m.applyTip(e, &out)
	case BroadcastEvent:
		m.applyVerdict(e, &out)
		return out // decide again at the next event, not in a retry loop
	}
	m.decide(&out)
	return out
}

func (m *Machine) applyTip(e TipEvent, out *Output) {
	m.s.TipHash, m.s.TipHeight, m.s.HaveTip = e.Hash, e.Height, true
	m.s.Coins = slices.Clone(e.Coins)
	if e.FeeRate > 0 {
		m.s.FeeRate = e.FeeRate
	}
	m.s.Bad = nil
	// A replaced transaction mined anyway invalidates its replacement:
	// bring the old chain back.
	for i := 0; i < len(m.s.Txs); i++ {
		t := m.s.Txs[i]
		if t.Height != 0 || len(t.Replaces) == 0 {
			continue
		}
		if _, mined := e.Mined[t.Txid]; mined {
			continue
		}
		for _, r := range t.Replaces {
			if _, mined := e.Mined[r.Txid]; mined {
				m.restore(t)
				i = -1 // Txs changed; rescan
				break
			}
		}
	}
	// An unconfirmed transaction whose input the chain spends otherwise
	// (a double spend, or a reorg that took its input away) can never
	// confirm: drop it and its chain; decide publishes the newest
	// keystone again from another coin.
	for _, t := range slices.Clone(m.s.Txs) {
		if _, mined := e.Mined[t.Txid]; mined || m.find(t.Txid) == nil {
			continue
		}
		by, spent := e.Spent[t.Input.OutPoint]
		if !spent || by == t.Txid {
			continue
		}
		for _, d := range m.descendants(t) {
			m.remove(d.Txid)
		}
		out.Notes = append(out.Notes, Note{Kind: NoteConflicted, Tx: *t, Keystone: t.Keystone,
			Err: fmt.Errorf("popm: input %s of %s is spent by %s", t.Input.OutPoint, t.Txid, by)})
	}
	var keep []*Tx
	for _, t := range m.s.Txs {
		mi, mined := e.Mined[t.Txid]
		switch {
		case mined && (t.Height == 0 || t.BlockHash != mi.BlockHash):
			first := t.Height == 0
			t.Height, t.BlockHash = mi.Height, mi.BlockHash
			t.Replaces = nil
			if first {
				out.Notes = append(out.Notes, Note{Kind: NoteConfirmed, Tx: *t, Keystone: t.Keystone})
			}
		case !mined && t.Height != 0:
			// A reorg removed it: send it again (its input is ours and
			// still unspent unless the reorg also removed the input, in
			// which case the network refuses it and it is dropped).
			t.Height, t.BlockHash = 0, chainhash.Hash{}
			t.SentHeight, t.Accepted = e.Height, false
			out.Send = append(out.Send, t)
			out.Notes = append(out.Notes, Note{Kind: NoteRepublished, Tx: *t, Keystone: t.Keystone})
		case !mined && !t.Accepted:
			out.Send = append(out.Send, t) // no verdict yet: try again
		}
		if t.Height != 0 && e.Height-t.Height+1 >= m.cfg.KeepDepth {
			m.s.Buried = t.Keystone.ID
			continue // buried: stop watching
		}
		keep = append(keep, t)
	}
	m.s.Txs = keep
}

// restore puts back the chain replacement r evicted, dropping r and every
// transaction built on its change (they spend an output that will never
// exist); decide publishes the newest keystone again if it was theirs.
func (m *Machine) restore(r *Tx) {
	for _, d := range m.descendants(r) {
		m.remove(d.Txid)
	}
	for _, old := range r.Replaces {
		old.Accepted = false
		m.s.Txs = append(m.s.Txs, old)
	}
	slices.SortFunc(m.s.Txs, func(a, b *Tx) int { return cmp.Compare(a.Seq, b.Seq) })
}

func (m *Machine) find(txid chainhash.Hash) *Tx {
	for _, t := range m.s.Txs {
		if t.Txid == txid {
			return t
		}
	}
	return nil
}

func (m *Machine) remove(txid chainhash.Hash) {
	m.s.Txs = slices.DeleteFunc(m.s.Txs, func(t *Tx) bool { return t.Txid == txid })
}

// descendants returns t and every unconfirmed transaction built on its
// change, in Seq order.
func (m *Machine) descendants(t *Tx) []*Tx {
	set := []*Tx{t}
	ids := map[chainhash.Hash]bool{t.Txid: true}
	for _, u := range m.s.Txs {
		if u.Seq > t.Seq && u.Height == 0 && ids[u.Input.OutPoint.Hash] {
			set = append(set, u)
			ids[u.Txid] = true
		}
	}
	return set
}

func (m *Machine) applyVerdict(e BroadcastEvent, out *Output) {
	t := m.find(e.Txid)
	if t == nil {
		return
	}
	switch e.Verdict {
	case VerdictAccepted:
		t.Accepted = true
	case VerdictRejected:
		err := fmt.Errorf("popm: network refused %s: %s", t.Txid, e.Reason)
		if len(t.Replaces) > 0 {
			m.restore(t)
			// Wait another BumpBlocks before trying again.
			t.Replaces[0].SentHeight = m.s.TipHeight
			out.Notes = append(out.Notes, Note{Kind: NoteBumpRefused, Tx: *t, Keystone: t.Keystone, Err: err})
			return
		}
		for _, d := range m.descendants(t) {
			m.remove(d.Txid)
		}
		m.s.Bad = append(m.s.Bad, t.Input.OutPoint)
		out.Notes = append(out.Notes, Note{Kind: NoteRefused, Tx: *t, Keystone: t.Keystone, Err: err})
	}
}

// carried reports whether a live transaction publishes keystone id.
func (m *Machine) carried(id [32]byte) bool {
	if m.s.Buried == id {
		return true
	}
	for _, t := range m.s.Txs {
		if t.Keystone.ID == id {
			return true
		}
	}
	return false
}

func (m *Machine) rate() int64 { return max(m.s.FeeRate, 1) }

// decide bumps a stuck chain and publishes the newest keystone if no
// transaction carries it yet. Older keystones that never got published
// are skipped on purpose: the newest commits to them (DESIGN 4).
func (m *Machine) decide(out *Output) {
	if !m.s.HaveTip {
		return
	}
	m.bump(out)
	k := m.s.Latest
	if k == nil || m.carried(k.ID) {
		return
	}
	rate := m.rate()
	if rate > m.cfg.MaxFeeRate {
		m.wait(out, fmt.Sprintf("fee %x", k.ID), Note{Kind: NoteWaitingFee, Keystone: *k, FeeRate: rate})
		return
	}
	coin, ok := m.pickCoin(rate)
	if !ok {
		err := fmt.Errorf("%w: no unspent output of at least %d sat; send bitcoin to %s",
			ErrWalletEmpty, m.w.MinCoin(rate), m.w.Address().EncodeAddress())
		m.wait(out, fmt.Sprintf("funds %x", k.ID), Note{Kind: NoteNoFunds, Keystone: *k, FeeRate: rate, Err: err})
		return
	}
	t, err := m.build(coin, *k, rate*PoPVSize(m.w.kind))
	if err != nil {
		m.wait(out, fmt.Sprintf("build %x", k.ID), Note{Kind: NoteNoFunds, Keystone: *k, FeeRate: rate, Err: err})
		return
	}
	m.s.Wait = ""
	m.s.Txs = append(m.s.Txs, t)
	out.Send = append(out.Send, t)
	out.Notes = append(out.Notes, Note{Kind: NotePublished, Tx: *t, Keystone: *k})
}

// wait reports a waiting reason once.
func (m *Machine) wait(out *Output, key string, n Note) { report(&m.s.Wait, out, key, n) }

func report(last *string, out *Output, key string, n Note) {
	if *last == key {
		return
	}
	*last = key
	out.Notes = append(out.Notes, n)
}

func (m *Machine) build(coin Coin, k pop.L2Keystone, fee int64) (*Tx, error) {
	msg, err := m.w.BuildPoP(coin, k.K.Script(), fee)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := msg.Serialize(&buf); err != nil {
		return nil, fmt.Errorf("popm: serialize: %w", err)
	}
	txid := msg.TxHash()
	t := &Tx{
		Seq: m.s.NextSeq, Txid: txid, Raw: buf.Bytes(), Keystone: k, Input: coin,
		Change: Coin{OutPoint: wire.OutPoint{Hash: txid, Index: 1}, Value: msg.TxOut[1].Value},
		Fee:    fee, FeeRate: (fee + PoPVSize(m.w.kind) - 1) / PoPVSize(m.w.kind),
		VSize:      mempool.GetTxVirtualSize(btcutil.NewTx(msg)),
		SentHeight: m.s.TipHeight,
	}
	m.s.NextSeq++
	return t, nil
}

// spent reports whether a live transaction spends op.
func (m *Machine) spent(op wire.OutPoint) bool {
	for _, t := range m.s.Txs {
		if t.Input.OutPoint == op {
			return true
		}
	}
	return slices.Contains(m.s.Bad, op)
}

// chainLen is the number of unconfirmed transactions from t back to a
// confirmed input.
func (m *Machine) chainLen(t *Tx) int {
	n := 0
	for t != nil && t.Height == 0 {
		n++
		t = m.find(t.Input.OutPoint.Hash)
	}
	return n
}

// pickCoin chooses the input of a new PoP transaction: the change of the
// newest unconfirmed transaction while the chain is short (chained change:
// it never spends an output another of its transactions spends), else the
// smallest confirmed coin that is large enough.
func (m *Machine) pickCoin(rate int64) (Coin, bool) {
	need := m.w.MinCoin(rate)
	for i := len(m.s.Txs) - 1; i >= 0; i-- {
		t := m.s.Txs[i]
		if t.Height != 0 || m.spent(t.changeOutpoint()) {
			continue
		}
		if t.Change.Value >= need && m.chainLen(t) < m.cfg.MaxChain {
			return t.Change, true
		}
	}
	var best Coin
	found := false
	for _, c := range m.s.Coins {
		if c.Value < need || m.spent(c.OutPoint) {
			continue
		}
		if !found || c.Value < best.Value {
			best, found = c, true
		}
	}
	return best, found
}

// bump replaces the oldest unconfirmed transaction, and every one built on
// it, with one transaction spending the same input and publishing the
// newest keystone, once it has waited BumpBlocks blocks. Its fee follows
// BIP-125: a higher rate than each replaced transaction and an absolute
// fee of at least their sum plus 1 sat/vB of its own size. Capped by
// MaxFeeRate (a rate wanted above it is cut to it, so a fee spike still
// gets the most the operator allows) and by the coin: a fee spike never
// drains the wallet. No bump is made when even the cap is not above the
// replaced chain's rate.
func (m *Machine) bump(out *Output) {
	var root *Tx
	for _, t := range m.s.Txs {
		if t.Height == 0 {
			root = t
			break
		}
	}
	if root == nil || m.s.TipHeight-root.SentHeight < m.cfg.BumpBlocks {
		return
	}
	chain := m.descendants(root)
	var sum, maxRate int64
	for _, t := range chain {
		sum += t.Fee
		maxRate = max(maxRate, t.FeeRate)
	}
	vsize := PoPVSize(m.w.kind)
	// The rate wanted (the estimate, at least +25%), cut at the cap: a
	// spike above the cap still gets the most the operator allows
	// rather than no bump at all. BIP-125 then sets the floor: a higher
	// rate than every replaced transaction, and their fees plus 1 sat/vB
	// of its own size.
	rate := min(max(m.rate(), maxRate+max(1, maxRate/4)), m.cfg.MaxFeeRate)
	fee := max(rate*vsize, sum+vsize, (maxRate+1)*vsize)
	rate = (fee + vsize - 1) / vsize
	k := root.Keystone
	if m.s.Latest != nil {
		k = *m.s.Latest
	}
	if rate > m.cfg.MaxFeeRate {
		report(&m.s.WaitBump, out, root.Txid.String(), Note{Kind: NoteBumpCapped, Tx: *root, Keystone: k, FeeRate: rate,
			Err: fmt.Errorf("popm: bumping %s needs %d sat/vB, above the cap of %d", root.Txid, rate, m.cfg.MaxFeeRate)})
		return
	}
	t, err := m.build(root.Input, k, fee)
	if err != nil {
		report(&m.s.WaitBump, out, root.Txid.String(), Note{Kind: NoteBumpCapped, Tx: *root, Keystone: k, FeeRate: rate, Err: err})
		return
	}
	for _, c := range chain {
		m.remove(c.Txid)
		t.Replaces = append(t.Replaces, c)
	}
	m.s.WaitBump = ""
	t.Bumps = root.Bumps + 1
	m.s.Txs = append(m.s.Txs, t)
	out.Send = append(out.Send, t)
	out.Notes = append(out.Notes, Note{Kind: NoteBumped, Tx: *t, Keystone: k})
}

// errInvariant is returned by check.
var errInvariant = errors.New("popm: state invariant broken")

// check verifies that no two live transactions spend one outpoint and
// that no transaction spends a coin another one replaced away. Tests run
// it after every step.
func (s *State) check() error {
	seen := map[wire.OutPoint]chainhash.Hash{}
	for _, t := range s.Txs {
		if prev, ok := seen[t.Input.OutPoint]; ok {
			return fmt.Errorf("%w: %s and %s both spend %s", errInvariant, prev, t.Txid, t.Input.OutPoint)
		}
		seen[t.Input.OutPoint] = t.Txid
	}
	return nil
}

package p2p

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// Broadcast errors.
var (
	// ErrBroadcastTimeout means no peer gave a verdict in time.
	ErrBroadcastTimeout = errors.New("no peer answered the broadcast in time")
	// ErrBroadcastInProgress means the same transaction is already being
	// broadcast.
	ErrBroadcastInProgress = errors.New("transaction is already being broadcast")
)

// Rejection is a peer's refusal of a broadcast transaction, as sent in its
// reject message (BIP 61).
type Rejection struct {
	Peer   string
	Code   wire.RejectCode
	Reason string
}

// BroadcastResult says what the peers did with a broadcast transaction.
type BroadcastResult struct {
	TxID chainhash.Hash
	// Accepted lists peers that took the transaction into their mempool:
	// they served it back on request, or announced it back to us.
	Accepted []string
	// Rejected lists peers that refused it with a reject message.
	Rejected []Rejection
	// Dropped lists peers that fetched it but then answered our request
	// for it with notfound and sent no reject: an orphan, or a policy
	// without reject messages. btcd and our regtest node serve any mempool
	// tx on request; Bitcoin Core serves only txs it announced to us, so
	// from Core this means "no verdict" rather than "refused".
	Dropped []string
	// Known lists peers that answered our probe, so read our
	// announcement, and still did not fetch the transaction within
	// BroadcastSilence: they already hold it in a form they do not serve
	// (mined in their chain, an orphan) or refused it before and remember
	// that. btcd answers such an announcement with nothing at all, so
	// without this verdict a re-sent transaction would cost the whole
	// BroadcastTimeout.
	Known []string
	// Unanswered lists peers that gave no verdict before the timeout or
	// disconnected.
	Unanswered []string
	// MinedIn is the hash of a block holding the transaction that the
	// chain accepted while we waited, if any.
	MinedIn *chainhash.Hash
}

// OK reports whether the network took the transaction: a peer accepted it
// or it was mined.
func (r BroadcastResult) OK() bool { return len(r.Accepted) > 0 || r.MinedIn != nil }

// String summarizes the result for logs and CLI output.
func (r BroadcastResult) String() string {
	s := fmt.Sprintf("tx %s: accepted by %d peers", r.TxID, len(r.Accepted))
	for _, rej := range r.Rejected {
		s += fmt.Sprintf("; rejected by %s: %s (code %d)", rej.Peer, rej.Reason, rej.Code)
	}
	if len(r.Dropped) > 0 {
		s += fmt.Sprintf("; dropped by %d", len(r.Dropped))
	}
	if len(r.Known) > 0 {
		s += fmt.Sprintf("; already known to %d", len(r.Known))
	}
	if len(r.Unanswered) > 0 {
		s += fmt.Sprintf("; no answer from %d", len(r.Unanswered))
	}
	if r.MinedIn != nil {
		s += fmt.Sprintf("; mined in %s", r.MinedIn)
	}
	return s
}

type verdictKind int

const (
	verdictWaiting verdictKind = iota
	verdictServed              // the peer fetched the tx; our probe is out
	verdictAccepted
	verdictRejected
	verdictDropped
	verdictDisconnected
	verdictKnown
)

type peerVerdict struct {
	kind   verdictKind
	code   wire.RejectCode
	reason string
	// early counts probes sent before the peer fetched the tx; their
	// notfound answers (peers answer in order) say nothing.
	early int
	// probed: the peer answered the probe sent with the announcement, so
	// it has read the announcement.
	probed bool
}

// broadcast is one Broadcast call in progress, guarded by Client.mu.
type broadcast struct {
	tx      *wire.MsgTx
	txid    chainhash.Hash
	peers   map[*peerState]*peerVerdict
	open    int // peers without a final verdict
	minedIn *chainhash.Hash
	done    chan struct{}
	closed  bool
	// silent: BroadcastSilence has passed since the announcement.
	silent bool
}

// setVerdict records ps's verdict unless it already has a final one; a
// peer not announced to (it learned the tx elsewhere) is added. Callers
// hold Client.mu.
func (b *broadcast) setVerdict(ps *peerState, kind verdictKind, code wire.RejectCode, reason string) {
	v := b.peers[ps]
	if v == nil {
		if kind == verdictDisconnected {
			return
		}
		v = &peerVerdict{}
		b.peers[ps] = v
		b.open++
	}
	if v.kind > verdictServed {
		return
	}
	if kind == verdictDropped {
		switch {
		case v.early > 0:
			// The answer to the probe sent with the announcement: the
			// peer has read the announcement. After BroadcastSilence, not
			// having fetched the tx means it knows it.
			v.early--
			v.probed = true
			if !b.silent || v.kind != verdictWaiting {
				return
			}
			kind, reason = verdictKnown, "read the announcement and did not fetch it"
		case v.kind != verdictServed:
			return // a notfound for a tx the peer never fetched says nothing
		}
	}
	v.kind, v.code, v.reason = kind, code, reason
	if kind > verdictServed {
		b.open--
	}
	if b.open == 0 {
		b.finish()
	}
}

// silenceOver marks BroadcastSilence passed: every peer that read the
// announcement (answered the probe) and has not fetched the transaction
// already knows it. Peers that did not answer yet keep waiting (a dead
// connection is not a peer that knows the tx); one that answers the
// probe later is known at once. Callers hold Client.mu.
func (b *broadcast) silenceOver() {
	b.silent = true
	for ps, v := range b.peers {
		if v.kind == verdictWaiting && v.probed {
			b.setVerdict(ps, verdictKnown, 0, "read the announcement and did not fetch it")
		}
	}
}

func (b *broadcast) finish() {
	if !b.closed {
		b.closed = true
		close(b.done)
	}
}

func (b *broadcast) result() BroadcastResult {
	r := BroadcastResult{TxID: b.txid, MinedIn: b.minedIn}
	for ps, v := range b.peers {
		switch v.kind {
		case verdictAccepted:
			r.Accepted = append(r.Accepted, ps.addr)
		case verdictRejected:
			r.Rejected = append(r.Rejected, Rejection{Peer: ps.addr, Code: v.code, Reason: v.reason})
		case verdictDropped:
			r.Dropped = append(r.Dropped, ps.addr)
		case verdictKnown:
			r.Known = append(r.Known, ps.addr)
		default:
			r.Unanswered = append(r.Unanswered, ps.addr)
		}
	}
	sort.Strings(r.Accepted)
	sort.Strings(r.Dropped)
	sort.Strings(r.Known)
	sort.Strings(r.Unanswered)
	sort.Slice(r.Rejected, func(i, j int) bool { return r.Rejected[i].Peer < r.Rejected[j].Peer })
	return r
}

// Broadcast announces tx to every connected peer, serves it to those that
// ask (a peer that already has it says so by serving it back), and waits
// until each has given a verdict, the transaction is mined,
// BroadcastTimeout passes or ctx is done. A peer's verdict comes from its
// reject message, or from asking it for the tx right after serving it
// (peers process a tx before reading the next message, so the answer tells
// whether the tx is in its mempool), or from it announcing the tx back.
// A peer that read the announcement (answered the probe) but fetched
// nothing within BroadcastSilence already knows the tx (Known). After
// Broadcast returns the tx is still served to peers that ask for it late
// (see relayMemory).
//
// It returns ErrNoPeers when no peer is connected, ErrBroadcastTimeout
// (with the partial result) when no peer answered, and ctx's error when ctx
// ends first.
func (c *Client) Broadcast(ctx context.Context, tx *wire.MsgTx) (BroadcastResult, error) {
	if tx == nil {
		return BroadcastResult{}, errors.New("broadcast: nil transaction")
	}
	txid := tx.TxHash()
	c.mu.Lock()
	if !c.running {
		c.mu.Unlock()
		return BroadcastResult{TxID: txid}, ErrNotRunning
	}
	if c.pending[txid] != nil {
		c.mu.Unlock()
		return BroadcastResult{TxID: txid}, fmt.Errorf("broadcast %s: %w", txid, ErrBroadcastInProgress)
	}
	b := &broadcast{tx: tx, txid: txid, peers: make(map[*peerState]*peerVerdict), done: make(chan struct{})}
	var targets []*peerState
	for ps := range c.peers {
		if ps.ready && !ps.banned {
			targets = append(targets, ps)
			b.peers[ps] = &peerVerdict{early: 1}
		}
	}
	b.open = len(targets)
	if len(targets) == 0 {
		c.mu.Unlock()
		return BroadcastResult{TxID: txid}, fmt.Errorf("broadcast %s: %w", txid, ErrNoPeers)
	}
	c.pending[txid] = b
	c.nPending.Add(1)
	runCtx := c.runCtx
	c.mu.Unlock()

	// The inv makes peers fetch the tx; the getdata right behind it is
	// answered with the tx by a peer that already has it in its mempool
	// (it would not fetch it again) and with notfound, which we ignore,
	// by the others.
	inv := wire.NewMsgInv()
	_ = inv.AddInvVect(wire.NewInvVect(wire.InvTypeTx, &txid))
	probe := wire.NewMsgGetData()
	_ = probe.AddInvVect(wire.NewInvVect(wire.InvTypeTx, &txid))
	for _, ps := range targets {
		ps.p.QueueMessage(inv, nil)
		ps.p.QueueMessage(probe, nil)
	}
	c.log.Info("broadcasting transaction", "txid", txid, "peers", len(targets))

	timer := time.NewTimer(c.cfg.BroadcastTimeout)
	defer timer.Stop()
	silence := time.NewTimer(c.cfg.BroadcastSilence)
	defer silence.Stop()
wait:
	for {
		select {
		case <-b.done:
			break wait
		case <-silence.C:
			c.mu.Lock()
			b.silenceOver()
			c.mu.Unlock()
		case <-timer.C:
			break wait
		case <-ctx.Done():
			break wait
		case <-runCtx.Done():
			break wait
		}
	}

	c.mu.Lock()
	delete(c.pending, txid)
	c.nPending.Add(-1)
	c.relayed.add(txid, tx)
	r := b.result()
	c.mu.Unlock()

	outcome := "unanswered"
	switch {
	case r.OK():
		outcome = "accepted"
	case len(r.Rejected) > 0:
		outcome = "rejected"
	case len(r.Dropped) > 0:
		outcome = "dropped"
	case len(r.Known) > 0:
		outcome = "known"
	}
	c.m.broadcasts.WithLabelValues(outcome).Inc()
	c.log.Info("broadcast finished", "txid", txid, "outcome", outcome, "accepted", len(r.Accepted),
		"rejected", len(r.Rejected), "dropped", len(r.Dropped), "known", len(r.Known), "unanswered", len(r.Unanswered))
	if err := ctx.Err(); err != nil {
		return r, fmt.Errorf("broadcast %s: %w", txid, err)
	}
	if outcome == "unanswered" {
		if runCtx.Err() != nil {
			return r, fmt.Errorf("broadcast %s: %w", txid, ErrNotRunning)
		}
		return r, fmt.Errorf("broadcast %s: %w after %s", txid, ErrBroadcastTimeout, c.cfg.BroadcastTimeout)
	}
	return r, nil
}

// onGetData serves transactions we are broadcasting and follows each with
// a getdata probe for the same tx; a transaction whose broadcast ended
// lately is still served (without a probe); everything else gets
// notfound.
func (c *Client) onGetData(ps *peerState, msg *wire.MsgGetData) {
	notFound := wire.NewMsgNotFound()
	for _, iv := range msg.InvList {
		var tx *wire.MsgTx
		probing := false
		if iv.Type == wire.InvTypeTx || iv.Type == wire.InvTypeWitnessTx {
			c.mu.Lock()
			if b := c.pending[iv.Hash]; b != nil {
				tx, probing = b.tx, true
				b.setVerdict(ps, verdictServed, 0, "")
			} else {
				tx = c.relayed.get(iv.Hash)
			}
			c.mu.Unlock()
		}
		if tx == nil {
			_ = notFound.AddInvVect(iv)
			continue
		}
		enc := wire.BaseEncoding
		if iv.Type == wire.InvTypeWitnessTx {
			enc = wire.WitnessEncoding
		}
		ps.p.QueueMessageWithEncoding(tx, nil, enc)
		if probing {
			probe := wire.NewMsgGetData()
			_ = probe.AddInvVect(wire.NewInvVect(wire.InvTypeTx, &iv.Hash))
			ps.p.QueueMessage(probe, nil)
		}
	}
	if len(notFound.InvList) > 0 {
		ps.p.QueueMessage(notFound, nil)
	}
}

// onTx settles a probe: the peer served back a tx we broadcast, so it is in
// its mempool. Other transactions are ignored.
func (c *Client) onTx(ps *peerState, tx *wire.MsgTx) {
	if c.nPending.Load() == 0 {
		return
	}
	txid := tx.TxHash()
	c.mu.Lock()
	if b := c.pending[txid]; b != nil {
		b.setVerdict(ps, verdictAccepted, 0, "served it back")
	}
	c.mu.Unlock()
}

// onReject records a peer's rejection of a transaction we broadcast.
func (c *Client) onReject(ps *peerState, msg *wire.MsgReject) {
	if msg.Cmd != wire.CmdTx {
		c.log.Debug("peer sent reject", "peer", ps.addr, "cmd", msg.Cmd, "code", msg.Code.String(), "reason", msg.Reason)
		return
	}
	c.mu.Lock()
	if b := c.pending[msg.Hash]; b != nil {
		b.setVerdict(ps, verdictRejected, msg.Code, msg.Reason)
	}
	c.mu.Unlock()
}

// settleMinedLocked ends broadcasts whose transaction is in an accepted
// block. Callers hold c.mu.
func (c *Client) settleMinedLocked(blk *wire.MsgBlock, hash chainhash.Hash) {
	for _, tx := range blk.Transactions {
		if b := c.pending[tx.TxHash()]; b != nil && b.minedIn == nil {
			h := hash
			b.minedIn = &h
			b.finish()
		}
	}
}

// relayMemorySize is how many transactions relayMemory keeps.
const relayMemorySize = 256

// relayMemory keeps the last transactions we broadcast, so a peer that
// fetches one after its Broadcast returned (its node was busy, say
// connecting the blocks of a reorg, when our announcement came) still
// gets it, as Bitcoin Core keeps what it relayed for a while. The zero
// value is ready; guarded by Client.mu.
type relayMemory struct {
	txs   map[chainhash.Hash]*wire.MsgTx
	order []chainhash.Hash // oldest first
}

func (m *relayMemory) add(txid chainhash.Hash, tx *wire.MsgTx) {
	if m.txs == nil {
		m.txs = make(map[chainhash.Hash]*wire.MsgTx, relayMemorySize)
	}
	if _, ok := m.txs[txid]; ok {
		return
	}
	if len(m.order) == relayMemorySize {
		delete(m.txs, m.order[0])
		m.order = m.order[1:]
	}
	m.txs[txid] = tx
	m.order = append(m.order, txid)
}

func (m *relayMemory) get(txid chainhash.Hash) *wire.MsgTx { return m.txs[txid] }

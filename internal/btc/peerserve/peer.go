package peerserve

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/peer"
	"github.com/btcsuite/btcd/wire/v2"
)

// maxHeaderAnnounce is how many headers a sendheaders peer is sent for a
// new tip; a peer further behind gets an inv and asks with getheaders.
const maxHeaderAnnounce = 8

// serverPeer is one connected peer and what the server remembers of it.
type serverPeer struct {
	*peer.Peer
	srv *Server
	ctx context.Context

	relayTx atomic.Bool

	// remote is the peer's address (btcd's Addr is not safe to read
	// from other goroutines while the connection is being set up).
	remote string

	// Admission state, guarded by srv.mu (estab is also read by the
	// connection's reader).
	seq         uint64
	ip          string
	loopback    bool
	hsTimer     *time.Timer
	established bool
	released    bool
	estab       atomic.Bool

	mu           sync.Mutex
	continueHash *chainhash.Hash // last block of a full getblocks answer
	// headerSent is the newest block whose header the peer has from us
	// (a getheaders answer or a headers announcement): headers
	// announcements start after it, so they connect. An inv does not
	// move it, since the peer learns no header from an inv.
	headerSent *chainhash.Hash
	lastInv    *chainhash.Hash // newest tip announced by inv
}

func newServerPeer(ctx context.Context, s *Server) *serverPeer {
	sp := &serverPeer{srv: s, ctx: ctx}
	sp.relayTx.Store(true)
	sp.Peer = peer.NewInboundPeer(s.peerConfig(peer.MessageListeners{
		OnVersion:    sp.onVersion,
		OnVerAck:     sp.onVerAck,
		OnGetHeaders: sp.onGetHeaders,
		OnGetBlocks:  sp.onGetBlocks,
		OnGetData:    sp.onGetData,
		OnInv:        sp.onInv,
		OnTx:         sp.onTx,
		OnBlock:      sp.onBlock,
		OnMemPool:    sp.onMemPool,
	}))
	return sp
}

func (sp *serverPeer) onVersion(_ *peer.Peer, msg *wire.MsgVersion) *wire.MsgReject {
	sp.relayTx.Store(!msg.DisableRelayTx)
	return nil
}

// onVerAck counts the peer as established (its handshake is done), then
// asks a peer that started ahead of us for its blocks, when the source
// accepts blocks.
func (sp *serverPeer) onVerAck(_ *peer.Peer, _ *wire.MsgVerAck) {
	if !sp.srv.promote(sp) {
		return
	}
	if _, ok := sp.srv.cfg.Source.(BlockAcceptor); !ok {
		return
	}
	if _, height := sp.srv.cfg.Source.Tip(); sp.StartingHeight() > height {
		sp.requestBlocks()
	}
}

// requestBlocks sends getblocks with a locator of the source's best chain.
func (sp *serverPeer) requestBlocks() {
	if err := sp.PushGetBlocksMsg(buildLocator(sp.srv.cfg.Source), &chainhash.Hash{}); err != nil {
		sp.srv.log.Debug("peerserve getblocks failed", "remote", sp.Addr(), "err", err)
	}
}

func (sp *serverPeer) onGetHeaders(_ *peer.Peer, msg *wire.MsgGetHeaders) {
	src := sp.srv.cfg.Source
	hashes := locate(src, msg.BlockLocatorHashes, &msg.HashStop, wire.MaxBlockHeadersPerMsg)
	out := wire.NewMsgHeaders()
	var prev *chainhash.Hash
	for i := range hashes {
		hdr, err := src.Header(hashes[i])
		if err != nil {
			break
		}
		// A reorg between reading heights and headers would give a
		// chain that does not link; stop where it breaks.
		if prev != nil && hdr.PrevBlock != *prev {
			break
		}
		prev = &hashes[i]
		h := hdr
		if err := out.AddBlockHeader(&h); err != nil {
			break
		}
	}
	sp.QueueMessage(out, nil)
	sp.srv.m.headersServed.Add(float64(len(out.Headers)))
	switch {
	case prev != nil:
		sp.setHeaderSent(*prev)
	default:
		// Nothing new for the peer: it is at its newest locator entry on
		// our best chain, which is where header announcements start.
		for _, h := range msg.BlockLocatorHashes {
			if h == nil {
				continue
			}
			if _, ok := src.HeightOf(*h); ok {
				sp.setHeaderSent(*h)
				break
			}
		}
	}
}

func (sp *serverPeer) onGetBlocks(_ *peer.Peer, msg *wire.MsgGetBlocks) {
	hashes := locate(sp.srv.cfg.Source, msg.BlockLocatorHashes, &msg.HashStop, wire.MaxBlocksPerMsg)
	if len(hashes) == 0 {
		return
	}
	inv := wire.NewMsgInvSizeHint(uint(len(hashes)))
	for i := range hashes {
		if err := inv.AddInvVect(wire.NewInvVect(wire.InvTypeBlock, &hashes[i])); err != nil {
			break
		}
	}
	if len(hashes) == wire.MaxBlocksPerMsg {
		last := hashes[len(hashes)-1]
		sp.mu.Lock()
		sp.continueHash = &last
		sp.mu.Unlock()
	}
	sp.QueueMessage(inv, nil)
}

// onGetData sends what the peer asked for, at most two messages in flight
// so that a large request does not pile blocks up in memory. The peer's
// input handler waits meanwhile, as in btcd's server.
func (sp *serverPeer) onGetData(_ *peer.Peer, msg *wire.MsgGetData) {
	src := sp.srv.cfg.Source
	notFound := wire.NewMsgNotFound()
	var waitPrev chan struct{}
	for _, iv := range msg.InvList {
		var (
			m   wire.Message
			enc = wire.WitnessEncoding
		)
		switch iv.Type {
		case wire.InvTypeWitnessBlock:
			raw, err := src.RawBlock(iv.Hash)
			if err == nil {
				m = rawBlock(raw)
			}
		case wire.InvTypeBlock:
			raw, err := src.RawBlock(iv.Hash)
			if err == nil {
				m = stripWitness(raw)
			}
		case wire.InvTypeWitnessTx, wire.InvTypeTx:
			tx, err := src.MempoolTx(iv.Hash)
			if err == nil {
				m = tx
				if iv.Type == wire.InvTypeTx {
					enc = wire.BaseEncoding
				}
			}
		}
		if m == nil {
			_ = notFound.AddInvVect(iv)
			sp.srv.m.notFound.Inc()
			continue
		}
		done := make(chan struct{}, 1)
		sp.QueueMessageWithEncoding(m, done, enc)
		if waitPrev != nil && !sp.wait(waitPrev) {
			return
		}
		waitPrev = done
		if iv.Type == wire.InvTypeBlock || iv.Type == wire.InvTypeWitnessBlock {
			sp.srv.m.blocksServed.Inc()
			sp.maybeContinue(iv.Hash)
		}
	}
	if waitPrev != nil && !sp.wait(waitPrev) {
		return
	}
	if len(notFound.InvList) > 0 {
		sp.QueueMessage(notFound, nil)
	}
}

// wait blocks until ch fires, the peer goes or the server stops.
func (sp *serverPeer) wait(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	case <-sp.Done():
		return false
	case <-sp.ctx.Done():
		return false
	}
}

// maybeContinue sends the tip in an inv after the peer fetched the last
// block of a full getblocks answer, which makes it ask for the next batch
// (btcd's and Bitcoin Core's continue-hash convention).
func (sp *serverPeer) maybeContinue(hash chainhash.Hash) {
	sp.mu.Lock()
	match := sp.continueHash != nil && *sp.continueHash == hash
	if match {
		sp.continueHash = nil
	}
	sp.mu.Unlock()
	if !match {
		return
	}
	tip, _ := sp.srv.cfg.Source.Tip()
	inv := wire.NewMsgInvSizeHint(1)
	_ = inv.AddInvVect(wire.NewInvVect(wire.InvTypeBlock, &tip))
	sp.QueueMessage(inv, nil)
}

// stripWitness re-encodes a raw block without witness data for peers that
// asked for a plain block. It returns nil if raw does not decode.
func stripWitness(raw []byte) wire.Message {
	var b wire.MsgBlock
	if err := b.Deserialize(bytes.NewReader(raw)); err != nil {
		return nil
	}
	var buf bytes.Buffer
	buf.Grow(b.SerializeSizeStripped())
	if err := b.SerializeNoWitness(&buf); err != nil {
		return nil
	}
	return rawBlock(buf.Bytes())
}

// onInv asks for announced transactions the source does not have, and for
// announced blocks when the source accepts blocks.
func (sp *serverPeer) onInv(_ *peer.Peer, msg *wire.MsgInv) {
	src := sp.srv.cfg.Source
	acceptor, acceptsBlocks := src.(BlockAcceptor)
	gd := wire.NewMsgGetData()
	for _, iv := range msg.InvList {
		sp.AddKnownInventory(iv)
		switch iv.Type {
		case wire.InvTypeTx, wire.InvTypeWitnessTx:
			if _, err := src.MempoolTx(iv.Hash); err == nil {
				continue
			}
			typ := wire.InvTypeTx
			if sp.IsWitnessEnabled() {
				typ = wire.InvTypeWitnessTx
			}
			_ = gd.AddInvVect(wire.NewInvVect(typ, &iv.Hash))
		case wire.InvTypeBlock, wire.InvTypeWitnessBlock:
			if !acceptsBlocks || acceptor.HaveBlock(iv.Hash) {
				continue
			}
			typ := wire.InvTypeBlock
			if sp.IsWitnessEnabled() {
				typ = wire.InvTypeWitnessBlock
			}
			_ = gd.AddInvVect(wire.NewInvVect(typ, &iv.Hash))
		}
	}
	if len(gd.InvList) > 0 {
		sp.QueueMessage(gd, nil)
	}
}

func (sp *serverPeer) onTx(_ *peer.Peer, tx *wire.MsgTx) {
	txid := tx.TxHash()
	sp.AddKnownInventory(wire.NewInvVect(wire.InvTypeTx, &txid))
	if err := sp.srv.cfg.Source.AcceptTx(tx); err != nil {
		sp.srv.m.txs.WithLabelValues(outcomeRejected).Inc()
		sp.srv.log.Debug("peerserve rejected tx", "txid", txid.String(), "remote", sp.Addr(), "err", err)
		sp.PushRejectMsg(wire.CmdTx, rejectCode(err), err.Error(), &txid, false)
		return
	}
	sp.srv.m.txs.WithLabelValues(outcomeAccepted).Inc()
}

func (sp *serverPeer) onBlock(_ *peer.Peer, b *wire.MsgBlock, _ []byte) {
	acceptor, ok := sp.srv.cfg.Source.(BlockAcceptor)
	if !ok {
		return
	}
	hash := b.BlockHash()
	sp.AddKnownInventory(wire.NewInvVect(wire.InvTypeBlock, &hash))
	err := acceptor.AcceptBlock(b)
	if errors.Is(err, ErrOrphanBlock) {
		sp.requestBlocks()
		return
	}
	if err != nil {
		sp.srv.log.Debug("peerserve rejected block", "hash", hash.String(), "remote", sp.Addr(), "err", err)
		sp.PushRejectMsg(wire.CmdBlock, rejectCode(err), err.Error(), &hash, false)
	}
}

func (sp *serverPeer) onMemPool(_ *peer.Peer, _ *wire.MsgMemPool) {
	lister, ok := sp.srv.cfg.Source.(MempoolLister)
	if !ok {
		return
	}
	ids := lister.MempoolTxids()
	for len(ids) > 0 {
		n := min(len(ids), wire.MaxInvPerMsg)
		inv := wire.NewMsgInvSizeHint(uint(n))
		for i := range ids[:n] {
			_ = inv.AddInvVect(wire.NewInvVect(wire.InvTypeTx, &ids[i]))
		}
		sp.QueueMessage(inv, nil)
		ids = ids[n:]
	}
}

// announceBlock tells the peer about a new tip: headers from the last
// header it has from us, when that is a short way, else an inv. Headers
// never start after a block announced only by inv: the peer does not have
// that header yet, so they would not connect, and a peer counts headers
// that do not connect against us (a burst of blocks once made our own
// client ban this server).
func (sp *serverPeer) announceBlock(tip chainhash.Hash) {
	if !sp.VerAckReceived() {
		return
	}
	sp.mu.Lock()
	known, lastInv := sp.headerSent, sp.lastInv
	sp.mu.Unlock()
	if known != nil && *known == tip {
		return
	}
	if sp.WantsHeaders() && known != nil {
		if hdrs := sp.headersSince(*known, tip); hdrs != nil {
			sp.QueueMessage(hdrs, nil)
			sp.setHeaderSent(tip)
			return
		}
	}
	if lastInv != nil && *lastInv == tip {
		return
	}
	inv := wire.NewMsgInvSizeHint(1)
	_ = inv.AddInvVect(wire.NewInvVect(wire.InvTypeBlock, &tip))
	sp.QueueMessage(inv, nil)
	sp.mu.Lock()
	sp.lastInv = &tip
	sp.mu.Unlock()
}

// headersSince returns the headers from just after the best-chain ancestor
// of known up to tip, or nil if that is more than maxHeaderAnnounce or the
// chain cannot be walked.
func (sp *serverPeer) headersSince(known, tip chainhash.Hash) *wire.MsgHeaders {
	src := sp.srv.cfg.Source
	// The fork point: known itself if still on the best chain, else one of
	// its near ancestors.
	forkHeight := int32(-1)
	cur := known
	for range maxHeaderAnnounce {
		if h, ok := src.HeightOf(cur); ok {
			forkHeight = h
			break
		}
		hdr, err := src.Header(cur)
		if err != nil {
			return nil
		}
		cur = hdr.PrevBlock
	}
	tipHeight, ok := src.HeightOf(tip)
	if forkHeight < 0 || !ok || tipHeight <= forkHeight || tipHeight-forkHeight > maxHeaderAnnounce {
		return nil
	}
	msg := wire.NewMsgHeaders()
	for h := forkHeight + 1; h <= tipHeight; h++ {
		hash, ok := src.HashAt(h)
		if !ok {
			return nil
		}
		hdr, err := src.Header(hash)
		if err != nil {
			return nil
		}
		if err := msg.AddBlockHeader(&hdr); err != nil {
			return nil
		}
	}
	return msg
}

// setHeaderSent records the newest block whose header the peer has from
// us. It is set after the message is queued, so a later announcement that
// reads it is queued behind that message.
func (sp *serverPeer) setHeaderSent(h chainhash.Hash) {
	sp.mu.Lock()
	sp.headerSent = &h
	sp.mu.Unlock()
}

// rejectCode picks the reject code for a Source error.
func rejectCode(err error) wire.RejectCode {
	var rc RejectCoder
	if errors.As(err, &rc) {
		return rc.RejectCode()
	}
	return wire.RejectInvalid
}

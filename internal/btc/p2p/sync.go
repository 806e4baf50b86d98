package p2p

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// kickHeaders sends a getheaders to the peer that most needs asking, unless
// one is already outstanding: headers are fetched from one peer at a time so
// a 2,000-header batch is never downloaded twice.
func (c *Client) kickHeaders() {
	c.mu.Lock()
	if c.hdrPeer != nil || c.runCtx == nil || c.runCtx.Err() != nil {
		c.mu.Unlock()
		return
	}
	// The peer asked longest ago goes first, so that one that keeps
	// needing asking (it ignores us) cannot starve the others; among
	// peers never asked, the highest.
	var best *peerState
	for ps := range c.peers {
		if !ps.needHeaders || ps.banned {
			continue
		}
		if best == nil || ps.lastAsked.Before(best.lastAsked) ||
			(ps.lastAsked.Equal(best.lastAsked) && ps.height > best.height) {
			best = ps
		}
	}
	if best == nil {
		c.mu.Unlock()
		return
	}
	best.needHeaders = false
	c.hdrPeer = best
	c.hdrAskedAt = time.Now()
	best.lastAsked = c.hdrAskedAt
	c.mu.Unlock()
	c.askHeaders(best)
}

// refreshHeaderNeeds marks for asking again every peer that claims more
// blocks than we have headers and was last asked a HeadersTimeout ago: its
// answer may have been lost, or it ignored us (btcd does while it is not
// current).
func (c *Client) refreshHeaderNeeds(now time.Time) {
	_, best := c.chain.BestHeader()
	c.mu.Lock()
	defer c.mu.Unlock()
	for ps := range c.peers {
		if !ps.needHeaders && ps.height > best && now.Sub(ps.lastAsked) > c.cfg.HeadersTimeout {
			ps.needHeaders = true
		}
	}
}

// askHeaders sends a getheaders built from the chain's current locator,
// starting a round with ps that its reply or the pong of the ping sent
// right behind it ends. It is built by hand because peer.PushGetHeadersMsg
// drops a request equal to the previous one, which is exactly what a retry
// after ErrUnconnected is.
func (c *Client) askHeaders(ps *peerState) {
	nonce := rand.Uint64() | 1 // never 0, which means no round
	c.mu.Lock()
	ps.hdrNonce = nonce
	ps.roundUnconnected = false
	ps.waitingRound = false
	c.mu.Unlock()
	loc := c.chain.Locator()
	msg := wire.NewMsgGetHeaders()
	msg.ProtocolVersion = ps.p.ProtocolVersion()
	for i := range loc {
		if i == wire.MaxBlockLocatorsPerMsg {
			break
		}
		_ = msg.AddBlockLocatorHash(&loc[i])
	}
	ps.p.QueueMessage(msg, nil)
	ps.p.QueueMessage(wire.NewMsgPing(nonce), nil)
}

// endRoundLocked ends the getheaders round with ps, which the caller holds
// c.mu for and which is c.hdrPeer. A round that saw headers that do not
// connect and ended without a headers message that connects (so its reply
// did not fill the gap) counts against the peer: it returns the new count,
// else 0.
func (c *Client) endRoundLocked(ps *peerState, connected bool) int {
	c.hdrPeer = nil
	ps.hdrNonce = 0
	n := 0
	if ps.roundUnconnected && !connected {
		ps.unconnected++
		n = ps.unconnected
	}
	ps.roundUnconnected = false
	return n
}

// banUnconnected bans ps when n rounds in a row left its headers
// unconnected (more than maxUnconnectedHeaders).
func (c *Client) banUnconnected(ps *peerState, n int) bool {
	if n <= maxUnconnectedHeaders {
		return false
	}
	c.ban(ps, reasonUnconnectedHeaders, fmt.Errorf("%d getheaders rounds in a row left its headers unconnected: %w", n, ErrUnconnected))
	return true
}

// onPong ends the getheaders round with ps when it is the pong of the ping
// sent behind our getheaders: the peer answered (or ignored) the request,
// so other peers may be asked, and headers it sent that still do not
// connect count against it.
func (c *Client) onPong(ps *peerState, msg *wire.MsgPong) {
	c.mu.Lock()
	if c.hdrPeer != ps || ps.hdrNonce == 0 || msg.Nonce != ps.hdrNonce {
		c.mu.Unlock()
		return
	}
	n := c.endRoundLocked(ps, false)
	c.mu.Unlock()
	if c.banUnconnected(ps, n) {
		return
	}
	c.kickHeaders()
}

// onHeaders handles a headers message, the reply to our getheaders or a
// BIP 130 announcement.
func (c *Client) onHeaders(ps *peerState, msg *wire.MsgHeaders) {
	c.m.headersReceived.Add(float64(len(msg.Headers)))
	c.mu.Lock()
	isReply := c.hdrPeer == ps
	c.mu.Unlock()
	if len(msg.Headers) == 0 {
		if isReply {
			c.finishHeaders(ps, false, false)
		}
		return
	}
	hdrs, err := checkHeaders(msg.Headers, c.powLimit)
	if err != nil {
		c.ban(ps, reasonInvalidHeaders, err)
		return
	}
	added, changed, err := c.chain.AcceptHeaders(hdrs)
	switch {
	case errors.Is(err, ErrInvalid):
		c.ban(ps, reasonInvalidHeaders, err)
		return
	case errors.Is(err, ErrUnconnected):
		// An announcement may overtake the reply to our getheaders: a
		// burst of blocks is announced while the request is in flight,
		// after an inv of a tip we have not fetched. So headers that do
		// not connect count against the peer only once per getheaders
		// round, and only if that round ends without a connecting
		// answer (Bitcoin Core no longer punishes them at all, #29575).
		c.mu.Lock()
		ps.needHeaders = true
		n := 0
		switch {
		case c.hdrPeer == ps:
			ps.roundUnconnected = true // the round's end decides
		case ps.waitingRound:
			// Counted already; asked when its turn comes.
		default:
			ps.unconnected++
			n = ps.unconnected
			ps.waitingRound = true
		}
		c.mu.Unlock()
		if c.banUnconnected(ps, n) {
			return
		}
		c.log.Debug("headers do not connect, asking with a fresh locator", "peer", ps.addr, "unconnected_rounds", n)
		c.kickHeaders()
		return
	case err != nil:
		// Our store failed, not the peer.
		c.mu.Lock()
		ctx := c.runCtx
		c.mu.Unlock()
		if ctx.Err() == nil {
			c.fail(fmt.Errorf("store headers from %s: %w", ps.addr, err))
		}
		return
	}

	bestHash, bestHeight := c.chain.BestHeader()
	last := hdrs[len(hdrs)-1].BlockHash()
	full := len(msg.Headers) == wire.MaxBlockHeadersPerMsg && added > 0
	c.mu.Lock()
	ps.unconnected = 0
	if last == bestHash && bestHeight > ps.height {
		ps.height = bestHeight
	}
	if full && !isReply {
		// The reply to a getheaders that an announcement overtook: the
		// peer has more, so it must be asked again.
		ps.needHeaders = true
	}
	if changed {
		// A new best chain may hold blocks a peer once lacked.
		for p := range c.peers {
			clear(p.notFound)
		}
	}
	c.mu.Unlock()
	if added > 0 {
		c.log.Debug("headers accepted", "peer", ps.addr, "added", added, "best_height", bestHeight)
	}
	// A full batch that taught us something means the peer has more.
	c.finishHeaders(ps, isReply && full, true)
	if added > 0 || changed {
		c.schedule()
	}
}

// finishHeaders ends a getheaders round with ps on a headers message
// (connected: one that connected): ask it again if more is expected, else
// let another peer be asked.
func (c *Client) finishHeaders(ps *peerState, again, connected bool) {
	c.mu.Lock()
	if c.hdrPeer != ps {
		c.mu.Unlock()
		c.kickHeaders()
		return
	}
	n := 0
	if again {
		c.hdrAskedAt = time.Now()
		ps.lastAsked = c.hdrAskedAt
	} else {
		n = c.endRoundLocked(ps, connected)
	}
	c.mu.Unlock()
	if again {
		c.askHeaders(ps)
		return
	}
	if c.banUnconnected(ps, n) {
		return
	}
	c.kickHeaders()
}

// onInv handles inventory announcements: a block we do not have as best
// header makes us ask the peer for headers; a transaction we are
// broadcasting counts as accepted by that peer.
func (c *Client) onInv(ps *peerState, msg *wire.MsgInv) {
	var lastBlock *chainhash.Hash
	for _, iv := range msg.InvList {
		switch iv.Type {
		case wire.InvTypeBlock, wire.InvTypeWitnessBlock:
			lastBlock = &iv.Hash
		case wire.InvTypeTx, wire.InvTypeWitnessTx:
			if c.nPending.Load() > 0 {
				c.mu.Lock()
				if b := c.pending[iv.Hash]; b != nil {
					b.setVerdict(ps, verdictAccepted, 0, "announced it back")
				}
				c.mu.Unlock()
			}
		}
	}
	if lastBlock == nil {
		return
	}
	if best, _ := c.chain.BestHeader(); best == *lastBlock {
		return
	}
	c.mu.Lock()
	ps.needHeaders = true
	c.mu.Unlock()
	c.kickHeaders()
}

// schedule requests the blocks the chain needs from peers with free
// request slots, spreading them over peers by free capacity.
func (c *Client) schedule() {
	c.scheduleMu.Lock()
	defer c.scheduleMu.Unlock()

	c.mu.Lock()
	if c.runCtx == nil || c.runCtx.Err() != nil {
		c.mu.Unlock()
		return
	}
	free := 0
	for ps := range c.peers {
		if ps.canDownload() {
			free += max(0, c.cfg.BlocksInFlightPerPeer-len(ps.inflight))
		}
	}
	free = min(free, c.cfg.MaxBlocksInFlight-len(c.inflight))
	busy := len(c.inflight) + len(c.processing)
	// Blocks finishing from here on are remembered in recentDone, so an
	// answer of NeedBlocks that is stale by the time we assign it does
	// not make us fetch a stored block again.
	clear(c.recentDone)
	c.mu.Unlock()
	if free <= 0 {
		return
	}
	need := c.chain.NeedBlocks(busy + free)
	if len(need) == 0 {
		return
	}

	reqs := make(map[*peerState]*wire.MsgGetData)
	now := time.Now()
	c.mu.Lock()
	for i := range need {
		h := need[i]
		if _, ok := c.inflight[h]; ok {
			continue
		}
		if _, ok := c.processing[h]; ok {
			continue
		}
		if _, ok := c.recentDone[h]; ok {
			continue
		}
		if len(c.inflight) >= c.cfg.MaxBlocksInFlight {
			break
		}
		ps := c.pickPeerLocked(h)
		if ps == nil {
			continue
		}
		c.inflight[h] = ps
		if len(ps.inflight) == 0 {
			ps.lastProgress = now
		}
		ps.inflight[h] = struct{}{}
		gd := reqs[ps]
		if gd == nil {
			gd = wire.NewMsgGetDataSizeHint(uint(c.cfg.BlocksInFlightPerPeer))
			reqs[ps] = gd
		}
		_ = gd.AddInvVect(wire.NewInvVect(wire.InvTypeWitnessBlock, &h))
	}
	c.m.blocksInFlight.Set(float64(len(c.inflight)))
	c.mu.Unlock()
	for ps, gd := range reqs {
		ps.p.QueueMessage(gd, nil)
	}
}

// canDownload reports whether blocks may be requested from ps: it finished
// the handshake and sends witness data, which the chain needs to check a
// block's witness commitment.
func (ps *peerState) canDownload() bool {
	return ps.ready && !ps.banned && ps.reason == "" && ps.p.IsWitnessEnabled()
}

// pickPeerLocked returns the peer with the most free slots that has not
// said it lacks h, or nil. Callers hold c.mu.
func (c *Client) pickPeerLocked(h chainhash.Hash) *peerState {
	var best *peerState
	bestFree := 0
	for ps := range c.peers {
		if !ps.canDownload() {
			continue
		}
		if _, no := ps.notFound[h]; no {
			continue
		}
		if f := c.cfg.BlocksInFlightPerPeer - len(ps.inflight); f > bestFree {
			best, bestFree = ps, f
		}
	}
	return best
}

// onBlock takes a block from a peer's input goroutine: it checks the block
// was requested from this peer, tops up the request window before anything
// else so the peer never idles, and queues the block for a worker. Queueing
// blocks when the workers are behind, which pushes back on the connection.
func (c *Client) onBlock(ps *peerState, msg *wire.MsgBlock) {
	h := msg.BlockHash()
	c.mu.Lock()
	if !ps.ready {
		// Read before the disconnect we asked for took effect; its
		// request was already released.
		c.mu.Unlock()
		return
	}
	if owner := c.inflight[h]; owner != ps {
		ps.unrequested++
		n := ps.unrequested
		c.mu.Unlock()
		if n > c.cfg.MaxUnrequestedBlocks {
			c.ban(ps, reasonUnrequestedBlocks, fmt.Errorf("%d blocks sent without a request, last %s", n, h))
		} else {
			c.log.Debug("dropping unrequested block", "peer", ps.addr, "hash", h)
		}
		return
	}
	delete(c.inflight, h)
	delete(ps.inflight, h)
	c.processing[h] = struct{}{}
	ps.lastProgress = time.Now()
	refill := c.cfg.BlocksInFlightPerPeer-len(ps.inflight) >= max(1, c.cfg.BlocksInFlightPerPeer/2)
	ctx := c.runCtx
	c.mu.Unlock()
	c.m.blocksReceived.Inc()
	if refill {
		c.schedule()
	}
	select {
	case c.work <- blockJob{ps: ps, block: msg, hash: h}:
	case <-ctx.Done():
		return
	}
	c.mu.Lock()
	ps.lastProgress = time.Now()
	c.mu.Unlock()
}

// onNotFound releases block requests the peer cannot serve, so other peers
// get them, and settles broadcast probes.
func (c *Client) onNotFound(ps *peerState, msg *wire.MsgNotFound) {
	released := 0
	c.mu.Lock()
	for _, iv := range msg.InvList {
		switch iv.Type {
		case wire.InvTypeBlock, wire.InvTypeWitnessBlock:
			if c.inflight[iv.Hash] == ps {
				delete(c.inflight, iv.Hash)
				delete(ps.inflight, iv.Hash)
				ps.notFound[iv.Hash] = struct{}{}
				released++
			}
		case wire.InvTypeTx, wire.InvTypeWitnessTx:
			if b := c.pending[iv.Hash]; b != nil {
				b.setVerdict(ps, verdictDropped, 0, "")
			}
		}
	}
	c.mu.Unlock()
	if released > 0 {
		c.m.blockRetries.Add(float64(released))
		c.log.Debug("peer lacks requested blocks", "peer", ps.addr, "count", released)
		c.schedule()
	}
}

// worker hands received blocks to the chain until ctx is done.
func (c *Client) worker(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case j := <-c.work:
			if err := c.acceptBlock(ctx, j); err != nil {
				return err
			}
		}
	}
}

// acceptBlock stores one block and settles its bookkeeping. A block the
// chain calls invalid bans its sender; any other chain error ends Run.
func (c *Client) acceptBlock(ctx context.Context, j blockJob) error {
	err := c.chain.AcceptBlock(j.block)
	c.mu.Lock()
	delete(c.processing, j.hash)
	c.recentDone[j.hash] = struct{}{}
	if err == nil && c.nPending.Load() > 0 {
		c.settleMinedLocked(j.block, j.hash)
	}
	c.mu.Unlock()
	switch {
	case err == nil:
		c.blocksAccepted.Add(1)
		c.txsAccepted.Add(uint64(len(j.block.Transactions)))
		c.m.blocksAccepted.Inc()
		c.m.txsAccepted.Add(float64(len(j.block.Transactions)))
		return nil
	case errors.Is(err, ErrInvalid):
		c.ban(j.ps, reasonInvalidBlock, err)
		return nil
	case ctx.Err() != nil:
		return nil
	default:
		c.fail(fmt.Errorf("store block %s: %w", j.hash, err))
		return nil
	}
}

// Package p2p is the Bitcoin P2P client of the node ("TBC"): it keeps
// connections to configured peers, syncs the most-work header chain
// headers-first, downloads the blocks of that chain from several peers at
// once into a Chain (internal/btc/index), and broadcasts transactions,
// reporting whether peers accepted or rejected them.
//
// The protocol itself (version/verack, ping/pong, message framing) is
// btcd's peer package; this package decides what to ask whom and what to
// do with the answers.
//
// Sync works as follows. One getheaders is outstanding at a time, built
// from Chain.Locator and sent to the highest peer that needs asking; a full
// reply (2,000 headers) that taught us something is followed by another.
// Peers announce new blocks with headers (BIP 130 sendheaders) or inv; an
// announcement that does not connect triggers a getheaders with a fresh
// locator (see the invariants for when that counts against the peer).
// Blocks listed by Chain.NeedBlocks are requested as witness
// blocks with a window of BlocksInFlightPerPeer per peer, topped up as soon
// as half the window has arrived, so a single peer is never idle while the
// chain indexes. Received blocks go to a pool of workers calling
// Chain.AcceptBlock, which connects them in height order itself.
//
// Broadcast announces a transaction (inv) and probes each peer with a
// getdata right behind it: a peer that has the tx in its mempool serves
// it back (accepted); one that fetches it is served and probed again;
// one that read the announcement (answered the probe) but fetches nothing
// within BroadcastSilence already knows it (mined in its chain, an
// orphan, or refused before: btcd says nothing then), so a re-sent
// transaction never waits for the whole BroadcastTimeout. The last
// transactions broadcast stay served to peers that fetch them late.
//
// Progress and Peers report the sync state for progress lines and status
// APIs. Prometheus metrics (namespace hemi_btc_p2p_): peers, bans_total by
// reason, received_bytes_total, sent_bytes_total, headers_received_total,
// blocks_received_total, blocks_accepted_total, block_txs_accepted_total,
// blocks_in_flight, block_requests_released_total, broadcasts_total by
// outcome.
//
// Invariants:
//   - A block hash is requested from at most one peer at a time, and never
//     while it is being handed to the chain or was just stored.
//   - A peer's requests are released for other peers when it disconnects,
//     answers notfound, or delivers no block for StallTimeout (it is then
//     disconnected). Time in which our own workers are backed up does not
//     count against a peer.
//   - A peer that sends invalid data is disconnected and its host banned for
//     BanDuration: a malformed or oversized message, headers failing
//     proof of work or not chaining, data the Chain rejects with ErrInvalid,
//     more than MaxUnrequestedBlocks unrequested blocks, or headers that do
//     not connect in more than ten getheaders rounds in a row. Nothing such
//     a peer sent is stored (the Chain writes nothing for invalid data).
//   - Headers that do not connect while our getheaders to their sender is
//     in flight are expected (a burst of blocks is announced before the
//     peer reads our request): they only make us ask again after the
//     round. A round ends with a connecting reply, an empty one, the pong
//     of the ping sent right behind the getheaders (peers answer in
//     order), or HeadersTimeout; it counts against the peer only if it
//     saw unconnected headers and nothing that connected.
//   - Every goroutine is owned by Run and ends when its context is done;
//     public methods never block past their context.
//   - Only peers that advertise witness support (NODE_WITNESS) serve blocks:
//     without witness data the chain cannot check witness commitments.
//     wtxidrelay (BIP 339) is not negotiated: btcd's peer package allows
//     no message between version and verack.
//
// Layer: services (DESIGN 2, 3.5).
package p2p

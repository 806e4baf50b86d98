// Package peerserve is a Bitcoin P2P server that serves a chain (a Source)
// to peers on the network, so that real nodes (btcd) and our own P2P client
// (internal/btc/p2p) sync from it exactly as from the Bitcoin network. It is
// used by the embedded regtest node (internal/btc/regtest) and by the
// benchmark (internal/bench) that serves a pre-generated chain.
//
// The protocol itself (handshake, ping/pong, message framing, inventory
// trickling) is btcd's peer package; this package answers the requests:
// getheaders (up to 2,000 headers), getblocks (up to 500 inventory entries,
// with the continue-hash trick that makes btcd ask for more), getdata for
// blocks, witness blocks and transactions (with notfound for unknown ones),
// mempool, and transactions relayed by peers (offered to Source.AcceptTx,
// answered with a reject message when refused). New tips and transactions
// from Source.Subscribe are announced to every peer: with headers to peers
// that sent sendheaders and are at most a few blocks behind, with inv
// otherwise. A Source that also implements BlockAcceptor (the regtest node)
// receives peers' blocks: announced blocks are fetched, and a peer that
// connects with a higher start height or sends an orphan is asked for its
// chain with getblocks, so a longer fork mined elsewhere wins. Optional
// MempoolLister answers the mempool message.
//
// Invariants:
//   - Blocks are sent as the raw bytes the Source returns (witness
//     serialization); a peer that asks for a block without witness gets it
//     re-encoded, the only path that decodes a block.
//   - Every goroutine is owned by Run and ends when its ctx is done; Run
//     returns only after every peer has disconnected.
//   - Bad input from a peer (malformed or oversized messages, unknown
//     requests) disconnects or is ignored for that peer alone; it never
//     stops the server.
//   - At most two block or transaction messages per peer are queued at a
//     time, so memory stays bounded however much a peer requests.
//   - What peers make the server hold is bounded (Limits): connections
//     still in the version handshake are counted apart from peers (at
//     most 32, each for at most 5 s; a new one evicts the oldest of the
//     address with the most, so idle connections never lock a real peer
//     out); one IP address holds at most 16 connections (64 for a
//     loopback address, where a devnet runs its nodes, signers and
//     miners); the payloads of messages over 64 KiB share a 64 MiB budget
//     across all peers, reserved before btcd's wire allocates them, and a
//     peer whose message does not fit waits unread (for at most a minute,
//     then it is dropped). Metrics: handshakes, refused_total{reason},
//     message_budget_bytes (and _peak_bytes, _waiting).
//
// Layer: services (DESIGN 2, 3.5).
package peerserve

// Package netp2p is the L2 network of a node (DESIGN 9, issue 10 items 2
// and 3): a libp2p host that speaks only to configured peers, a handshake
// that refuses peers of another network, block gossip on one
// gossipsub topic per chain, and a pending-transaction feed on a second
// (below). Catch-up by range requests is another part
// (internal/netp2p/rangesync) that plugs in through Syncer and registers
// its protocol on Host.
//
// # Parts
//
//   - Host (service.go): go-libp2p with TCP, Noise and yamux only; no
//     relay, no NAT port mapping, no mDNS, no DHT, no peer exchange. The
//     identity key lives in the node's directory (identity.go,
//     IdentityFile, mode 0600, created on first start; a corrupt file is
//     an error naming it). Static peers (Config.Peers, multiaddrs with
//     /p2p/<id>) are dialed at start and redialed with a backoff of 1 s
//     doubling to 1 min.
//   - Connection gater and peer table (peers.go): banned peers are
//     refused at dial and at the secured handshake; inbound peers beyond
//     MaxPeers are refused (static peers always pass). Each peer has a
//     state (connected, handshake done, score, head) that Peers returns,
//     metrics export (hemi_netp2p_peers, _peers_ready, _peer_score{peer},
//     _peer_head{peer}) and logs report on connect, penalty and ban.
//   - Handshake (handshake.go, ProtocolHandshake "/hemi/handshake/1"):
//     the dialer opens a stream, each side writes its Status (version,
//     chain id, genesis hash, head) as RLP and reads the other's (at most
//     512 bytes, HandshakeTimeout). A peer with another genesis hash or
//     chain id is disconnected, banned for BanDuration, and logged with
//     the reason; an inbound peer that has not shaken hands within
//     HandshakeTimeout is disconnected. Gossip from a peer before its
//     handshake is ignored.
//   - Gossip (message.go, validate.go, gossip.go): topic
//     "/hemi/blocks/1/<genesis hash>"; a message is the whole block,
//     snappy(RLP([header, body])) with the body as internal/chain/block
//     encodes it (system transactions, then user transactions); message
//     id = the first 20 bytes of SHA-256 over the compressed message;
//     messages are unsigned (StrictNoSign: the block's seal is what
//     counts). Limits: MaxMessageSize compressed, MaxBlockSize
//     decompressed (checked from snappy's header before decoding).
//
// # The validator
//
// gossipsub calls the validator before it delivers or forwards a
// message. The checks run in this order; the first that fails decides:
//
//	check                                         verdict  reason             penalty
//	sender has not completed the handshake        Ignore   peer_not_ready     -
//	a copy of a message still being validated     Ignore   in_flight          -
//	does not decompress or decode                 Reject   malformed          PenaltyReject
//	over MaxMessageSize / MaxBlockSize            Reject   too_large          PenaltyReject
//	block already accepted (seen cache)           Ignore   seen               -
//	no seal, or a seal that does not recover      Reject   bad_seal           PenaltyReject
//	sealed by a key not in the sequencer set      Reject   unknown_sequencer  PenaltyReject
//	  (a tampered header recovers a wrong key,
//	  so it lands here too)
//	system transaction out of bounds              Reject   bad_body           PenaltyReject
//	transactions root differs from the header's   Reject   bad_tx_root        PenaltyReject
//	number at or below the finalized block        Reject   behind_finalized   PenaltyReject
//	number more than MaxAhead above the head      Ignore   far_ahead          - (starts catch-up)
//	block already stored by the chain             Ignore   known              -
//	MaxPerHeight blocks accepted at this height   Ignore   height_full        -
//	otherwise                                     Accept   ok
//
// Why Ignore for some: a duplicate, a block the chain has, or a fourth
// block at a height can come from an honest relay; a far-ahead block
// whose seal is valid was signed by a sequencer, so it shows this node is
// behind, not that the sender misbehaves (it starts a catch-up instead).
// Reject is for what no honest node forwards: it would have failed the
// same checks. A block is added to the seen cache only when accepted: a
// block with a junk body has the same header hash as the real one, which
// must still get through after it.
//
// On Accept the validator hands the block to Chain.Prepare (its senders
// recovered and their accounts read in the background, while the message
// is forwarded and the import loop gets to it; Prepare judges nothing).
// After Accept the block is inserted (chain.InsertBlock, one at a time):
//
//	result                        action
//	inserted                      the sender's score rises by 1 (up to 0) and its head is noted
//	already known                 nothing
//	ErrUnknownParent              held; Syncer.SyncTo(sender, number-1, parent) (one at a time)
//	ErrViewNotReady               held and retried every second until the Bitcoin index's best
//	                              header is ViewGrace (6) above the view's claimed height; then
//	                              the sender is penalised (PenaltyInvalid) and the block dropped
//	any other ErrInvalidBlock     PenaltyInvalid (this includes an invalid Bitcoin view)
//	other errors (node failure)   logged, no penalty
//
// Held blocks (at most 256) are retried after each insertion and every
// second; one waiting for its parent is dropped without blame after 120
// s. Scores start at 0; a peer whose score reaches BanScore (-100) is
// disconnected and refused for BanDuration. gossipsub's own peer scoring
// is not used: the validator's verdicts are the score.
//
// # Equivocation
//
// A second block at a height sealed by the same sequencer is accepted,
// forwarded and inserted like any block (it lands on a side branch and
// PoP fork choice decides, DESIGN 4), and kept as evidence: both headers
// in memory (Evidence, the newest MaxEvidence), a Warn log naming both
// hashes and the relaying peer, and hemi_netp2p_equivocations_total.
// Evidence is not persisted.
//
// # Publishing
//
// With Config.Publisher (a sequencer's sealing address) the service
// publishes the blocks that address sealed, by two paths, each block
// once (the seen cache):
//
//   - at commit: a raft member hands its own block over as soon as the
//     group committed it, before storing it (PublishCommitted, called by
//     internal/ha's FSM). DESIGN 9 allows gossip once a block is
//     committed, so followers validate and execute it while the leader
//     still commits its state, writes and fsyncs it: that work (32 ms a
//     block of 100 transfers at load 33, BenchmarkGossipLeader in
//     internal/bench; 0.2 ms to encode instead) left the propagation
//     path.
//   - at head: each new canonical head sealed by Publisher that the node
//     neither received by gossip nor published already (a single
//     sequencer without a raft group), taken from the chain's memory
//     (chain.Recent) rather than read and decoded back.
//
// In a raft group the other members apply the same block from the raft
// log without publishing it (hemi_netp2p_heads_not_published_total
// counts them). gossipsub drops a message published before any peer has
// announced the topic, so the publisher waits until the topic has a peer
// and skips heads more than MaxAhead below the head (a node catching up
// publishes nothing old). Own messages are flood published to every
// topic peer (set explicitly: gossipsub v0.19's default is off, which
// sent a block only to the publisher's mesh, D=6 peers formed at
// heartbeats, and lost a block published right after a peer connected).
// Static peers are not gossipsub direct peers: those are sent every
// relayed message regardless of IDONTWANT (tried: more duplicates to
// validate, and propagation no better under load). The encoding is deterministic, so a block published
// by two nodes would still be one message.
//
// Every imported gossiped block gets an Info line "gossiped block
// imported" with its stages on this node (received_at: its validation
// started; validate_ms, wait_ms for the import loop, insert_ms) and the
// publisher an Info line "block published" (via commit or head): `hemi
// bench net` splits propagation with them.
//
// # Pending-transaction feed
//
// DESIGN 9 names one gossip topic, for blocks; this is a second one,
// "/hemi/txs/1/<genesis hash>" (TxTopic). Without it a follower first
// sees a transaction inside its block, so every follower recovers the
// block's senders (a third of its insertion's CPU) in the window between
// the leader's commit and the import, when all the nodes insert the same
// block at once. Ethereum nodes see transactions before their blocks;
// here the block builder announces them:
//
// Announcer (txfeed.go, with TxFeedConfig.Pool and Key: a sequencer):
// the transactions its pool makes pending (core.NewTxsEvent), each once,
// collected for TxFeedConfig.Delay (DefaultTxBatchDelay, 20 ms) or until
// MaxTxBatchTxs, are published as one batch sealed by its seal key:
// snappy(RLP([time ms, [tx binary encodings], seal])), the seal a
// 65-byte signature over keccak256(RLP(["hemi/txbatch/1", genesis hash,
// time, txs])) (txbatch.go). A key outside the genesis set announces
// nothing. Every member of a raft group with a pool announces; receivers
// skip what their cache holds.
//
// Validator (TxGate, before Accept and forwarding; message id over the
// content as for blocks). A flood of junk costs at most one signature
// recovery a message and lowers the sender's score; a replay is seen, or
// stale once the seen cache (TxBatchSeenCache) forgot it:
//
//	check                                         verdict  reason             penalty
//	sender has not completed the handshake        Ignore   peer_not_ready     -
//	a copy of a message still being validated     Ignore   in_flight          -
//	does not decompress or decode; no or junk     Reject   malformed          PenaltyReject
//	  transactions, a blob transaction, a seal
//	  that is not 65 bytes
//	over MaxTxBatchSize, more than MaxTxBatchTxs  Reject   too_large          PenaltyReject
//	batch already accepted (seen cache)           Ignore   seen               -
//	time more than MaxTxBatchAge from the clock   Ignore   stale              -
//	seal values out of range or not recovering    Reject   bad_seal           PenaltyReject
//	sealed by a key not in the sequencer set      Reject   unknown_sequencer  PenaltyReject
//	  (another network's batch lands here too)
//	otherwise                                     Accept   ok
//
// Recovery (TxFeedConfig.Senders and Signer, every node with
// networking): accepted batches are queued (at most 64; a full queue
// drops the batch) for ONE worker goroutine, which recovers each sender
// the cache lacks into the chain's SenderCache. One, not one per core:
// it runs between blocks and must not compete with an insertion. The
// chain's Prepare and InsertBlock then take the senders from the cache
// (chain.SenderCache).
//
// Consensus does not change: every cache entry is this node's own
// recovery by transaction hash, which covers the signature, and is used
// only by an equal signer; a block whose transactions were never
// announced, or announced by a lying sequencer, recovers them as before.
// Metrics: hemi_netp2p_tx_batches_total{result,reason},
// _tx_batches_published_total, _tx_feed_senders_recovered_total,
// _tx_feed_bad_signatures_total, _tx_feed_dropped_total, and the
// insertions' lookups _sender_cache_hits_total / _misses_total (also
// totals on each "gossiped block imported" line).
//
// # Invariants
//
//  1. Nothing a peer sends is stored before the chain validated and
//     executed it; the validator only decides what is forwarded.
//  2. The decoders never panic and allocate at most MaxBlockSize for a
//     block message, MaxTxBatchSize for a batch (fuzzed: FuzzDecodeBlock,
//     FuzzDecodeTxBatch).
//  3. Every goroutine is owned by Run's ctx or by the service's lifetime
//     (Close waits for them).
//
// # Not done yet
//
// Range sync (Syncer) is internal/netp2p/rangesync's. Evidence is kept
// in memory only. Ban state is not persisted across restarts.
//
// Layer: services (DESIGN 9).
package netp2p

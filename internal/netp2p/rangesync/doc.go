// Package rangesync is the catch-up sync of DESIGN 9: request/response
// over libp2p streams for ranges of L2 blocks, served from the local
// chain and fetched from several peers in parallel, imported in forward
// order with chain.InsertChain; and the block file of `hemi export` and
// `hemi import`, which shares its block encoding.
//
// # Protocol
//
// One stream per request, on ProtocolID(genesis block hash)
// ("/hemi/<hash>/blocks/1"), so peers of another chain never match. The
// client writes one request and closes its side:
//
//	request   RLP([kind, from, hash, count])
//	          kind 1 ByNumber: canonical blocks from, from+1, ... (count)
//	          kind 2 ByHash: block hash and up to count-1 ancestors,
//	          oldest first (side branches, gaps below a gossiped block)
//	          1 <= count <= MaxRequestBlocks (1024); only its kind's field set
//	response  status (1 byte); if not OK: uvarint length, message (<= 256)
//	          if OK: frames until the stream ends, each
//	          uvarint n || snappy block (n bytes) of RLP([header, body])
//	block     header: go-ethereum types.Header; body: block.Body's RLP
//
// A by-number answer stops early at the server's head, at its caps
// (ServerConfig.MaxBlocks, default 512; MaxBytes, default 16 MiB; at
// least one block), or where its canonical chain changed while serving
// (each block is the parent of the next); the client asks again for the
// rest. Statuses: OK, BadRequest (the request did not decode or validate:
// the asking peer is penalised, nothing is served, not even in part, so
// a request for a huge range costs the server one decode), RateLimited
// (per peer: RequestRate/RequestBurst requests, BlockRate blocks per
// second, StreamsPerPeer at once; not penalised), NotFound (by hash),
// ServerError.
//
// # Client (Syncer.Sync)
//
// From the local head+1 to a target (a peer's head number and hash): the
// range is cut into windows of Config.Window blocks (128), handed to
// whichever peer's worker is free, at most MaxAhead windows ahead of the
// import (16) and no new window while the answers waiting for the import
// hold MaxAheadBytes (4 MiB as read): the memory bound, in bytes because
// a window of full blocks is megabytes and a decoded block takes ~8x its
// wire bytes (the window continuing the import is always fetched, so the
// bound cannot stall a sync). Each answer is checked alone
// before it is kept: every block sealed by a sequencer of the set
// (block.Signer against chain.Rules' sequencers), its transactions root
// equal to its header's, its number the one asked for, each block the
// parent of the next. One importer inserts the answers strictly in
// forward order with InsertChain, one window per batch, each window's
// first block chained onto the last block imported. What fails goes back
// to be fetched again, by whichever peer is free:
//
//   - junk (an answer that does not decode, a bad seal or root, wrong
//     numbers or links, more than was asked): Penalize(peer, ErrJunk);
//   - a window that does not chain onto the imported blocks, or a block
//     InsertChain rejects as invalid: Penalize(peer, ErrWrongChain);
//   - no answer, an empty answer, a timeout (RequestTimeout):
//     Penalize(peer, ErrNoAnswer);
//   - RateLimited or ServerError answers: not penalised, backed off.
//
// A peer failing MaxPeerFailures (3) times in a row (its blocks imported
// resets the count) is dropped from the sync; with no peer left the sync
// fails with ErrNoPeers. A block whose Bitcoin view the index does not
// have yet (chain.ErrViewNotReady) is retried every RetryDelay, never
// blamed on the peer; a block already stored (inserted by gossip) is
// skipped. The sync ends when the target's number is imported, and fails
// with ErrTargetMismatch if that block is not the target's hash.
//
// Progress: SyncProgress gives eth_syncing its startingBlock,
// currentBlock and highestBlock (internal/rpc's Sync interface); every
// LogInterval (8 s) the log shows the height, the rate (blocks/s since
// the last line) and the ETA (at the average rate since the start).
//
// SyncBranch fetches a branch by hash back to a stored block (at most
// DefaultMaxBranch blocks) and imports it oldest first: InsertChain
// stores it as a side branch and fork choice decides.
//
// # Block file
//
// As go-ethereum's `geth export`: the blocks back to back, each
// RLP([header, body]), forward order, nothing else; gzip when the name
// ends in ".gz". Export writes a ".partial" file and renames it once
// complete. Import inserts with InsertChain in batches (64), skipping
// blocks already stored, so it resumes where an interrupted import
// stopped.
//
// # Invariants
//
//  1. Decoders (DecodeRequest, DecodeBlock, the response and file readers)
//     never panic and allocate at most what bounded lengths announce:
//     MaxBlockBytes (16 MiB) per block, maxAnswerBytes per answer,
//     maxRequestBytes per request (fuzzed).
//  2. Nothing reaches the chain that is not sealed by a sequencer of the
//     set and chained onto the blocks imported before it; the chain's own
//     checks (InsertChain) then run in full, so a peer can waste a
//     follower's time but not make it store an invalid block.
//  3. Blocks are imported in forward order without gaps; a failure of one
//     window never discards the windows fetched after it.
//
// # Not yet
//
// The client follows the blocks that chain onto what it imported: two
// chains both sealed by the sequencer set (an equivocation) are told
// apart only at the target (ErrTargetMismatch); choosing between them is
// PoP fork choice's business, through SyncBranch and the chain. Peers are
// not chosen by latency or past rate: a free worker takes the next window.
//
// Layer: services (DESIGN 9).
package rangesync

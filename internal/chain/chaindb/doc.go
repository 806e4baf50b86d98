// Package chaindb is the L2 chain's key-value store (DESIGN 3.6: one
// storage engine, pebble): go-ethereum's ethdb.KeyValueStore over a
// pebble database, which rawdb, triedb and core/state use unchanged.
//
// Why not go-ethereum's ethdb/pebble: its options are fixed inside its
// constructor, tuned for a full node that writes its state to disk
// rarely. The chain flushes every block's state (internal/chain doc
// "State"), trie nodes keyed by their hash, so every memtable flush is an
// L0 sublevel spanning the whole key space, and go-ethereum's setting of
// compacting L0 after each flush rewrote all of Lbase every flush: about 5% of
// the l2-import benchmark's CPU (ERC-20 kind) before this package.
// Everything else is go-ethereum's: the memtables (half the cache, in
// four), bloom filters, file sizes, compaction concurrency, no
// read-triggered compactions, the format (databases written by the old
// wrapper open as they are: pebble checks only the comparer and merger
// at open, both pebble's defaults), and writes without fsync unless
// SyncKeyValue. Close flushes the memtables first, so a restart replays
// no write-ahead log.
//
// Layer: stores (DESIGN 2 "L2 chain").
package chaindb

package chain

import (
	"fmt"
	"sync/atomic"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/ethdb"
	"github.com/ethereum/go-ethereum/trie/trienode"
)

// stateStore is the chain's state database: go-ethereum's MPTDatabase
// (readers, tries and the hashdb clean cache come from it) whose Commit
// writes a block's new trie nodes and code straight to disk.
//
// Why: the chain keeps every block's state (doc.go, "State"), so each
// committed state is flushed at once. Through triedb that is
// hashdb.Update (every node decoded for its children and put in the
// dirty cache, the state diff encoded for a flat layer hashdb has not),
// then hashdb.Commit (the dirty nodes walked from the root, written,
// then replayed into the clean cache): about 8% of the CPU of a 5,000
// transfer block's import (bench l2-import --profile-dir), for nodes
// that no reader needs in memory before they are on disk. Written
// directly, each new node costs one batch Put. The next block reads
// many of them (the paths to the accounts it touches again), and
// hashdb's clean cache no longer has them: the last commit's nodes are
// kept in a map (nodeCache) that hashdb's disk reads look in first,
// where they cost a map lookup instead of a pebble Get (without it, the
// pebble reads cost what the commit saved).
//
// The written bytes are what hashdb.Commit writes (under the hash
// scheme, node hash -> node blob, and code under its rawdb key); a
// deleted node is left on disk, as hashdb leaves it: another state may
// reference it. Genesis goes through triedb (Genesis.Commit), and
// nothing else commits to the triedb, so its dirty cache stays empty.
type stateStore struct {
	*state.MPTDatabase
	disk   ethdb.KeyValueStore
	code   *state.CodeDB
	recent *nodeCache
}

var _ state.Database = (*stateStore)(nil)

// Commit writes u's new trie nodes and code to disk, in batches of
// ethdb.IdealBatchSize; it returns once they are written (Invariant 1:
// before the block's batch).
func (s *stateStore) Commit(u *state.StateUpdate) error {
	if u.Empty() {
		return nil
	}
	if len(u.Codes) > 0 {
		cb := s.code.NewBatchWithSize(len(u.Codes))
		for _, c := range u.Codes {
			cb.Put(c.Hash, c.Blob)
		}
		if err := cb.Commit(); err != nil {
			return fmt.Errorf("chain: write code: %w", err)
		}
	}
	if u.Nodes == nil {
		return nil
	}
	batch := s.disk.NewBatch()
	size := 0
	for _, set := range u.Nodes.Sets {
		size += len(set.Nodes)
	}
	recent := make(map[common.Hash][]byte, size)
	for _, set := range u.Nodes.Sets {
		if err := writeNodes(batch, set, recent); err != nil {
			return err
		}
	}
	if err := batch.Write(); err != nil {
		return fmt.Errorf("chain: write trie nodes: %w", err)
	}
	s.recent.nodes.Store(&recent)
	return nil
}

// writeNodes puts set's new nodes into batch and recent, writing and
// resetting batch whenever it holds ethdb.IdealBatchSize bytes.
func writeNodes(batch ethdb.Batch, set *trienode.NodeSet, recent map[common.Hash][]byte) error {
	for _, n := range set.Nodes {
		if n.IsDeleted() {
			continue
		}
		rawdb.WriteLegacyTrieNode(batch, n.Hash, n.Blob)
		recent[n.Hash] = n.Blob
		if batch.ValueSize() >= ethdb.IdealBatchSize {
			if err := batch.Write(); err != nil {
				return fmt.Errorf("chain: write trie nodes: %w", err)
			}
			batch.Reset()
		}
	}
	return nil
}

// nodeCache holds the trie nodes of the last state committed, which are
// on disk (stored after the write), by hash. Read by any goroutine.
type nodeCache struct {
	nodes atomic.Pointer[map[common.Hash][]byte]
}

// nodeCacheDB is the database under the trie database: a Get of a
// 32-byte key (a trie node's, under the hash scheme) looks in the
// nodeCache first. The blob returned is shared: hashdb copies it into
// its clean cache and the trie decodes it without changing it.
type nodeCacheDB struct {
	ethdb.Database
	cache *nodeCache
}

func (d nodeCacheDB) Get(key []byte) ([]byte, error) {
	if len(key) == common.HashLength {
		if m := d.cache.nodes.Load(); m != nil {
			if blob, ok := (*m)[common.Hash(key)]; ok {
				return blob, nil
			}
		}
	}
	return d.Database.Get(key)
}

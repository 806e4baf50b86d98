package chain

import (
	"fmt"

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
// directly, each new node costs one batch Put; a later read of it
// misses the clean cache once, finds it on disk and caches it.
//
// The written bytes are what hashdb.Commit writes (under the hash
// scheme, node hash -> node blob, and code under its rawdb key); a
// deleted node is left on disk, as hashdb leaves it: another state may
// reference it. Genesis goes through triedb (Genesis.Commit), and
// nothing else commits to the triedb, so its dirty cache stays empty.
type stateStore struct {
	*state.MPTDatabase
	disk ethdb.KeyValueStore
	code *state.CodeDB
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
	for _, set := range u.Nodes.Sets {
		if err := writeNodes(batch, set); err != nil {
			return err
		}
	}
	if err := batch.Write(); err != nil {
		return fmt.Errorf("chain: write trie nodes: %w", err)
	}
	return nil
}

// writeNodes puts set's new nodes into batch, writing and resetting it
// whenever it holds ethdb.IdealBatchSize bytes.
func writeNodes(batch ethdb.Batch, set *trienode.NodeSet) error {
	for _, n := range set.Nodes {
		if n.IsDeleted() {
			continue
		}
		rawdb.WriteLegacyTrieNode(batch, n.Hash, n.Blob)
		if batch.ValueSize() >= ethdb.IdealBatchSize {
			if err := batch.Write(); err != nil {
				return fmt.Errorf("chain: write trie nodes: %w", err)
			}
			batch.Reset()
		}
	}
	return nil
}

package chain

import (
	"math/big"
	"path/filepath"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethdb"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/trie"
	"github.com/ethereum/go-ethereum/triedb"

	"github.com/hemi-go/hemi/internal/btc/indextest"
	"github.com/hemi-go/hemi/internal/node/indexadapt"
)

// TestStateOnDisk: every block's state, built (CommitBuilt) or inserted
// (InsertBlock), is complete on disk when the call returns — the account
// trie, every storage trie and the code — read through a trie database
// opened afresh on the chain's disk, with no cache, so nothing is found
// in memory (stateStore.Commit writes the nodes without triedb).
func TestStateOnDisk(t *testing.T) {
	f := newBTCFixture(t, 12)
	dir := t.TempDir()
	ix := indextest.Open(t, regtest, filepath.Join(dir, "btc"))
	defer ix.Close()
	indextest.Feed(t, ix, f.Blocks)
	gen := testGenesis(t, viewAt(t, indexadapt.NewChain(ix), f.Blocks[1]))
	seq := newHarness(t, ix, filepath.Join(dir, "seq"), gen)
	fol := newHarness(t, ix, filepath.Join(dir, "fol"), gen)

	u0, u1, u2 := userKeys[0], userKeys[1], userKeys[2]
	deploy := seq.signTx(u0, &types.DynamicFeeTx{ChainID: seq.cfg.ChainConfig.ChainID, Nonce: 0, GasTipCap: big.NewInt(2),
		GasFeeCap: big.NewInt(params.GWei), Gas: 200_000, Data: initCode(btcReaderRuntime)})
	contract := crypto.CreateAddress(addr(u0), 0)
	call := seq.signTx(u0, &types.LegacyTx{Nonce: 1, GasPrice: big.NewInt(params.GWei), Gas: 100_000, To: &contract})
	blocks := []*Block{
		seq.mine(viewAt(t, seq.btc, f.Blocks[7]), deploy, seq.transfer(u1, 0, addr(u2), 12345)),
		seq.mine(viewAt(t, seq.btc, f.Blocks[8]), call, seq.transfer(u1, 1, common.Address{0xaa}, 1)),
	}
	for _, b := range blocks {
		if err := fol.chain.InsertBlock(b); err != nil {
			t.Fatal(err)
		}
	}
	for _, h := range []*harness{seq, fol} {
		for i, b := range blocks {
			accounts, slots, code := walkState(t, h.chain.db, b.Header.Root)
			// Block 2's state holds the contract's two slots (block 1's
			// none) and its code.
			c := crypto.Keccak256Hash(contract[:])
			if !code[c] || (i == 1 && slots[c] != 2) || accounts < 4 {
				t.Fatalf("block %d: %d accounts, contract code %v, %d slots", i+1, accounts, code[c], slots[c])
			}
		}
	}
}

// walkState visits every node of the state at root on db through a new
// trie database without caches, and returns the number of accounts, the
// storage slots and whether the code is on disk, by hashed address. A
// missing node fails the test.
func walkState(t *testing.T, db ethdb.Database, root common.Hash) (int, map[common.Hash]int, map[common.Hash]bool) {
	t.Helper()
	tdb := triedb.NewDatabase(db, triedb.HashDefaults)
	defer tdb.Close()
	tr, err := trie.NewStateTrie(trie.StateTrieID(root), tdb)
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := tr.NodeIterator(nil)
	if err != nil {
		t.Fatal(err)
	}
	it := trie.NewIterator(nodes)
	accounts, slots, code := 0, map[common.Hash]int{}, map[common.Hash]bool{}
	for it.Next() {
		accounts++
		var acc types.StateAccount
		if err := rlp.DecodeBytes(it.Value, &acc); err != nil {
			t.Fatal(err)
		}
		key := common.BytesToHash(it.Key)
		if acc.Root != types.EmptyRootHash {
			str, err := trie.NewStateTrie(trie.StorageTrieID(root, common.BytesToHash(it.Key), acc.Root), tdb)
			if err != nil {
				t.Fatal(err)
			}
			snodes, err := str.NodeIterator(nil)
			if err != nil {
				t.Fatal(err)
			}
			sit := trie.NewIterator(snodes)
			n := 0
			for sit.Next() {
				n++
			}
			if sit.Err != nil {
				t.Fatalf("storage trie of %x: %v", it.Key, sit.Err)
			}
			slots[key] = n
		}
		if ch := common.BytesToHash(acc.CodeHash); ch != types.EmptyCodeHash {
			code[key] = crypto.Keccak256Hash(rawdb.ReadCode(db, ch)) == ch
		}
	}
	if it.Err != nil {
		t.Fatalf("account trie at %s: %v", root, it.Err)
	}
	return accounts, slots, code
}

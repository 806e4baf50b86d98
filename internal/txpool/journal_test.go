package txpool

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"
)

// TestJournalBatchTornTail: a batch is appended in one write; a crash
// that cuts the file anywhere inside that write (a torn tail) loses only
// the transactions cut, and the load reports it, keeping every complete
// transaction before the cut.
func TestJournalBatchTornTail(t *testing.T) {
	e := newEnv(t, 8, 3)
	to := common.Address{0xdd}
	first := []*types.Transaction{e.transfer(dev[0].Key, 0, to, 1, 1)}
	batch := []*types.Transaction{e.transfer(dev[0].Key, 1, to, 1, 1), e.transfer(dev[1].Key, 0, to, 1, 1), e.transfer(dev[2].Key, 0, to, 1, 1)}
	size := func(tx *types.Transaction) int64 {
		b, err := rlp.EncodeToBytes(tx)
		if err != nil {
			t.Fatal(err)
		}
		return int64(len(b))
	}
	base := size(first[0])
	for _, tc := range []struct {
		name string
		cut  int64 // bytes of the batch's write that reached the file
		keep int   // transactions loaded
		torn bool
	}{
		{"whole batch", size(batch[0]) + size(batch[1]) + size(batch[2]), 4, false},
		{"nothing of the batch", 0, 1, false},
		{"inside the first", 5, 1, true},
		{"after the first", size(batch[0]), 2, false},
		{"inside the last", size(batch[0]) + size(batch[1]) + size(batch[2]) - 1, 3, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "transactions.rlp")
			j := &journal{path: path}
			if err := j.open(); err != nil {
				t.Fatal(err)
			}
			if err := j.append(first); err != nil {
				t.Fatal(err)
			}
			if err := j.append(batch); err != nil {
				t.Fatal(err)
			}
			if err := j.close(); err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(path, base+tc.cut); err != nil {
				t.Fatal(err)
			}
			txs, err := j.load()
			if len(txs) != tc.keep || (err != nil) != tc.torn {
				t.Fatalf("loaded %d (want %d), err %v (torn %v)", len(txs), tc.keep, err, tc.torn)
			}
			all := append(append([]*types.Transaction{}, first...), batch...)
			for i, tx := range txs {
				if tx.Hash() != all[i].Hash() {
					t.Fatalf("tx %d: %s, want %s", i, tx.Hash(), all[i].Hash())
				}
			}
		})
	}
}

package genesis

import (
	"testing"

	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/triedb"
	"github.com/ethereum/go-ethereum/triedb/pathdb"
)

// TestCommitTwice: committing the same Spec again into the same database
// (a node restarting) gives the same header and leaves the state readable,
// under both trie schemes.
func TestCommitTwice(t *testing.T) {
	cases := []struct {
		name string
		cfg  *triedb.Config
	}{
		{"hash", triedb.HashDefaults},
		{"path", &triedb.Config{PathDB: pathdb.Defaults}},
	}
	s, accs := devSpec(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db := rawdb.NewMemoryDatabase()
			tdb := triedb.NewDatabase(db, c.cfg)
			h1, err := s.Commit(tdb)
			if err != nil {
				t.Fatal(err)
			}
			h2, err := s.Commit(tdb)
			if err != nil {
				t.Fatalf("second commit: %v", err)
			}
			if h1.Hash() != h2.Hash() {
				t.Fatal("second commit gives another header")
			}
			st, err := state.New(h1.Root, state.NewDatabase(tdb, nil))
			if err != nil {
				t.Fatal(err)
			}
			if st.GetBalance(accs[0].Address).ToBig().Cmp(DevBalance()) != 0 {
				t.Fatal("state not readable after commit")
			}
			if got := ReadView(st); !sameView(got, s.View) {
				t.Fatal("view not readable after commit")
			}
		})
	}
}

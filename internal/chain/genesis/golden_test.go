package genesis

import (
	"flag"
	"path/filepath"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/hemi-go/hemi/internal/golden"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenGenesis pins the devnet genesis (sequencer key of this package's
// tests, regtest genesis as the view, time 1,700,000,000) and block 1's
// view update. A change is a consensus change: every existing devnet's
// genesis hash changes with it.
type goldenGenesis struct {
	StateRoot         string `json:"state_root"`
	HeaderHash        string `json:"header_hash"`
	Extra             string `json:"extra"`
	ViewUpdate1Hash   string `json:"view_update_block1_hash"`
	ViewUpdate1Source string `json:"view_update_block1_source_hash"`
	HVMStateCodeHash  string `json:"hvmstate_code_keccak"`
}

func TestGoldenDevnetGenesis(t *testing.T) {
	s, _ := devSpec(t)
	h, st, err := s.InMemory()
	if err != nil {
		t.Fatal(err)
	}
	up, err := DeriveViewUpdate(regtestViews(t, 1)[1], 1)
	if err != nil {
		t.Fatal(err)
	}
	got := goldenGenesis{
		StateRoot:         h.Root.Hex(),
		HeaderHash:        h.Hash().Hex(),
		Extra:             "0x" + common.Bytes2Hex(h.Extra),
		ViewUpdate1Hash:   up.Hash().Hex(),
		ViewUpdate1Source: up.SourceHash.Hex(),
		HVMStateCodeHash:  st.GetCodeHash(HVMStateAddress).Hex(),
	}
	path := filepath.Join("testdata", "devnet_genesis.json")
	want := golden.JSON(t, path, got, *update)
	if got != want {
		t.Fatalf("devnet genesis changed:\n got %+v\nwant %+v", got, want)
	}
}

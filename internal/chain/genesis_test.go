package chain

import (
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
	"github.com/holiman/uint256"

	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/hvm"
)

// testGenesis is a regtest chain sequenced by seqKey whose genesis view is
// view, funding the test users and extra.
func testGenesis(t testing.TB, view hvm.Header, extra ...common.Address) *genesis.Spec {
	t.Helper()
	bal := new(big.Int).Mul(big.NewInt(1_000_000), big.NewInt(params.Ether))
	alloc := types.GenesisAlloc{}
	for _, k := range userKeys {
		alloc[addr(k)] = types.Account{Balance: bal}
	}
	for _, a := range extra {
		alloc[a] = types.Account{Balance: bal}
	}
	cfg := genesis.DevnetConfig(addr(seqKey))
	return &genesis.Spec{Config: cfg, Timestamp: 1_700_000_000, View: view, Alloc: alloc}
}

func genesisBalance(spec *genesis.Spec, a common.Address) (*uint256.Int, bool) {
	acc, ok := spec.Alloc[a]
	if !ok {
		return nil, false
	}
	return uint256.MustFromBig(acc.Balance), true
}

func genesisHeader(t testing.TB, spec *genesis.Spec) *types.Header {
	t.Helper()
	h, err := spec.Header()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

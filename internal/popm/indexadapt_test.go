package popm_test

import (
	"github.com/hemi-go/hemi/internal/btc/index"
	"github.com/hemi-go/hemi/internal/node/indexadapt"
	"github.com/hemi-go/hemi/internal/popm"
)

// init gives the tests of package popm the assembly's in-process adapter
// (see popm.NewIndexBitcoinHook).
func init() {
	popm.NewIndexBitcoinHook = func(ix *index.Index, peers popm.IndexPeers, fees popm.IndexFees) popm.Bitcoin {
		return indexadapt.PoPMiner{Index: ix, Peers: peers, Fees: fees}
	}
}

package hvm_test

import (
	"github.com/btcsuite/btcd/chainhash/v2"

	"github.com/hemi-go/hemi/internal/btc/index"
	"github.com/hemi-go/hemi/internal/hvm"
	"github.com/hemi-go/hemi/internal/node/indexadapt"
)

// init gives the tests of package hvm the assembly's view adapter (see
// hvm.NewIndexViewHook).
func init() {
	hvm.NewIndexViewHook = func(ix *index.Index, hash chainhash.Hash) (hvm.IndexView, error) {
		v, err := indexadapt.NewView(ix, hash)
		if err != nil {
			return nil, err // a nil interface, not a typed nil
		}
		return v, nil
	}
}

package hvm

import (
	"errors"

	"github.com/btcsuite/btcd/chainhash/v2"

	"github.com/hemi-go/hemi/internal/btc/index"
)

// IndexView is the assembly's view over the Bitcoin index
// (internal/node/indexadapt.View) as these tests use it: a BitcoinView
// that remembers its failures (Err, invariant 3).
type IndexView interface {
	BitcoinView
	Err() error
}

// NewIndexViewHook makes the assembly's view. A test of package hvm cannot
// import indexadapt, which imports hvm, so indexadapt_test.go (package
// hvm_test, linked into the same test binary) sets it at init: the golden,
// reorg and failure tests run on the very adapter a node runs.
var NewIndexViewHook func(ix *index.Index, hash chainhash.Hash) (IndexView, error)

// NewIndexView pins the assembly's view of ix to hash (NewIndexViewHook).
func NewIndexView(ix *index.Index, hash chainhash.Hash) (IndexView, error) {
	if NewIndexViewHook == nil {
		return nil, errors.New("hvm test: NewIndexViewHook is not set (indexadapt_test.go sets it)")
	}
	return NewIndexViewHook(ix, hash)
}

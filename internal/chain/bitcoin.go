package chain

import (
	"errors"
	"fmt"
	"math/big"

	"github.com/btcsuite/btcd/chainhash/v2"

	"github.com/hemi-go/hemi/internal/btc/index"
	"github.com/hemi-go/hemi/internal/hvm"
)

var _ Bitcoin = (*IndexBitcoin)(nil)

// IndexBitcoin is the Bitcoin interface over the Bitcoin index.
type IndexBitcoin struct{ ix *index.Index }

// NewIndexBitcoin adapts ix.
func NewIndexBitcoin(ix *index.Index) *IndexBitcoin { return &IndexBitcoin{ix: ix} }

// notReady maps the index's "I do not have it (yet)" errors to
// ErrViewNotReady and leaves real failures as they are.
func notReady(err error) error {
	if errors.Is(err, index.ErrUnknownBlock) || errors.Is(err, index.ErrNotIndexed) {
		return fmt.Errorf("%w: %w", ErrViewNotReady, err)
	}
	return err
}

// ViewHeader returns the header, height and cumulative work of an indexed
// block.
func (b *IndexBitcoin) ViewHeader(hash chainhash.Hash) (hvm.Header, *big.Int, error) {
	// HeaderByHash as of the block itself fails with ErrNotIndexed for a
	// header whose block is not indexed yet.
	hi, err := b.ix.HeaderByHash(hash, hash)
	if err != nil {
		return hvm.Header{}, nil, notReady(err)
	}
	return hvm.Header{Height: hi.Height, Hash: hi.Hash, Header: hi.Header}, hi.Work, nil
}

// Contains reports whether ancestor is in the chain of descendant.
func (b *IndexBitcoin) Contains(ancestor, descendant chainhash.Hash) (bool, error) {
	_, err := b.ix.HeaderByHash(ancestor, descendant)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, index.ErrNotFound):
		return false, nil
	default:
		return false, notReady(err)
	}
}

// TipHeight returns the height of the index's connected chain.
func (b *IndexBitcoin) TipHeight() int32 {
	_, h := b.ix.BlockTip()
	return h
}

// View pins an hvm.IndexView to hash.
func (b *IndexBitcoin) View(hash chainhash.Hash) (hvm.BitcoinView, error) {
	v, err := hvm.NewIndexView(b.ix, hash)
	if err != nil {
		return nil, notReady(err)
	}
	return v, nil
}

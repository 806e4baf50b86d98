package index

import (
	"bytes"
	"fmt"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/cockroachdb/pebble/v2"
)

// SpendsIn returns the spends, in blocks fromHeight to toHeight of the
// chain as of asOf, of outputs paying script: each the spent output
// (UTXO: where it was created) with the input that spent it (Spend), in
// the order of the spending blocks, then position and input index. The
// tunnel's vault watch reads the spends of its vault block by block with
// it, so its reads are the spend records of those blocks (one per record,
// one more per spend for the spending txid) plus those of other forks at
// the same heights, however long the vault's history is.
func (ix *Index) SpendsIn(script []byte, fromHeight, toHeight int32, asOf chainhash.Hash) ([]Output, error) {
	var out []Output
	err := ix.query(asOf, func(v *view) error {
		fromHeight = max(fromHeight, 0)
		toHeight = min(toHeight, v.tip.height)
		if toHeight < fromHeight {
			return nil
		}
		prefix := changePrefix(script)
		lower := be.AppendUint32(bytes.Clone(prefix), uint32(fromHeight))
		upper := be.AppendUint32(bytes.Clone(prefix), uint32(toHeight)+1)
		it, err := ix.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
		if err != nil {
			return fmt.Errorf("index: spends in: %w", err)
		}
		defer it.Close()
		spends, err := ix.db.NewIter(&pebble.IterOptions{LowerBound: []byte{pfxSpend}, UpperBound: []byte{pfxSpend + 1}})
		if err != nil {
			return fmt.Errorf("index: spends: %w", err)
		}
		defer spends.Close()
		var reads uint64
		defer func() { ix.reads.Add(reads) }()
		for ok := it.SeekPrefixGE(lower); ok; ok = it.Next() {
			reads++
			k, err := decodeChangeKey(it.Key())
			if err != nil {
				return err
			}
			if k.kind != changeSpend {
				continue
			}
			if _, in := ix.contains(v, k.id); !in {
				continue
			}
			val, err := it.ValueAndErr()
			if err != nil {
				return fmt.Errorf("index: spends in: %w", err)
			}
			u, err := decodeChange(&k, val)
			if err != nil {
				return err
			}
			op := u.outpoint()
			reads++
			sp, spent, err := ix.findSpend(v, spends, &op)
			if err != nil {
				return err
			}
			if !spent {
				continue // a duplicate coinbase's overwrite (duplicateTxids): no input spent it
			}
			created := ix.at(v, u.height)
			if created == nil {
				return fmt.Errorf("%w: output %s spent at height %d created at %d above the view", ErrCorrupt, op, k.height, u.height)
			}
			out = append(out, Output{UTXO: UTXO{Outpoint: op, Value: u.value, Height: u.height, BlockHash: created.hash, Index: u.pos},
				Spent: true, Spend: sp})
		}
		if err := it.Error(); err != nil {
			return fmt.Errorf("index: spends in: %w", err)
		}
		return nil
	})
	return out, err
}

package index

import (
	"bytes"

	"github.com/btcsuite/btcd/chainhash/v2"
)

// OutputsFrom returns up to max outputs (max <= 0: 1000) paying script in
// the chain as of asOf, spent or not, in the order of UTXOs (height,
// position in block, output index), starting at the output (height, pos,
// vout) of that order (included) and ending with the outputs of the block
// at toHeight. The tunnel's deposit deriver resumes its scan of the vault's
// outputs from a cursor with it, so the records it reads are the outputs
// it returns plus those of other forks at the same heights, however many
// outputs the blocks before the cursor hold.
func (ix *Index) OutputsFrom(script []byte, height int32, pos, vout uint32, toHeight int32, max int, asOf chainhash.Hash) ([]Output, error) {
	if max <= 0 {
		max = 1000
	}
	var out []Output
	err := ix.query(asOf, func(v *view) error {
		if height < 0 {
			height, pos, vout = 0, 0, 0
		}
		if toHeight < height {
			return nil
		}
		prefix := changePrefix(script)
		lower := be.AppendUint32(bytes.Clone(prefix), uint32(height))
		// Inside the view's block at height the key goes on with the
		// block's id, the record kind, the position and output index.
		if n := ix.at(v, height); n != nil && (pos != 0 || vout != 0) {
			lower = be.AppendUint32(lower, n.id)
			lower = append(lower, changeCreate)
			lower = be.AppendUint32(lower, pos)
			lower = be.AppendUint32(lower, vout)
		}
		return ix.scanOutputsRange(v, prefix, lower, toHeight, true, func(o *Output) bool {
			out = append(out, *o)
			return len(out) < max
		})
	})
	return out, err
}

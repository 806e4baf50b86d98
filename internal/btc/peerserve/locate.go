package peerserve

import (
	"github.com/btcsuite/btcd/chainhash/v2"
)

// locate returns the best-chain hashes a getheaders or getblocks request
// asks for, following btcd's and Bitcoin Core's rules: with an empty
// locator only the stop block (if known); otherwise the blocks after the
// newest locator entry on the best chain (genesis when none is), up to the
// stop block or max entries.
func locate(src Source, locator []*chainhash.Hash, stop *chainhash.Hash, max int) []chainhash.Hash {
	if len(locator) == 0 {
		if stop == nil {
			return nil
		}
		if _, err := src.Header(*stop); err != nil {
			return nil
		}
		return []chainhash.Hash{*stop}
	}
	start := int32(0)
	for _, h := range locator {
		if h == nil {
			continue
		}
		if height, ok := src.HeightOf(*h); ok {
			start = height
			break
		}
	}
	start++
	_, tip := src.Tip()
	if start > tip {
		return nil
	}
	end := tip
	if stop != nil {
		if sh, ok := src.HeightOf(*stop); ok && sh >= start && sh < end {
			end = sh
		}
	}
	if n := int64(end) - int64(start) + 1; n > int64(max) {
		end = start + int32(max) - 1
	}
	out := make([]chainhash.Hash, 0, end-start+1)
	for h := start; h <= end; h++ {
		hash, ok := src.HashAt(h)
		if !ok {
			break // the chain shrank under us (reorg); serve what we have
		}
		out = append(out, hash)
	}
	return out
}

// buildLocator returns a block locator of src's best chain: the tip, the
// nine blocks below it, then exponentially sparser blocks, then genesis.
func buildLocator(src Source) []*chainhash.Hash {
	_, height := src.Tip()
	out := make([]*chainhash.Hash, 0, 32)
	step := int32(1)
	for h := height; h > 0; h -= step {
		hash, ok := src.HashAt(h)
		if !ok {
			break
		}
		out = append(out, &hash)
		if len(out) >= 10 {
			step *= 2
		}
	}
	if g, ok := src.HashAt(0); ok {
		out = append(out, &g)
	}
	return out
}

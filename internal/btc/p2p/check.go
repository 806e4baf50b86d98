package p2p

import (
	"fmt"
	"math/big"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// checkHeaders runs the checks a headers message must pass before it reaches
// the Chain, none of which needs stored state: each header's hash meets the
// target its own bits encode, that target is positive and within the
// network's proof-of-work limit, and each header names the previous one in
// the message as its parent. It copies the headers into a value slice for
// Chain.AcceptHeaders. Errors wrap ErrInvalid.
func checkHeaders(hdrs []*wire.BlockHeader, powLimit *big.Int) ([]wire.BlockHeader, error) {
	out := make([]wire.BlockHeader, len(hdrs))
	for i, h := range hdrs {
		if h == nil {
			return nil, fmt.Errorf("%w: header %d missing", ErrInvalid, i)
		}
		hash := h.BlockHash()
		if err := checkPoW(h.Bits, &hash, powLimit); err != nil {
			return nil, fmt.Errorf("header %d (%s): %w", i, hash, err)
		}
		if i > 0 {
			if prev := out[i-1].BlockHash(); h.PrevBlock != prev {
				return nil, fmt.Errorf("%w: header %d (%s) does not follow header %d", ErrInvalid, i, hash, i-1)
			}
		}
		out[i] = *h
	}
	return out, nil
}

// checkPoW reports whether hash meets the target encoded by bits and that
// target is positive and within powLimit.
func checkPoW(bits uint32, hash *chainhash.Hash, powLimit *big.Int) error {
	target := blockchain.CompactToBig(bits)
	if target.Sign() <= 0 {
		return fmt.Errorf("%w: target of bits %08x is not positive", ErrInvalid, bits)
	}
	if powLimit != nil && target.Cmp(powLimit) > 0 {
		return fmt.Errorf("%w: target of bits %08x is above the network limit", ErrInvalid, bits)
	}
	if blockchain.HashToBig(hash).Cmp(target) > 0 {
		return fmt.Errorf("%w: hash above target of bits %08x (proof of work)", ErrInvalid, bits)
	}
	return nil
}

package pop

import (
	"cmp"
	"slices"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"
)

// Publication is one Bitcoin output carrying a keystone: what the index
// stores, what finality counts and what PoP rewards pay for. It is the one
// type for the concept so that its Bitcoin order (Compare) is written once:
// finality's "earliest publication" and the reward rule's "first publisher"
// must agree on which of two publications came first.
type Publication struct {
	Keystone  [32]byte       // the keystone id published
	Txid      chainhash.Hash // the PoP transaction
	Vout      uint32         // its PoP (OP_RETURN) output
	BlockHash chainhash.Hash // the Bitcoin block holding the transaction
	Height    int32          // that block's height
	TxIndex   uint32         // position of the transaction in that block
	// Publisher is the Ethereum address of the key that signed the PoP
	// transaction's first input; nil when it cannot be identified or was
	// not looked up (finding it reads transactions, so only the reward
	// rule asks for it), and such a publication earns nothing.
	Publisher *common.Address
}

// Compare orders publications in Bitcoin order: height, then position of
// the transaction in its block, then output. It returns -1, 0 or +1 as
// cmp.Compare does; two outputs of one transaction differ by Vout.
func (p *Publication) Compare(q *Publication) int {
	if c := cmp.Compare(p.Height, q.Height); c != 0 {
		return c
	}
	if c := cmp.Compare(p.TxIndex, q.TxIndex); c != 0 {
		return c
	}
	return cmp.Compare(p.Vout, q.Vout)
}

// Before reports whether p comes before q in Bitcoin order.
func (p *Publication) Before(q *Publication) bool { return p.Compare(q) < 0 }

// SortPublications sorts ps in Bitcoin order, in place; equal positions
// keep their order.
func SortPublications(ps []Publication) {
	slices.SortStableFunc(ps, func(a, b Publication) int { return a.Compare(&b) })
}

// BlockPublications lists the PoP outputs of a Bitcoin block in block order
// (scripts that do not parse as a PoP payload are not publications).
func BlockPublications(msg *wire.MsgBlock) []Publication {
	var out []Publication
	for i, tx := range msg.Transactions {
		var txid chainhash.Hash
		for v, o := range tx.TxOut {
			if len(o.PkScript) != ScriptSize {
				continue
			}
			k, err := ParseScript(o.PkScript)
			if err != nil {
				continue
			}
			if txid == (chainhash.Hash{}) {
				txid = tx.TxHash()
			}
			out = append(out, Publication{Keystone: k.ID(), Txid: txid, Vout: uint32(v), TxIndex: uint32(i)})
		}
	}
	return out
}

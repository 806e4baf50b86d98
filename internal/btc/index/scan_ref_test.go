package index

import "github.com/btcsuite/btcd/chainhash/v2"

// The scan-based answers the index gave before the per-script unspent
// set: every output ever paid to the script, each checked against the
// spend table. Kept as the reference the bounded queries are compared
// with (TestUTXOSetMatchesScan).

// balanceScan returns the sum of the outputs paying script that are unspent as
// of asOf (zero: the block tip).
func (ix *Index) balanceScan(script []byte, asOf chainhash.Hash) (int64, error) {
	var total int64
	err := ix.query(asOf, func(v *view) error {
		return ix.scanUnspent(v, script, func(u *UTXO) bool {
			total += u.Value
			return true
		})
	})
	return total, err
}

// utxosScan returns page number page (from 0) of pageSize unspent outputs paying
// script as of asOf, ordered by height, position in block, then output
// index. pageSize <= 0 means 10.
func (ix *Index) utxosScan(script []byte, page, pageSize int, asOf chainhash.Hash) ([]UTXO, error) {
	if pageSize <= 0 {
		pageSize = 10
	}
	if page < 0 {
		page = 0
	}
	skip := page * pageSize
	var out []UTXO
	err := ix.query(asOf, func(v *view) error {
		return ix.scanUnspent(v, script, func(u *UTXO) bool {
			if skip > 0 {
				skip--
				return true
			}
			out = append(out, *u)
			return len(out) < pageSize
		})
	})
	return out, err
}

// scanUnspent calls fn, in key order, with each output paying script that
// is in the view and not spent in the view, until fn returns false.
func (ix *Index) scanUnspent(v *view, script []byte, fn func(*UTXO) bool) error {
	return ix.scanOutputs(v, script, 0, false, func(o *Output) bool { return fn(&o.UTXO) })
}

package index

import (
	"bytes"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
)

// comparer orders keys bytewise, like pebble's default, but splits the
// hash-addressed keys into a prefix (what a lookup knows: table byte plus
// txid, outpoint, script hash or keystone id) and a suffix (the block id
// and position). Pebble builds its bloom filters on the prefix, so the
// prefix seeks of queries skip every sstable that cannot hold the key —
// which matters right after a sync, when L0 holds many overlapping tables.
// The name is stored in the database: changing Split needs a new name.
var comparer = func() *pebble.Comparer {
	c := *pebble.DefaultComparer
	c.Name = "hemi.btcindex.v2"
	c.Split = splitKey
	c.Compare = bytes.Compare
	c.Equal = bytes.Equal
	c.ComparePointSuffixes = bytes.Compare
	c.CompareRangeSuffixes = bytes.Compare
	return &c
}()

// splitKey returns the prefix length of k (see comparer). Keys shorter
// than their table's prefix (iterator bounds) are all prefix.
func splitKey(k []byte) int {
	if len(k) == 0 {
		return 0
	}
	var n int
	switch k[0] {
	case pfxSpend:
		n = spendKeyLen - 4 // s | txid | vout
	case pfxTx, pfxPop, pfxChange, pfxUnspent:
		n = 1 + 32
	default:
		return len(k)
	}
	return min(n, len(k))
}

// filterPolicy is a 10-bits-per-key bloom filter (about 1% false
// positives) on key prefixes.
var filterPolicy = bloom.FilterPolicy(10)

package index

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/hemi-go/hemi/internal/pop"
)

// Index names; each has its own tip under tipKey(name).
const (
	canonIndexName = "canonical"
	txIndexName    = "tx"
	outIndexName   = "outputs"
	popIndexName   = "pop"
	utxoIndexName  = "utxo"
)

// indexNames lists every index whose tip moves with the connected chain.
// The unspent set's tip (utxoIndexName) moves when the set is stored
// (mainSet).
var indexNames = []string{canonIndexName, txIndexName, outIndexName, popIndexName}

// dataIndex writes the entries one block contributes to one index. Entries
// are never deleted: each names the block (node id) it came from, and
// queries count it only when that block is in the as-of chain.
type dataIndex struct {
	name  string
	write func(w *entryWriter, n *node, bd *blockData)
}

var dataIndexes = []dataIndex{
	{txIndexName, writeTxEntries},
	{outIndexName, writeOutputEntries},
	{popIndexName, writePopEntries},
}

func writeTxEntries(w *entryWriter, n *node, bd *blockData) {
	for i := range bd.txids {
		k, v := w.set(txKeyLen, txValLen)
		putTxKey(k, &bd.txids[i], n.id)
		putTxVal(v, txLoc{Pos: uint32(i), Offset: bd.offs[i], Size: bd.offs[i+1] - bd.offs[i]})
	}
}

// writeOutputEntries indexes every input (but the coinbase's) as the
// spend of its outpoint. The outputs paying a script are the change
// records of the unspent set (applyBlock), written for every connected
// block.
func writeOutputEntries(w *entryWriter, n *node, bd *blockData) {
	for i, tx := range bd.msg.Transactions {
		if i == 0 {
			continue // the coinbase spends nothing
		}
		txid := &bd.txids[i]
		for vin, in := range tx.TxIn {
			k, v := w.set(spendKeyLen, spendValLen)
			putSpendKey(k, &in.PreviousOutPoint, n.id)
			putSpendVal(v, txid, uint32(vin), uint32(i))
		}
	}
}

const opReturn = 0x6a

// writePopEntries indexes outputs that publish a keystone (DESIGN section 4).
func writePopEntries(w *entryWriter, n *node, bd *blockData) {
	for i, tx := range bd.msg.Transactions {
		for v, out := range tx.TxOut {
			s := out.PkScript
			if len(s) != pop.ScriptSize || s[0] != opReturn {
				continue
			}
			ks, err := pop.ParseScript(s)
			if err != nil {
				continue
			}
			pk := popKey{Keystone: ks.ID(), ID: n.id, Pos: uint32(i), Vout: uint32(v)}
			k, v := w.set(popKeyLen, popValLen)
			putPopKey(k, &pk)
			copy(v, bd.txids[i][:])
		}
	}
}

// catchUp brings every data index whose tip is behind the block tip (a new
// index, or one whose entries were dropped) up to it, reading stored
// blocks. Runs in Open before anything else uses the index.
func (ix *Index) catchUp() error {
	tip := ix.main[len(ix.main)-1]
	for _, x := range dataIndexes {
		start, stored, err := ix.indexStart(x.name)
		if err != nil {
			return err
		}
		if start > tip.height {
			if stored == tip {
				// Up to date (a new database's are): a write here
				// would sit in the memtable under the first
				// ingested table (see the key layout in keys.go).
				continue
			}
			if err := ix.db.Set(tipKey(x.name), encodeTip(tip.id, &tip.hash), pebble.Sync); err != nil {
				return fmt.Errorf("index: set %s tip: %w", x.name, err)
			}
			continue
		}
		ix.log.Info("bitcoin index catching up", "index", x.name, "from", start, "to", tip.height)
		// Side-fork blocks were indexed without this index's entries;
		// forget that so as-of queries on them report ErrNotIndexed.
		if err := ix.unmarkSideForks(); err != nil {
			return err
		}
		w := newEntryWriter()
		for h := start; h <= tip.height; h++ {
			n := ix.main[h]
			bd, err := ix.takeBlock(n)
			if err != nil {
				return err
			}
			x.write(w, n, bd)
			if w.memSize >= ix.batchBytes || h == tip.height {
				w.put(tipKey(x.name), encodeTip(n.id, &n.hash))
				b := ix.db.NewBatchWithSize(w.size() + 16*len(w.refs))
				w.writeTo(b)
				err := b.Commit(pebble.NoSync)
				_ = b.Close()
				if err != nil {
					return fmt.Errorf("index: catch up %s at height %d: %w", x.name, h, err)
				}
				w.reset()
			}
		}
		if err := ix.db.LogData(nil, pebble.Sync); err != nil {
			return fmt.Errorf("index: sync: %w", err)
		}
	}
	return nil
}

// indexStart returns the first height the named index lacks on the
// connected chain, and the block its stored tip names (nil if none).
func (ix *Index) indexStart(name string) (int32, *node, error) {
	v, closer, err := ix.db.Get(tipKey(name))
	if errors.Is(err, pebble.ErrNotFound) {
		return 1, nil, nil // genesis has nothing to index
	}
	if err != nil {
		return 0, nil, fmt.Errorf("index: read %s tip: %w", name, err)
	}
	id, hash, err := decodeTip(v)
	_ = closer.Close()
	if err != nil {
		return 0, nil, err
	}
	if int(id) >= len(ix.nodes) || ix.nodes[id].hash != hash {
		return 1, nil, nil
	}
	stored := ix.nodes[id]
	n := stored
	for n != nil && !ix.onMain(n) {
		n = n.parent
	}
	if n == nil {
		return 1, stored, nil
	}
	return n.height + 1, stored, nil
}

// unmarkSideForks clears the indexed flag of blocks off the connected
// chain.
func (ix *Index) unmarkSideForks() error {
	b := ix.db.NewBatch()
	defer b.Close()
	var side []*node
	for _, n := range ix.nodes {
		if n.has(statusIndexed) && !ix.onMain(n) {
			side = append(side, n)
			_ = b.Delete(idKey(pfxIndexed, n.id), nil)
		}
	}
	if len(side) == 0 {
		return nil
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("index: unmark side forks: %w", err)
	}
	for _, n := range side {
		n.clearFlag(statusIndexed)
	}
	return nil
}

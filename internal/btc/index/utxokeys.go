package index

import (
	"fmt"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// Tables of the per-script unspent set (see "Per-script unspent set" in the
// package documentation). u, p and a are the current state at the block
// tip and are the only tables whose entries are deleted; d and j are never
// deleted.
//
//	u | sha256(script) | height | pos | vout           -> txid(32) | value(8)
//	p | txid(32) | vout                                -> sha256(script) | height | pos | value(8)
//	a | sha256(script)                                 -> balance(8)
//	d | sha256(script) | height | id | kind | pos | n  -> create: txid(32) | value(8)
//	                                                      spend: height | pos | vout | txid(32) | value(8)
//	j | id                                             -> undo: sha256(script) of each script it spent from
//
// A change record (d) is one creation (kind 0; pos and n are the creating
// tx's position and the output index) or one spend (kind 1; pos and n are
// the spending tx's position and the input index) of an output paying
// the script, in block id at height; its value is the output. A block's
// records sort creations before spends, which is the order that replays
// the block. The undo record (j) lists, once each, the scripts whose
// outputs of earlier blocks the block spent: a disconnect restores them
// from those scripts' spend records of the block.
const (
	pfxUnspent  = 'u'
	pfxOutpoint = 'p'
	pfxBalance  = 'a'
	pfxChange   = 'd'
	pfxUndo     = 'j'
)

const (
	unspentKeyLen  = 1 + 32 + 4 + 4 + 4
	unspentValLen  = 32 + 8
	outpointKeyLen = 1 + 32 + 4
	outpointValLen = 32 + 4 + 4 + 8
	balanceKeyLen  = 1 + 32
	balanceValLen  = 8
	changeKeyLen   = 1 + 32 + 4 + 4 + 1 + 4 + 4
	changeValLen   = 4 + 4 + 4 + 32 + 8
)

// Kinds of change records.
const (
	changeCreate = 0
	changeSpend  = 1
)

// utxo is one output of the per-script unspent set: the script's hash,
// its place in the chain (the 0x41 order: height, position of the tx in
// its block, output index) and what a query returns.
type utxo struct {
	sh     [32]byte
	height int32
	pos    uint32
	vout   uint32
	txid   chainhash.Hash
	value  int64
}

func (u *utxo) outpoint() wire.OutPoint { return wire.OutPoint{Hash: u.txid, Index: u.vout} }

// ord is u's place in the 0x41 order, unique among the outputs of a view.
type ord struct {
	height int32
	pos    uint32
	vout   uint32
}

func (u *utxo) ord() ord { return ord{u.height, u.pos, u.vout} }

func (a ord) less(b ord) bool {
	if a.height != b.height {
		return a.height < b.height
	}
	if a.pos != b.pos {
		return a.pos < b.pos
	}
	return a.vout < b.vout
}

func putUnspentKey(k []byte, u *utxo) {
	k[0] = pfxUnspent
	copy(k[1:33], u.sh[:])
	be.PutUint32(k[33:37], uint32(u.height))
	be.PutUint32(k[37:41], u.pos)
	be.PutUint32(k[41:45], u.vout)
}

func putUnspentVal(v []byte, u *utxo) {
	copy(v[0:32], u.txid[:])
	be.PutUint64(v[32:40], uint64(u.value))
}

// decodeUnspent decodes a u entry.
func decodeUnspent(k, v []byte) (utxo, error) {
	var u utxo
	if len(k) != unspentKeyLen || k[0] != pfxUnspent || len(v) != unspentValLen {
		return u, fmt.Errorf("%w: unspent entry %x = %x", ErrCorrupt, k, v)
	}
	copy(u.sh[:], k[1:33])
	u.height = int32(be.Uint32(k[33:37]))
	u.pos = be.Uint32(k[37:41])
	u.vout = be.Uint32(k[41:45])
	copy(u.txid[:], v[0:32])
	u.value = int64(be.Uint64(v[32:40]))
	return u, nil
}

func putOutpointKey(k []byte, op *wire.OutPoint) {
	k[0] = pfxOutpoint
	copy(k[1:33], op.Hash[:])
	be.PutUint32(k[33:37], op.Index)
}

func putOutpointVal(v []byte, u *utxo) {
	copy(v[0:32], u.sh[:])
	be.PutUint32(v[32:36], uint32(u.height))
	be.PutUint32(v[36:40], u.pos)
	be.PutUint64(v[40:48], uint64(u.value))
}

// decodeOutpointVal decodes the p entry of op.
func decodeOutpointVal(op *wire.OutPoint, v []byte) (utxo, error) {
	var u utxo
	if len(v) != outpointValLen {
		return u, fmt.Errorf("%w: outpoint entry of %s is %d bytes", ErrCorrupt, op, len(v))
	}
	copy(u.sh[:], v[0:32])
	u.height = int32(be.Uint32(v[32:36]))
	u.pos = be.Uint32(v[36:40])
	u.value = int64(be.Uint64(v[40:48]))
	u.txid, u.vout = op.Hash, op.Index
	return u, nil
}

func balanceKey(sh *[32]byte) []byte {
	k := make([]byte, balanceKeyLen)
	k[0] = pfxBalance
	copy(k[1:], sh[:])
	return k
}

func decodeBalance(v []byte) (int64, error) {
	if len(v) != balanceValLen {
		return 0, fmt.Errorf("%w: balance is %d bytes", ErrCorrupt, len(v))
	}
	return int64(be.Uint64(v)), nil
}

// changeKey names one change record.
type changeKey struct {
	sh     [32]byte
	height int32
	id     uint32
	kind   uint8
	pos    uint32
	n      uint32
}

func putChangeKey(k []byte, c *changeKey) {
	k[0] = pfxChange
	copy(k[1:33], c.sh[:])
	be.PutUint32(k[33:37], uint32(c.height))
	be.PutUint32(k[37:41], c.id)
	k[41] = c.kind
	be.PutUint32(k[42:46], c.pos)
	be.PutUint32(k[46:50], c.n)
}

func decodeChangeKey(k []byte) (changeKey, error) {
	var c changeKey
	if len(k) != changeKeyLen || k[0] != pfxChange || k[41] > changeSpend {
		return c, fmt.Errorf("%w: change key %x", ErrCorrupt, k)
	}
	copy(c.sh[:], k[1:33])
	c.height = int32(be.Uint32(k[33:37]))
	c.id = be.Uint32(k[37:41])
	c.kind = k[41]
	c.pos = be.Uint32(k[42:46])
	c.n = be.Uint32(k[46:50])
	return c, nil
}

// changeCreateValLen is a creation record's value: the key has the rest.
const changeCreateValLen = 32 + 8

// putChangeVal writes a change record's value: for a creation the txid
// and value (height, position and output index are the key's), for a
// spend the whole spent output but its script hash (the key's).
func putChangeVal(v []byte, kind uint8, u *utxo) {
	if kind == changeCreate {
		copy(v[0:32], u.txid[:])
		be.PutUint64(v[32:40], uint64(u.value))
		return
	}
	be.PutUint32(v[0:4], uint32(u.height))
	be.PutUint32(v[4:8], u.pos)
	be.PutUint32(v[8:12], u.vout)
	copy(v[12:44], u.txid[:])
	be.PutUint64(v[44:52], uint64(u.value))
}

// decodeChange decodes the output of the change record k = v.
func decodeChange(k *changeKey, v []byte) (utxo, error) {
	u := utxo{sh: k.sh}
	if k.kind == changeCreate {
		if len(v) != changeCreateValLen {
			return u, fmt.Errorf("%w: creation record value is %d bytes", ErrCorrupt, len(v))
		}
		u.height, u.pos, u.vout = k.height, k.pos, k.n
		copy(u.txid[:], v[0:32])
		u.value = int64(be.Uint64(v[32:40]))
		return u, nil
	}
	if len(v) != changeValLen {
		return u, fmt.Errorf("%w: spend record value is %d bytes", ErrCorrupt, len(v))
	}
	u.height = int32(be.Uint32(v[0:4]))
	u.pos = be.Uint32(v[4:8])
	u.vout = be.Uint32(v[8:12])
	copy(u.txid[:], v[12:44])
	u.value = int64(be.Uint64(v[44:52]))
	return u, nil
}

// decodeUndo decodes an undo record: the distinct script hashes whose
// outputs of earlier blocks the block spent.
func decodeUndo(v []byte) ([][32]byte, error) {
	if len(v)%32 != 0 {
		return nil, fmt.Errorf("%w: undo record is %d bytes", ErrCorrupt, len(v))
	}
	shs := make([][32]byte, len(v)/32)
	for i := range shs {
		copy(shs[i][:], v[i*32:])
	}
	return shs, nil
}

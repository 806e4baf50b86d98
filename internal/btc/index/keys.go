package index

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// Key layout. Every key starts with a one-byte prefix naming its table;
// integers are big-endian so keys sort numerically. A block is named inside
// keys by its node id (uint32, assigned in header arrival order and never
// reused), which is what lets entries of several forks live side by side.
//
//	H | id                                 -> header(80) | status(1)  (statusHaveData only)
//	B | id                                 -> raw block (wire encoding with witness)
//	i | id                                 -> (empty)              (the block is indexed)
//	c | height                             -> id | hash(32)        (canonical chain)
//	t | txid(32) | id                      -> pos | offset | size  (tx location)
//	s | txid(32) | vout | id               -> spending txid(32) | vin | pos
//	k | keystone id(32) | id | pos | vout  -> txid(32)
//	e | seq(8)                             -> kind(1) | id | height | hash(32)
//	T | index name                         -> id | hash(32)        (index tip)
//	m | name                               -> metadata (m|"format": version, see formatVersion)
//
// The per-script unspent set's tables (u, p, a, d, j) are in utxokeys.go;
// the outputs paying a script are its change records of kind create (d).
//
// Headers and blocks (H, B) sort below every table a connect writes (T
// and up), and a connect writes neither: it marks a block indexed in i
// instead of rewriting its header record. So the memtable, which holds
// what header and block acceptance write, never overlaps the sstable a
// full sync batch is ingested as (ingest.go): pebble would otherwise
// flush the memtable at every ingestion (an L0 table of raw blocks per
// batch, each a sublevel over the batches' key range, compacted with
// them), where now it flushes only when it is full, into L0 tables a
// compaction of the index tables never rewrites. Format 3 (see
// formatVersion) introduced this layout.
const (
	pfxHeader  = 'H'
	pfxBlock   = 'B'
	pfxIndexed = 'i'
	pfxCanon   = 'c'
	pfxTx      = 't'
	pfxSpend   = 's'
	pfxPop     = 'k'
	pfxEvent   = 'e'
	pfxTip     = 'T'
	pfxMeta    = 'm'
)

// Sizes of fixed-layout keys and values.
const (
	headerRecLen = wire.MaxBlockHeaderPayload + 1 // 81
	idKeyLen     = 1 + 4
	canonValLen  = 4 + 32
	txKeyLen     = 1 + 32 + 4
	txValLen     = 12
	spendKeyLen  = 1 + 32 + 4 + 4
	spendValLen  = 32 + 4 + 4
	popKeyLen    = 1 + 32 + 4 + 4 + 4
	popValLen    = 32
	eventKeyLen  = 1 + 8
	eventValLen  = 1 + 4 + 4 + 32
	tipValLen    = 4 + 32
)

var be = binary.BigEndian

func idKey(pfx byte, id uint32) []byte {
	k := make([]byte, idKeyLen)
	k[0] = pfx
	be.PutUint32(k[1:], id)
	return k
}

func heightKey(h int32) []byte { return idKey(pfxCanon, uint32(h)) }

func decodeIDKey(pfx byte, k []byte) (uint32, error) {
	if len(k) != idKeyLen || k[0] != pfx {
		return 0, fmt.Errorf("%w: key %x is not a %q id key", ErrCorrupt, k, pfx)
	}
	return be.Uint32(k[1:]), nil
}

// headerRecord is the stored form of a header with its status flags.
type headerRecord struct {
	Header wire.BlockHeader
	Status uint8
}

// encodeHeaderRecord encodes h with its status flags but statusIndexed,
// which the i table holds (see the key layout).
func encodeHeaderRecord(h *wire.BlockHeader, status uint8) []byte {
	status &^= statusIndexed
	b := make([]byte, headerRecLen)
	binary.LittleEndian.PutUint32(b[0:4], uint32(h.Version))
	copy(b[4:36], h.PrevBlock[:])
	copy(b[36:68], h.MerkleRoot[:])
	binary.LittleEndian.PutUint32(b[68:72], uint32(h.Timestamp.Unix()))
	binary.LittleEndian.PutUint32(b[72:76], h.Bits)
	binary.LittleEndian.PutUint32(b[76:80], h.Nonce)
	b[80] = status
	return b
}

func decodeHeaderRecord(v []byte) (headerRecord, error) {
	var r headerRecord
	if len(v) != headerRecLen {
		return r, fmt.Errorf("%w: header record is %d bytes, want %d", ErrCorrupt, len(v), headerRecLen)
	}
	r.Header = headerFromBytes(v[:80])
	r.Status = v[80]
	return r, nil
}

func headerFromBytes(b []byte) wire.BlockHeader {
	var h wire.BlockHeader
	h.Version = int32(binary.LittleEndian.Uint32(b[0:4]))
	copy(h.PrevBlock[:], b[4:36])
	copy(h.MerkleRoot[:], b[36:68])
	h.Timestamp = unixTime(binary.LittleEndian.Uint32(b[68:72]))
	h.Bits = binary.LittleEndian.Uint32(b[72:76])
	h.Nonce = binary.LittleEndian.Uint32(b[76:80])
	return h
}

func unixTime(s uint32) time.Time { return time.Unix(int64(s), 0) }

func encodeCanon(id uint32, hash *chainhash.Hash) []byte {
	v := make([]byte, canonValLen)
	be.PutUint32(v, id)
	copy(v[4:], hash[:])
	return v
}

func decodeCanon(v []byte) (uint32, chainhash.Hash, error) {
	var h chainhash.Hash
	if len(v) != canonValLen {
		return 0, h, fmt.Errorf("%w: canonical entry is %d bytes", ErrCorrupt, len(v))
	}
	copy(h[:], v[4:])
	return be.Uint32(v), h, nil
}

// txLoc is where a transaction sits inside a stored raw block.
type txLoc struct {
	Pos    uint32 // index in the block
	Offset uint32 // byte offset in the raw block
	Size   uint32 // serialized size with witness
}

func putTxKey(k []byte, txid *chainhash.Hash, id uint32) {
	k[0] = pfxTx
	copy(k[1:33], txid[:])
	be.PutUint32(k[33:37], id)
}

func putTxVal(v []byte, l txLoc) {
	be.PutUint32(v[0:4], l.Pos)
	be.PutUint32(v[4:8], l.Offset)
	be.PutUint32(v[8:12], l.Size)
}

func decodeTxKey(k []byte) (chainhash.Hash, uint32, error) {
	var h chainhash.Hash
	if len(k) != txKeyLen || k[0] != pfxTx {
		return h, 0, fmt.Errorf("%w: tx key %x", ErrCorrupt, k)
	}
	copy(h[:], k[1:33])
	return h, be.Uint32(k[33:]), nil
}

func decodeTxVal(v []byte) (txLoc, error) {
	if len(v) != txValLen {
		return txLoc{}, fmt.Errorf("%w: tx location is %d bytes", ErrCorrupt, len(v))
	}
	return txLoc{Pos: be.Uint32(v[0:4]), Offset: be.Uint32(v[4:8]), Size: be.Uint32(v[8:12])}, nil
}

// spendKey names the spend of an outpoint by a transaction in block ID.
type spendKey struct {
	Prev wire.OutPoint
	ID   uint32
}

// spendVal is the spending input.
type spendVal struct {
	Txid chainhash.Hash
	Vin  uint32
	Pos  uint32
}

func putSpendPrefix(k []byte, op *wire.OutPoint) {
	k[0] = pfxSpend
	copy(k[1:33], op.Hash[:])
	be.PutUint32(k[33:37], op.Index)
}

func putSpendKey(k []byte, op *wire.OutPoint, id uint32) {
	putSpendPrefix(k, op)
	be.PutUint32(k[37:41], id)
}

func decodeSpendKey(k []byte) (spendKey, error) {
	var s spendKey
	if len(k) != spendKeyLen || k[0] != pfxSpend {
		return s, fmt.Errorf("%w: spend key %x", ErrCorrupt, k)
	}
	copy(s.Prev.Hash[:], k[1:33])
	s.Prev.Index = be.Uint32(k[33:37])
	s.ID = be.Uint32(k[37:41])
	return s, nil
}

func putSpendVal(v []byte, txid *chainhash.Hash, vin, pos uint32) {
	copy(v[0:32], txid[:])
	be.PutUint32(v[32:36], vin)
	be.PutUint32(v[36:40], pos)
}

func decodeSpendVal(v []byte) (spendVal, error) {
	var s spendVal
	if len(v) != spendValLen {
		return s, fmt.Errorf("%w: spend value is %d bytes", ErrCorrupt, len(v))
	}
	copy(s.Txid[:], v[:32])
	s.Vin = be.Uint32(v[32:36])
	s.Pos = be.Uint32(v[36:40])
	return s, nil
}

// popKey names one PoP publication output.
type popKey struct {
	Keystone [32]byte
	ID       uint32
	Pos      uint32
	Vout     uint32
}

func putPopKey(k []byte, p *popKey) {
	k[0] = pfxPop
	copy(k[1:33], p.Keystone[:])
	be.PutUint32(k[33:37], p.ID)
	be.PutUint32(k[37:41], p.Pos)
	be.PutUint32(k[41:45], p.Vout)
}

func decodePopKey(k []byte) (popKey, error) {
	var p popKey
	if len(k) != popKeyLen || k[0] != pfxPop {
		return p, fmt.Errorf("%w: publication key %x", ErrCorrupt, k)
	}
	copy(p.Keystone[:], k[1:33])
	p.ID = be.Uint32(k[33:37])
	p.Pos = be.Uint32(k[37:41])
	p.Vout = be.Uint32(k[41:45])
	return p, nil
}

func decodePopVal(v []byte) (chainhash.Hash, error) {
	var h chainhash.Hash
	if len(v) != popValLen {
		return h, fmt.Errorf("%w: publication value is %d bytes", ErrCorrupt, len(v))
	}
	copy(h[:], v)
	return h, nil
}

func eventKey(seq uint64) []byte {
	k := make([]byte, eventKeyLen)
	k[0] = pfxEvent
	be.PutUint64(k[1:], seq)
	return k
}

func decodeEventKey(k []byte) (uint64, error) {
	if len(k) != eventKeyLen || k[0] != pfxEvent {
		return 0, fmt.Errorf("%w: event key %x", ErrCorrupt, k)
	}
	return be.Uint64(k[1:]), nil
}

// storedEvent is the persisted form of an Event (without its sequence
// number, which is the key).
type storedEvent struct {
	Kind   EventKind
	ID     uint32
	Height int32
	Hash   chainhash.Hash
}

func encodeEvent(e *storedEvent) []byte {
	v := make([]byte, eventValLen)
	v[0] = byte(e.Kind)
	be.PutUint32(v[1:5], e.ID)
	be.PutUint32(v[5:9], uint32(e.Height))
	copy(v[9:], e.Hash[:])
	return v
}

func decodeEvent(v []byte) (storedEvent, error) {
	var e storedEvent
	if len(v) != eventValLen {
		return e, fmt.Errorf("%w: event is %d bytes", ErrCorrupt, len(v))
	}
	e.Kind = EventKind(v[0])
	if e.Kind != EventConnected && e.Kind != EventDisconnected {
		return e, fmt.Errorf("%w: event kind %d", ErrCorrupt, v[0])
	}
	e.ID = be.Uint32(v[1:5])
	e.Height = int32(be.Uint32(v[5:9]))
	copy(e.Hash[:], v[9:])
	return e, nil
}

func tipKey(name string) []byte { return append([]byte{pfxTip}, name...) }

func encodeTip(id uint32, hash *chainhash.Hash) []byte { return encodeCanon(id, hash) }

func decodeTip(v []byte) (uint32, chainhash.Hash, error) { return decodeCanon(v) }

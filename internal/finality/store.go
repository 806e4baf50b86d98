package finality

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/cockroachdb/pebble/v2"
	"github.com/ethereum/go-ethereum/common"

	"github.com/hemi-go/hemi/internal/btc/index"
	"github.com/hemi-go/hemi/internal/finality/tracker"
	"github.com/hemi-go/hemi/internal/pebblelog"
)

// storeVersion is the format of the finality store. A store of an older
// format is rebuilt from the index and the chain; one of a newer format is
// refused (its node was upgraded and rolled back).
const storeVersion = 1

// Keys of the store (package doc, "State on disk"):
//
//	m            version (u32) | L2 genesis hash (32)
//	p            Bitcoin position (btcPos.encode)
//	b height     tracker.Block (height u32 big-endian, so in chain order)
//	k id         tracker.Keystone
//	c number     canonical keystone: hash (32) | id (32) (number u64 big-endian)
//	f            finalized tag: number (u64) | hash (32)
var (
	keyMeta  = []byte{'m'}
	keyPos   = []byte{'p'}
	keyFloor = []byte{'f'}
)

const (
	pfxBlock    = 'b'
	pfxKeystone = 'k'
	pfxCanon    = 'c'
)

// ErrStoreVersion: the store was written by a newer format than this node
// knows.
var ErrStoreVersion = errors.New("finality: state on disk has a newer format")

func blockKey(height int32) []byte {
	return binary.BigEndian.AppendUint32([]byte{pfxBlock}, uint32(height))
}

func keystoneKey(id [32]byte) []byte { return append([]byte{pfxKeystone}, id[:]...) }

func canonKey(number uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{pfxCanon}, number)
}

// btcPos is how far the tracker has applied the index's events: the next
// event to read, the last one applied (to check, at start, that the
// index is the one the state was built from) and the tracker's tip.
type btcPos struct {
	next uint64
	last index.Event // Seq is next-1
	tip  struct {
		ok     bool
		height int32
		hash   chainhash.Hash
	}
}

const btcPosLen = 8 + 1 + 4 + 32 + 1 + 4 + 32

func (p *btcPos) encode() []byte {
	out := make([]byte, 0, btcPosLen)
	out = binary.BigEndian.AppendUint64(out, p.next)
	out = append(out, byte(p.last.Kind))
	out = binary.BigEndian.AppendUint32(out, uint32(p.last.Height))
	out = append(out, p.last.Hash[:]...)
	ok := byte(0)
	if p.tip.ok {
		ok = 1
	}
	out = append(out, ok)
	out = binary.BigEndian.AppendUint32(out, uint32(p.tip.height))
	return append(out, p.tip.hash[:]...)
}

func decodeBtcPos(b []byte) (btcPos, error) {
	var p btcPos
	if len(b) != btcPosLen {
		return p, fmt.Errorf("%w: position record of %d bytes, want %d", tracker.ErrBadState, len(b), btcPosLen)
	}
	p.next = binary.BigEndian.Uint64(b[:8])
	if p.next == 0 {
		return p, fmt.Errorf("%w: position record before the first event", tracker.ErrBadState)
	}
	p.last.Seq = p.next - 1
	p.last.Kind = index.EventKind(b[8])
	if p.last.Kind != index.EventConnected && p.last.Kind != index.EventDisconnected {
		return p, fmt.Errorf("%w: position record: event kind %d", tracker.ErrBadState, b[8])
	}
	p.last.Height = int32(binary.BigEndian.Uint32(b[9:13]))
	copy(p.last.Hash[:], b[13:45])
	switch b[45] {
	case 0:
	case 1:
		p.tip.ok = true
	default:
		return p, fmt.Errorf("%w: position record: tip flag %d", tracker.ErrBadState, b[45])
	}
	p.tip.height = int32(binary.BigEndian.Uint32(b[46:50]))
	copy(p.tip.hash[:], b[50:])
	return p, nil
}

// floorRec is the finalized tag: the newest block ever reported
// finalized.
type floorRec struct {
	number uint64
	hash   common.Hash
}

func (f floorRec) encode() []byte {
	return append(binary.BigEndian.AppendUint64(nil, f.number), f.hash[:]...)
}

func decodeFloor(b []byte) (floorRec, error) {
	var f floorRec
	if len(b) != 40 {
		return f, fmt.Errorf("%w: finalized record of %d bytes", tracker.ErrBadState, len(b))
	}
	f.number = binary.BigEndian.Uint64(b[:8])
	copy(f.hash[:], b[8:])
	return f, nil
}

func encodeCanon(k canonKeystone) []byte { return append(k.hash.Bytes(), k.id[:]...) }

func decodeCanon(key, val []byte) (canonKeystone, error) {
	var k canonKeystone
	if len(key) != 9 || len(val) != 64 {
		return k, fmt.Errorf("%w: canonical keystone record %x", tracker.ErrBadState, key)
	}
	k.number = binary.BigEndian.Uint64(key[1:])
	copy(k.hash[:], val[:32])
	copy(k.id[:], val[32:])
	return k, nil
}

// saved is what a store holds.
type saved struct {
	pos   *btcPos // nil: no Bitcoin event applied
	state tracker.State
	canon []canonKeystone // contiguous from the first keystone
	floor floorRec
}

// store is the service's state on disk. Its writes are batches, each
// holding a change together with the position it reflects, so a kill -9
// at any moment reopens at a consistent position from which replaying
// the index's events and the chain's heads rebuilds the rest. Bitcoin
// and keystone batches are not synced (a machine crash loses at most a
// tail, which is replayed); the finalized tag is, since it must never
// move back.
type store struct {
	db  *pebble.DB
	dir string
}

func openStore(dir string, log *slog.Logger) (*store, error) {
	db, err := pebble.Open(dir, &pebble.Options{Logger: pebblelog.Logger{Log: log}})
	if err != nil {
		return nil, fmt.Errorf("finality: open state in %s: %w", dir, err)
	}
	return &store{db: db, dir: dir}, nil
}

// close flushes the memtables first, so the next open replays no
// write-ahead log (pebble closes without flushing), and tidies the logs.
func (s *store) close() error { return pebblelog.Close(s.db, s.dir) }

// get returns the value of key, nil when absent.
func (s *store) get(key []byte) ([]byte, error) {
	v, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("finality: read state: %w", err)
	}
	defer closer.Close()
	return append([]byte(nil), v...), nil
}

// open checks the store's format and chain. A store of another L2
// genesis or an older format is emptied (logged); a newer format is
// refused. It returns whether the store was (or now is) empty.
func (s *store) open(genesis common.Hash, log *slog.Logger) error {
	meta, err := s.get(keyMeta)
	if err != nil {
		return err
	}
	want := binary.BigEndian.AppendUint32(nil, storeVersion)
	want = append(want, genesis[:]...)
	switch {
	case meta == nil:
	case len(meta) != len(want):
		log.Warn("finality state on disk unreadable; rebuilding it from the Bitcoin index and the chain", "dir", s.dir)
	case binary.BigEndian.Uint32(meta) > storeVersion:
		return fmt.Errorf("%w: %s has format %d, this node writes %d: run the newer node, or delete the directory to rebuild it from the Bitcoin index",
			ErrStoreVersion, s.dir, binary.BigEndian.Uint32(meta), storeVersion)
	case binary.BigEndian.Uint32(meta) < storeVersion:
		log.Warn("finality state on disk has an older format; rebuilding it", "dir", s.dir, "format", binary.BigEndian.Uint32(meta))
	case common.BytesToHash(meta[4:]) != genesis:
		log.Warn("finality state on disk is of another L2 genesis; rebuilding it", "dir", s.dir,
			"stored", common.BytesToHash(meta[4:]), "genesis", genesis)
	default:
		return nil
	}
	b := s.db.NewBatch()
	defer b.Close()
	if err := b.DeleteRange([]byte{0}, []byte{0xff}, nil); err != nil {
		return fmt.Errorf("finality: clear state: %w", err)
	}
	if err := b.Set(keyMeta, want, nil); err != nil {
		return fmt.Errorf("finality: write state: %w", err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("finality: write state: %w", err)
	}
	return nil
}

// load reads the whole store: a sequential scan of records that grow
// with publications and keystones, not with the chains' lengths.
func (s *store) load() (*saved, error) {
	out := &saved{}
	if v, err := s.get(keyPos); err != nil {
		return nil, err
	} else if v != nil {
		p, err := decodeBtcPos(v)
		if err != nil {
			return nil, err
		}
		out.pos = &p
		out.state.HasTip, out.state.TipHeight, out.state.TipHash = p.tip.ok, p.tip.height, p.tip.hash
	}
	if v, err := s.get(keyFloor); err != nil {
		return nil, err
	} else if v != nil {
		if out.floor, err = decodeFloor(v); err != nil {
			return nil, err
		}
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{pfxBlock}, UpperBound: []byte{pfxKeystone + 1}})
	if err != nil {
		return nil, fmt.Errorf("finality: read state: %w", err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		val, err := it.ValueAndErr()
		if err != nil {
			return nil, fmt.Errorf("finality: read state: %w", err)
		}
		switch it.Key()[0] {
		case pfxBlock:
			b, err := tracker.DecodeBlock(val)
			if err != nil {
				return nil, err
			}
			out.state.Blocks = append(out.state.Blocks, b)
		case pfxCanon:
			k, err := decodeCanon(it.Key(), val)
			if err != nil {
				return nil, err
			}
			out.canon = append(out.canon, k)
		case pfxKeystone:
			k, err := tracker.DecodeKeystone(val)
			if err != nil {
				return nil, err
			}
			out.state.Keystones = append(out.state.Keystones, k)
		}
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("finality: read state: %w", err)
	}
	if out.pos == nil && len(out.state.Blocks) > 0 {
		return nil, fmt.Errorf("%w: Bitcoin blocks without a position", tracker.ErrBadState)
	}
	return out, nil
}

// resetBitcoin drops the Bitcoin half (position and blocks) so it is
// rebuilt from the index; keystones and the finalized tag stay.
func (s *store) resetBitcoin() error {
	b := s.db.NewBatch()
	defer b.Close()
	if err := b.Delete(keyPos, nil); err != nil {
		return err
	}
	if err := b.DeleteRange([]byte{pfxBlock}, []byte{pfxBlock + 1}, nil); err != nil {
		return err
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("finality: write state: %w", err)
	}
	return nil
}

// putBitcoin records one applied event: the new position, and the block
// record it adds (a connected block with publications) or removes (a
// disconnected one), in one batch.
func (s *store) putBitcoin(pos *btcPos, ev index.Event, blk *tracker.Block) error {
	b := s.db.NewBatch()
	defer b.Close()
	if ev.Kind == index.EventDisconnected {
		if err := b.Delete(blockKey(ev.Height), nil); err != nil {
			return err
		}
	}
	if blk != nil {
		v, err := blk.MarshalBinary()
		if err != nil {
			return err
		}
		if err := b.Set(blockKey(blk.Height), v, nil); err != nil {
			return err
		}
	}
	if err := b.Set(keyPos, pos.encode(), nil); err != nil {
		return err
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("finality: write state: %w", err)
	}
	return nil
}

// putCanon records the canonical keystone list after syncCanonical: the
// entries dropped (a reorg) are deleted, added ones written with their
// keystones, in one batch. Point deletes, not a range: a range tombstone
// per head would make every memtable flush, and so every open, slow.
func (s *store) putCanon(dropped, added []canonKeystone, ks []tracker.Keystone) error {
	b := s.db.NewBatch()
	defer b.Close()
	for _, k := range dropped {
		if err := b.Delete(canonKey(k.number), nil); err != nil {
			return err
		}
	}
	for _, k := range added {
		if err := b.Set(canonKey(k.number), encodeCanon(k), nil); err != nil {
			return err
		}
	}
	for i := range ks {
		v, err := ks[i].MarshalBinary()
		if err != nil {
			return err
		}
		if err := b.Set(keystoneKey(ks[i].ID), v, nil); err != nil {
			return err
		}
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("finality: write state: %w", err)
	}
	return nil
}

// putFloor records the finalized tag, synced: once reported, it must
// survive any crash.
func (s *store) putFloor(f floorRec) error {
	if err := s.db.Set(keyFloor, f.encode(), pebble.Sync); err != nil {
		return fmt.Errorf("finality: write state: %w", err)
	}
	return nil
}

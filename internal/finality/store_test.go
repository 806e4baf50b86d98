package finality

import (
	"bytes"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/ethereum/go-ethereum/common"

	"github.com/hemi-go/hemi/internal/btc/index"
	"github.com/hemi-go/hemi/internal/finality/tracker"
	"github.com/hemi-go/hemi/internal/pebblelog"
)

// FuzzStoreRecords feeds arbitrary bytes to the store's own decoders
// (position, finalized tag, canonical keystone): they never panic, and
// what decodes encodes back to the same bytes.
func FuzzStoreRecords(f *testing.F) {
	p := btcPos{next: 8, last: index.Event{Seq: 7, Kind: index.EventDisconnected, Hash: chainhash.Hash{1}, Height: 5}}
	p.tip.ok, p.tip.height, p.tip.hash = true, 4, chainhash.Hash{2}
	f.Add(p.encode())
	f.Add(floorRec{number: 50, hash: common.Hash{3}}.encode())
	f.Add(encodeCanon(canonKeystone{number: 25, hash: common.Hash{4}, id: [32]byte{5}}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		if p, err := decodeBtcPos(data); err == nil {
			if !bytes.Equal(p.encode(), data) {
				t.Fatalf("position round trip: %x -> %x", data, p.encode())
			}
		} else if !errors.Is(err, tracker.ErrBadState) {
			t.Fatalf("position: %v is not ErrBadState", err)
		}
		if fl, err := decodeFloor(data); err == nil {
			if !bytes.Equal(fl.encode(), data) {
				t.Fatalf("finalized round trip: %x", data)
			}
		} else if !errors.Is(err, tracker.ErrBadState) {
			t.Fatalf("finalized: %v is not ErrBadState", err)
		}
		key := canonKey(uint64(len(data)))
		if k, err := decodeCanon(key, data); err == nil {
			if !bytes.Equal(encodeCanon(k), data) || k.number != uint64(len(data)) {
				t.Fatalf("canonical keystone round trip: %x", data)
			}
		} else if !errors.Is(err, tracker.ErrBadState) {
			t.Fatalf("canonical keystone: %v is not ErrBadState", err)
		}
	})
}

// TestStoreFormat: a store of a newer format is refused with a message
// naming what to do; one of another genesis or an older format is
// emptied and rebuilt, keeping nothing of the old.
func TestStoreFormat(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "finality")
	log := slog.New(slog.DiscardHandler)
	gen := common.Hash{1}
	st, err := openStore(dir, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.open(gen, log); err != nil {
		t.Fatal(err)
	}
	if err := st.putFloor(floorRec{number: 25, hash: common.Hash{2}}); err != nil {
		t.Fatal(err)
	}
	// Another genesis: emptied.
	if err := st.open(common.Hash{9}, log); err != nil {
		t.Fatal(err)
	}
	sv, err := st.load()
	if err != nil || sv.floor.number != 0 {
		t.Fatalf("after a genesis change: floor %+v, %v", sv.floor, err)
	}
	// A newer format: refused.
	meta := []byte{0, 0, 0, storeVersion + 1}
	if err := st.db.Set(keyMeta, append(meta, common.Hash{9}.Bytes()...), nil); err != nil {
		t.Fatal(err)
	}
	if err := st.open(common.Hash{9}, log); !errors.Is(err, ErrStoreVersion) {
		t.Fatalf("newer format: %v, want ErrStoreVersion", err)
	}
	// A corrupt record: load names it.
	if err := st.db.Set(keyPos, []byte{1, 2, 3}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := st.load(); !errors.Is(err, tracker.ErrBadState) {
		t.Fatalf("corrupt position: %v, want ErrBadState", err)
	}
	if err := st.close(); err != nil {
		t.Fatal(err)
	}
}

// TestStoreCloseLeavesNoLogToReplay: close flushes the store, so the next
// open replays nothing from pebble's write-ahead log.
func TestStoreCloseLeavesNoLogToReplay(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "finality")
	log := slog.New(slog.DiscardHandler)
	st, err := openStore(dir, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.open(common.Hash{1}, log); err != nil {
		t.Fatal(err)
	}
	if err := st.putFloor(floorRec{number: 25, hash: common.Hash{2}}); err != nil {
		t.Fatal(err)
	}
	if err := st.close(); err != nil {
		t.Fatal(err)
	}
	if n, err := pebblelog.ReplayedKeys(dir, nil); err != nil || n != 0 {
		t.Fatalf("the next open replays %d keys (%v), want 0", n, err)
	}
	st, err = openStore(dir, log)
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	sv, err := st.load()
	if err != nil || sv.floor.number != 25 {
		t.Fatalf("reopened floor %+v (%v), want 25", sv.floor, err)
	}
}

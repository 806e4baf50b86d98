package index

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestEntryWriterOrder: writeTo hands pebble the writes in key order, the
// later of two writes of one key last, also for keys sharing long
// prefixes (one script's records) and keys shorter than 8 bytes.
func TestEntryWriterOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	w := newEntryWriter()
	type kv struct{ k, v []byte }
	var want []kv
	for i := range 5000 {
		var k []byte
		switch rng.IntN(3) {
		case 0: // a shared 33-byte prefix, as a script's records
			k = append(bytes.Repeat([]byte{'d'}, 33), byte(rng.IntN(50)), byte(rng.IntN(4)))
		case 1:
			k = []byte{'a', byte(rng.IntN(3))}[:1+rng.IntN(2)]
		default:
			k = make([]byte, 1+rng.IntN(40))
			for j := range k {
				k[j] = byte(rng.IntN(4))
			}
		}
		v := []byte{byte(i), byte(i >> 8)}
		w.put(k, v)
		want = append(want, kv{k, v})
	}
	slices.SortStableFunc(want, func(a, b kv) int { return bytes.Compare(a.k, b.k) })
	db, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	batch := db.NewBatch()
	w.writeTo(batch)
	r := batch.Reader()
	for i := 0; ; i++ {
		_, k, v, ok, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			if i != len(want) {
				t.Fatalf("%d writes, want %d", i, len(want))
			}
			return
		}
		if !bytes.Equal(k, want[i].k) || !bytes.Equal(v, want[i].v) {
			t.Fatalf("write %d: %x=%x, want %x=%x", i, k, v, want[i].k, want[i].v)
		}
	}
}

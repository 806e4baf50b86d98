package netp2p

import (
	"bytes"
	"crypto/ecdsa"
	"errors"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/golang/snappy"
	"github.com/holiman/uint256"
)

var batchGenesis = common.Hash{0x7b}

// testTxs are n signed transfers of the test chain.
func testTxs(t testing.TB, n int) []*types.Transaction {
	t.Helper()
	return testBlock(t, testKey("seq"), 1, common.Hash{}, n).Body.Txs
}

// wireMessage encodes w as a batch message without any check, for
// malformed and oversized cases; sign seals it with key first.
func wireMessage(t testing.TB, w wireTxBatch, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	if key != nil {
		h := txBatchHash(batchGenesis, w.Time, w.Txs)
		sig, err := crypto.Sign(h[:], key)
		if err != nil {
			t.Fatal(err)
		}
		w.Sig = sig
	}
	raw, err := rlp.EncodeToBytes(&w)
	if err != nil {
		t.Fatal(err)
	}
	return snappy.Encode(nil, raw)
}

func rawTxs(t testing.TB, txs []*types.Transaction) [][]byte {
	t.Helper()
	out := make([][]byte, len(txs))
	for i, tx := range txs {
		enc, err := tx.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		out[i] = enc
	}
	return out
}

func sealBatch(t testing.TB, key *ecdsa.PrivateKey, at time.Time, txs []*types.Transaction) []byte {
	t.Helper()
	data, _, err := SealTxBatch(batchGenesis, key, at, txs)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestTxBatchRoundTrip: a sealed batch decodes to the same transactions
// and time, and its hash is the one SealTxBatch reports; a batch of no
// or too many transactions is not sealed.
func TestTxBatchRoundTrip(t *testing.T) {
	txs := testTxs(t, 5)
	at := time.UnixMilli(1_700_000_000_123)
	data, hash, err := SealTxBatch(batchGenesis, testKey("seq"), at, txs)
	if err != nil {
		t.Fatal(err)
	}
	b, err := DecodeTxBatch(data)
	if err != nil {
		t.Fatal(err)
	}
	if b.Time != uint64(at.UnixMilli()) || len(b.Txs) != len(txs) || b.Hash(batchGenesis) != hash {
		t.Fatalf("decoded time %d, %d txs, hash %s; want %d, %d, %s", b.Time, len(b.Txs), b.Hash(batchGenesis), at.UnixMilli(), len(txs), hash)
	}
	for i := range txs {
		if b.Txs[i].Hash() != txs[i].Hash() {
			t.Fatalf("tx %d: %s, want %s", i, b.Txs[i].Hash(), txs[i].Hash())
		}
	}
	if b.Hash(common.Hash{0x01}) == hash {
		t.Fatal("the batch hash does not depend on the genesis")
	}
	if _, _, err := SealTxBatch(batchGenesis, testKey("seq"), at, nil); !errors.Is(err, ErrTxBatch) {
		t.Fatalf("empty batch: %v", err)
	}
	if _, _, err := SealTxBatch(batchGenesis, testKey("seq"), at, make([]*types.Transaction, MaxTxBatchTxs+1)); !errors.Is(err, ErrTxBatch) {
		t.Fatalf("batch over the limit: %v", err)
	}
}

// TestTxGate: every row of doc.go's feed table, each verdict with its
// reason; a replayed batch is ignored as seen, and a copy with a junk
// seal neither passes nor stops the real batch after it.
func TestTxGate(t *testing.T) {
	seq, stranger := testKey("seq"), testKey("stranger")
	now := time.UnixMilli(1_800_000_000_000)
	txs := testTxs(t, 3)
	good := sealBatch(t, seq, now, txs)
	badSeal := func() []byte {
		w := wireTxBatch{Time: uint64(now.UnixMilli()) + 1, Txs: rawTxs(t, txs), Sig: make([]byte, 65)}
		w.Sig[0], w.Sig[32] = 1, 1
		return wireMessage(t, w, nil)
	}()
	flipped := func() []byte { // the good batch's seal, one byte of it changed: recovers a stranger or nothing
		b, err := DecodeTxBatch(good)
		if err != nil {
			t.Fatal(err)
		}
		sig := bytes.Clone(b.Sig)
		sig[10] ^= 0xff
		return wireMessage(t, wireTxBatch{Time: b.Time + 2, Txs: rawTxs(t, txs), Sig: sig}, nil)
	}()
	many := make([][]byte, MaxTxBatchTxs+1)
	for i := range many {
		many[i] = []byte{0x01}
	}
	blob := types.NewTx(&types.BlobTx{ChainID: uint256.NewInt(1), GasTipCap: uint256.NewInt(1), GasFeeCap: uint256.NewInt(1), Value: uint256.NewInt(0), BlobFeeCap: uint256.NewInt(1), BlobHashes: []common.Hash{{1}}, V: uint256.NewInt(0), R: uint256.NewInt(1), S: uint256.NewInt(1)})
	blobEnc, err := blob.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	otherNet, _, err := SealTxBatch(common.Hash{0x01}, seq, now.Add(5*time.Millisecond), txs)
	if err != nil {
		t.Fatal(err)
	}
	ms := uint64(now.UnixMilli())
	tests := []struct {
		name    string
		data    []byte
		verdict Verdict
		reason  string
	}{
		{"ok", good, Accept, ReasonOK},
		{"replay", good, Ignore, ReasonSeen},
		{"not snappy", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, Reject, ReasonMalformed},
		{"not rlp", snappy.Encode(nil, []byte{0x01, 0x02}), Reject, ReasonMalformed},
		{"no transactions", wireMessage(t, wireTxBatch{Time: ms}, seq), Reject, ReasonMalformed},
		{"junk transaction bytes", wireMessage(t, wireTxBatch{Time: ms, Txs: [][]byte{{0x02, 0xc0}}}, seq), Reject, ReasonMalformed},
		{"blob transaction", wireMessage(t, wireTxBatch{Time: ms, Txs: [][]byte{blobEnc}}, seq), Reject, ReasonMalformed},
		{"short seal", wireMessage(t, wireTxBatch{Time: ms + 3, Txs: rawTxs(t, txs), Sig: []byte{1, 2, 3}}, nil), Reject, ReasonMalformed},
		{"too many transactions", wireMessage(t, wireTxBatch{Time: ms, Txs: many}, seq), Reject, ReasonTooLarge},
		{"too large compressed", make([]byte, MaxTxBatchSize+1), Reject, ReasonTooLarge},
		{"too large decompressed", snappy.Encode(nil, make([]byte, MaxTxBatchSize+1)), Reject, ReasonTooLarge},
		{"old (replay after the seen cache)", sealBatch(t, seq, now.Add(-MaxTxBatchAge-time.Second), txs), Ignore, ReasonStale},
		{"from the future", sealBatch(t, seq, now.Add(MaxTxBatchAge+time.Second), txs), Ignore, ReasonStale},
		{"bad seal", badSeal, Reject, ReasonBadSeal},
		{"tampered seal", flipped, Reject, ""}, // bad_seal or unknown_sequencer, whichever the bytes give
		{"unknown sequencer", sealBatch(t, stranger, now.Add(time.Millisecond), txs), Reject, ReasonUnknownSequencer},
		{"another network", otherNet, Reject, ReasonUnknownSequencer},
	}
	g := NewTxGate(batchGenesis, []common.Address{crypto.PubkeyToAddress(seq.PublicKey)})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := g.Check(tt.data, now)
			if d.Verdict != tt.verdict || (tt.reason != "" && d.Reason != tt.reason) {
				t.Fatalf("%s %s (%v), want %s %s", d.Verdict, d.Reason, d.Err, tt.verdict, tt.reason)
			}
			if tt.verdict == Reject && (tt.reason == ReasonBadSeal || tt.reason == ReasonUnknownSequencer) && d.Batch == nil {
				t.Fatal("a batch rejected for its seal has no decoded batch")
			}
		})
	}
	// A junk seal on the real batch's content first, the real one after:
	// the junk is rejected, the real one still accepted (seen is marked
	// only on accept).
	g2 := NewTxGate(batchGenesis, []common.Address{crypto.PubkeyToAddress(seq.PublicKey)})
	b, _ := DecodeTxBatch(good)
	junk := wireMessage(t, wireTxBatch{Time: b.Time, Txs: rawTxs(t, txs), Sig: make([]byte, 65)}, nil)
	if d := g2.Check(junk, now); d.Verdict != Reject {
		t.Fatalf("junk seal: %s %s", d.Verdict, d.Reason)
	}
	if d := g2.Check(good, now); d.Verdict != Accept {
		t.Fatalf("the real batch after a junk copy: %s %s (%v)", d.Verdict, d.Reason, d.Err)
	}
	// MarkLocal: the echo of an own batch is seen.
	g3 := NewTxGate(batchGenesis, []common.Address{crypto.PubkeyToAddress(seq.PublicKey)})
	_, hash, err := SealTxBatch(batchGenesis, seq, now, txs)
	if err != nil {
		t.Fatal(err)
	}
	g3.MarkLocal(hash)
	if d := g3.Check(good, now); d.Verdict != Ignore || d.Reason != ReasonSeen {
		t.Fatalf("own batch echoed: %s %s", d.Verdict, d.Reason)
	}
}

// FuzzDecodeTxBatch: the decoder never panics, and whatever decodes
// re-seals (with any key) to a message that decodes to the same
// transactions and time.
func FuzzDecodeTxBatch(f *testing.F) {
	txs := testTxs(f, 3)
	f.Add(sealBatch(f, testKey("seq"), time.UnixMilli(1_700_000_000_000), txs))
	f.Add(sealBatch(f, testKey("seq"), time.UnixMilli(0), txs[:1]))
	f.Add(wireMessage(f, wireTxBatch{Time: 1, Txs: [][]byte{{0x02, 0xc0}}}, testKey("seq")))
	f.Add([]byte{})
	f.Add(snappy.Encode(nil, []byte{0xc3, 0x80, 0xc0, 0x80}))
	key := testKey("fuzz")
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := DecodeTxBatch(data)
		if err != nil {
			return
		}
		again, _, err := SealTxBatch(batchGenesis, key, time.UnixMilli(int64(b.Time&(1<<62-1))), b.Txs)
		if err != nil {
			if errors.Is(err, ErrTooLarge) {
				return // a re-encoding may differ in size (non-canonical input)
			}
			t.Fatalf("decoded batch does not re-seal: %v", err)
		}
		b2, err := DecodeTxBatch(again)
		if err != nil {
			t.Fatalf("re-sealed batch does not decode: %v", err)
		}
		if len(b2.Txs) != len(b.Txs) {
			t.Fatalf("round trip: %d txs, was %d", len(b2.Txs), len(b.Txs))
		}
		for i := range b.Txs {
			if b2.Txs[i].Hash() != b.Txs[i].Hash() {
				t.Fatalf("round trip changed tx %d", i)
			}
		}
	})
}

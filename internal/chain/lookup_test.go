package chain

import (
	"bytes"
	"encoding/json"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/hemi-go/hemi/internal/btc/indextest"
	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/node/indexadapt"
)

// TestLookupMatchesBlock: for every transaction of blocks mixing system
// txs, transfers and calls that log (so log indexes depend on the
// receipts before), TxLookup and Receipt, which decode one transaction
// and one receipt, give what the whole block and its receipts say.
func TestLookupMatchesBlock(t *testing.T) {
	f := newBTCFixture(t, 12)
	ix := indextest.Open(t, regtest, t.TempDir())
	defer ix.Close()
	indextest.Feed(t, ix, f.Blocks)
	reader := common.HexToAddress("0xb7c0000000000000000000000000000000000001")
	spec := testGenesis(t, viewAt(t, indexadapt.NewChain(ix), f.Blocks[1]))
	spec.Alloc[reader] = types.Account{Code: btcReaderRuntime, Balance: common.Big0}
	h := newHarness(t, ix, t.TempDir(), spec)
	call := func(k int, nonce uint64) *types.Transaction {
		return h.signTx(userKeys[k], &types.LegacyTx{Nonce: nonce, GasPrice: big1Gwei(), Gas: 100_000, To: &reader})
	}
	b1 := h.mine(viewAt(t, h.btc, f.Blocks[7]), call(0, 0), h.transfer(userKeys[1], 0, toA, 5), call(0, 1), call(2, 0), h.transfer(userKeys[1], 1, toB, 6))
	b2 := h.mine(viewAt(t, h.btc, f.Blocks[8]))
	for _, b := range []*Block{b1, b2} {
		rs, err := h.chain.Receipts(b.Hash())
		if err != nil {
			t.Fatal(err)
		}
		for i, txh := range b.Body.TxHashes() {
			loc, err := h.chain.TxLookup(txh)
			if err != nil {
				t.Fatalf("block %d tx %d: %v", b.NumberU64(), i, err)
			}
			sys := i < len(b.Body.SystemTxs)
			if loc.BlockHash != b.Hash() || loc.BlockNumber != b.NumberU64() || loc.Index != uint64(i) ||
				(sys && loc.System.Hash() != txh) || (!sys && loc.Tx.Hash() != txh) {
				t.Fatalf("block %d tx %d: location %+v", b.NumberU64(), i, loc)
			}
			r, _, err := h.chain.Receipt(txh)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(r)
			want, _ := json.Marshal(rs[i])
			if !bytes.Equal(got, want) {
				t.Fatalf("block %d receipt %d:\n got %s\nwant %s", b.NumberU64(), i, got, want)
			}
		}
	}
	if rs, _ := h.chain.Receipts(b1.Hash()); len(rs[len(rs)-2].Logs) == 0 || rs[len(rs)-2].Logs[0].Index == 0 {
		t.Fatal("the test block has no log after other logs")
	}
	if _, err := h.chain.TxLookup(common.Hash{1}); !isNotFound(err) {
		t.Fatalf("unknown tx: %v", err)
	}
	if _, _, err := h.chain.Receipt(common.Hash{1}); !isNotFound(err) {
		t.Fatalf("unknown receipt: %v", err)
	}
}

// FuzzTxLookupEntry: a stored lookup entry decodes only at its exact
// length, and what decodes encodes back to the same bytes.
func FuzzTxLookupEntry(f *testing.F) {
	f.Add(txLookup{Number: 7, BlockHash: common.Hash{1, 2}, Index: 3}.encode())
	f.Add([]byte{})
	f.Add(make([]byte, txLookupLen+1))
	f.Fuzz(func(t *testing.T, in []byte) {
		l, err := decodeTxLookup(in)
		if err != nil {
			if len(in) == txLookupLen {
				t.Fatalf("entry of the right length refused: %v", err)
			}
			if !isCorrupt(err) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if !bytes.Equal(l.encode(), in) {
			t.Fatalf("round trip %x -> %+v -> %x", in, l, l.encode())
		}
	})
}

func isCorrupt(err error) bool { return errorsIs(err, ErrCorrupt) }

// FuzzReadOne: the one-transaction and one-receipt readers never panic on
// whatever bytes the database holds, and a receipt list that decodes as a
// whole gives the same receipt read alone.
func FuzzReadOne(f *testing.F) {
	rs := types.Receipts{
		{Type: 2, Status: 1, CumulativeGasUsed: 21000, GasUsed: 21000, Logs: []*types.Log{{Address: toA, Topics: []common.Hash{{1}}, Data: []byte{1}}}},
		{Type: 0, Status: 0, CumulativeGasUsed: 50000, GasUsed: 29000, Logs: []*types.Log{{Address: toB}, {Address: toA}}},
	}
	var seed bytes.Buffer
	mem := rawdb.NewMemoryDatabase()
	if err := writeBlock(mem, &Block{Header: &types.Header{Number: common.Big1}, Body: &block.Body{}}, rs); err != nil {
		f.Fatal(err)
	}
	raw, _ := mem.Get(numHashKey(prefixReceipts, 1, (&types.Header{Number: common.Big1}).Hash()))
	seed.Write(raw)
	f.Add(seed.Bytes(), uint8(1))
	f.Add([]byte{0xc1, 0xc0}, uint8(0))
	f.Add([]byte{0xf8}, uint8(3))
	f.Fuzz(func(t *testing.T, raw []byte, index uint8) {
		h := &types.Header{Number: big.NewInt(5)}
		hash := h.Hash()
		db := rawdb.NewMemoryDatabase()
		db.Put(numHashKey(prefixReceipts, 5, hash), raw)
		db.Put(numHashKey(prefixSystemTxs, 5, hash), raw)
		rawdb.WriteBodyRLP(db, hash, 5, raw)
		_, _, _ = readTxAt(db, hash, 5, uint64(index))
		one, err := readReceiptAt(db, h, uint64(index), common.Hash{})
		var all []*storedReceipt
		if rlp.DecodeBytes(raw, &all) != nil || int(index) >= len(all) {
			return
		}
		if err != nil {
			t.Fatalf("receipt %d of a list that decodes: %v", index, err)
		}
		if one.CumulativeGasUsed != all[index].CumulativeGasUsed || len(one.Logs) != len(all[index].Logs) {
			t.Fatalf("receipt %d read alone differs", index)
		}
	})
}

package chain

import (
	"crypto/ecdsa"
	"fmt"
	"math/big"
	"runtime"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"

	"github.com/hemi-go/hemi/internal/btc/index"
	"github.com/hemi-go/hemi/internal/btc/indextest"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/node/indexadapt"
)

// BenchmarkImportTransfers imports (InsertChain: senders recovered in
// the background; per block the seal check, full validation, execution,
// roots, commit to pebble)
// blocks of ETH transfers from distinct senders into a fresh on-disk
// chain, the start of `hemi bench l2-import`. Reports tx/s.
func BenchmarkImportTransfers(b *testing.B) {
	for _, perBlock := range []int{1000, 5000} {
		b.Run(fmt.Sprintf("txs=%d", perBlock), func(b *testing.B) { benchImport(b, perBlock, 3) })
	}
}

// transferSetup is the transfer benchmarks' start: an index (closed at
// cleanup) holding a 12-block Bitcoin fixture, and a genesis funding
// perBlock sender keys whose block gas limit fits perBlock transfers.
func transferSetup(b *testing.B, perBlock int) (*indextest.Chain, *index.Index, []*ecdsa.PrivateKey, *genesis.Spec) {
	b.Helper()
	f := newBTCFixture(b, 12)
	ix := indextest.Open(b, regtest, b.TempDir())
	indextest.Feed(b, ix, f.Blocks)
	keys := make([]*ecdsa.PrivateKey, perBlock)
	senders := make([]common.Address, perBlock)
	for i := range keys {
		k, err := crypto.ToECDSA(crypto.Keccak256([]byte(fmt.Sprintf("bench sender %d", i))))
		if err != nil {
			b.Fatal(err)
		}
		keys[i], senders[i] = k, addr(k)
	}
	spec := testGenesis(b, viewAt(b, indexadapt.NewChain(ix), f.Blocks[1]), senders...)
	spec.Config.GasLimit = uint64(perBlock)*params.TxGas + 2_000_000
	return f, ix, keys, spec
}

func benchImport(b *testing.B, perBlock, blocks int) {
	f, ix, keys, spec := transferSetup(b, perBlock)
	seq := newHarness(b, ix, "", spec)
	var built []*Block
	for n := range blocks {
		txs := make([]*types.Transaction, perBlock)
		for i, k := range keys {
			to := common.BigToAddress(big.NewInt(int64(1_000_000 + n*perBlock + i))) // a new account per transfer
			txs[i] = seq.transfer(k, uint64(n), to, 1)
		}
		built = append(built, seq.mine(viewAt(b, seq.btc, f.Blocks[2+n]), txs...))
	}
	// Fresh transactions per import: types.Sender caches the sender in the
	// transaction, and every import must recover its own.
	fresh := func() []*Block {
		out := make([]*Block, len(built))
		for i, blk := range built {
			body := *blk.Body
			body.Txs = make(types.Transactions, len(blk.Body.Txs))
			for j, tx := range blk.Body.Txs {
				enc, _ := tx.MarshalBinary()
				nt := new(types.Transaction)
				if err := nt.UnmarshalBinary(enc); err != nil {
					b.Fatal(err)
				}
				body.Txs[j] = nt
			}
			out[i] = &Block{Header: blk.Header, Body: &body}
		}
		return out
	}
	b.ResetTimer()
	var took time.Duration
	for range b.N {
		b.StopTimer()
		in := fresh()
		fol := newHarness(b, ix, b.TempDir(), spec)
		b.StartTimer()
		start := time.Now()
		if _, err := fol.chain.InsertChain(in); err != nil {
			b.Fatal(err)
		}
		took += time.Since(start)
		b.StopTimer()
		fol.chain.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.N*blocks*perBlock)/took.Seconds(), "tx/s")
	b.ReportMetric(float64(b.N*blocks)*float64(built[0].Header.GasUsed)/took.Seconds()/1e6, "Mgas/s")
}

// BenchmarkReceiptLookup finds the receipt of a transaction in a block of
// 5,000 transfers (eth_getTransactionReceipt's chain work) two ways in the
// same run: the previous way (decode the whole block to find the
// transaction, then every receipt of the block) and Chain.Receipt (the
// lookup entry, then one transaction and one receipt). Reports the time
// of each and their ratio.
func BenchmarkReceiptLookup(b *testing.B) {
	const perBlock = 5000
	f, ix, keys, spec := transferSetup(b, perBlock)
	h := newHarness(b, ix, b.TempDir(), spec)
	txs := make([]*types.Transaction, perBlock)
	for i, k := range keys {
		txs[i] = h.transfer(k, 0, common.BigToAddress(big.NewInt(int64(1_000_000+i))), 1)
	}
	blk := h.mine(viewAt(b, h.btc, f.Blocks[2]), txs...)
	hashes := blk.Body.TxHashes()

	// fullDecode is TxLookup and Receipt as they were: rawdb's entry
	// (number only), the canonical block decoded and scanned, every
	// receipt of the block decoded.
	fullDecode := func(hash common.Hash) (*types.Receipt, error) {
		num := rawdb.ReadTxLookupEntry(h.chain.db, hash)
		if num == nil {
			// Our chain no longer writes rawdb's entries; the number is
			// what they held.
			num = new(uint64)
			*num = blk.NumberU64()
		}
		bb, err := h.chain.BlockByNumber(*num)
		if err != nil {
			return nil, err
		}
		idx := -1
		for i, th := range bb.Body.TxHashes() {
			if th == hash {
				idx = i
				break
			}
		}
		rs, err := readReceipts(h.chain.db, bb.Header, bb.Body)
		if err != nil || idx < 0 {
			return nil, fmt.Errorf("receipt: %v", err)
		}
		return rs[idx], nil
	}
	// The two ways run in separate loops, so the garbage of one does not
	// slow the other; each answer is checked against the other's.
	b.ResetTimer()
	want := make([]*types.Receipt, b.N)
	start := time.Now()
	for i := range b.N {
		r, err := fullDecode(hashes[(i*7919)%len(hashes)])
		if err != nil {
			b.Fatal(err)
		}
		want[i] = r
	}
	old := time.Since(start)
	runtime.GC()
	start = time.Now()
	for i := range b.N {
		r, _, err := h.chain.Receipt(hashes[(i*7919)%len(hashes)])
		if err != nil {
			b.Fatal(err)
		}
		if r.TxHash != want[i].TxHash || r.CumulativeGasUsed != want[i].CumulativeGasUsed || r.TransactionIndex != want[i].TransactionIndex {
			b.Fatal("the two lookups disagree")
		}
	}
	ours := time.Since(start)
	b.ReportMetric(float64(old.Microseconds())/float64(b.N), "fulldecode_us/op")
	b.ReportMetric(float64(ours.Microseconds())/float64(b.N), "lookup_us/op")
	b.ReportMetric(float64(old)/float64(ours), "speedup")
}

package chain

import (
	"errors"
	"slices"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/hemi-go/hemi/internal/chain/block"
)

// freshTx is a decoded copy of tx, with no sender cached in it.
func freshTx(t testing.TB, tx *types.Transaction) *types.Transaction {
	t.Helper()
	enc, err := tx.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	out := new(types.Transaction)
	if err := out.UnmarshalBinary(enc); err != nil {
		t.Fatal(err)
	}
	return out
}

// freshBlocks copies blocks with every user transaction decoded afresh,
// so no sender is cached in them: each import recovers its own. nil
// stays nil.
func freshBlocks(t testing.TB, blocks []*Block) []*Block {
	t.Helper()
	out := make([]*Block, len(blocks))
	for i, b := range blocks {
		if b == nil {
			continue
		}
		body := *b.Body
		body.Txs = make(types.Transactions, len(b.Body.Txs))
		for j, tx := range b.Body.Txs {
			body.Txs[j] = freshTx(t, tx)
		}
		out[i] = &Block{Header: types.CopyHeader(b.Header), Body: &body}
	}
	return out
}

// resealed is b with its user transactions replaced by txs, its tx root
// updated and sealed again: a block whose seal and tx root are right but
// whose execution is not.
func resealed(t testing.TB, b *Block, txs ...*types.Transaction) *Block {
	t.Helper()
	body := *b.Body
	body.Txs = txs
	h := types.CopyHeader(b.Header)
	h.TxHash = block.TxRoot(&body)
	if err := block.Seal(h, seqKey); err != nil {
		t.Fatal(err)
	}
	return &Block{Header: h, Body: &body}
}

// TestInsertChainMatchesInsertBlock imports batches into two fresh
// chains, one with InsertChain, the other with InsertBlock one block at
// a time until the first error, and checks both give the same count, the
// same error, the same head, side tips and stored blocks, and the same
// receipts and tx lookups.
func TestInsertChainMatchesInsertBlock(t *testing.T) {
	src := newForkScenario(t, "", nil)
	a := src.grow(src.chain.Genesis(), 6, userKeys[0], toA)
	b := src.grow(a[0].Header, 3, userKeys[1], toB) // 2', 3', 4' on block 1

	badSig, err := src.transfer(userKeys[2], 0, toB, 1).WithSignature(src.signer(), make([]byte, 65))
	if err != nil {
		t.Fatal(err)
	}
	wrongTx := src.transfer(userKeys[3], 0, toA, 1)

	tests := []struct {
		name    string
		blocks  []*Block
		wantN   int
		wantErr error
		head    *Block
	}{
		{"empty batch", nil, 0, nil, nil},
		{"linear", a, 6, nil, a[5]},
		{"side branch in the batch", []*Block{a[0], a[1], a[2], b[0], b[1], b[2], a[3]}, 7, nil, a[3]},
		// b[0] extends the head a[0] and becomes canonical; a[1] is then
		// the side block.
		{"other branch first", []*Block{a[0], b[0], b[1], a[1]}, 4, nil, b[1]},
		{"tx root mismatch in the middle", []*Block{a[0], a[1], {Header: a[2].Header, Body: &block.Body{SystemTxs: a[2].Body.SystemTxs, Txs: types.Transactions{wrongTx}}}, a[3]}, 2, ErrBadTxRoot, a[1]},
		{"invalid signature in the middle", []*Block{a[0], a[1], resealed(t, a[2], badSig), a[3]}, 2, ErrBadTx, a[1]},
		{"wrong execution in the middle", []*Block{a[0], a[1], resealed(t, a[2], wrongTx), a[3]}, 2, ErrInvalidBlock, a[1]},
		{"nil block in the middle", []*Block{a[0], nil, a[1]}, 1, ErrBadHeader, a[0]},
		{"known block", []*Block{a[0], a[1], a[1], a[2]}, 2, ErrKnownBlock, a[1]},
		{"unknown parent first", []*Block{a[1], a[2]}, 0, ErrUnknownParent, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			one := src.open(t, "").chain
			batch := src.open(t, "").chain

			var oneN int
			var oneErr error
			for _, blk := range freshBlocks(t, tt.blocks) {
				if oneErr = one.InsertBlock(blk); oneErr != nil {
					break
				}
				oneN++
			}
			n, err := batch.InsertChain(freshBlocks(t, tt.blocks))

			if n != tt.wantN || n != oneN {
				t.Fatalf("InsertChain inserted %d, InsertBlock %d, want %d", n, oneN, tt.wantN)
			}
			if tt.wantErr == nil {
				if err != nil || oneErr != nil {
					t.Fatalf("errors: InsertChain %v, InsertBlock %v", err, oneErr)
				}
			} else {
				if !errors.Is(err, tt.wantErr) || !errors.Is(oneErr, tt.wantErr) {
					t.Fatalf("errors: InsertChain %v, InsertBlock %v; want %v", err, oneErr, tt.wantErr)
				}
				if err.Error() != oneErr.Error() {
					t.Fatalf("InsertChain error %q, InsertBlock error %q", err, oneErr)
				}
			}
			wantHead := src.chain.Genesis().Hash()
			if tt.head != nil {
				wantHead = tt.head.Hash()
			}
			if one.Head().Hash() != wantHead || batch.Head().Hash() != wantHead {
				t.Fatalf("heads: InsertChain %s, InsertBlock %s, want %s", batch.Head().Hash(), one.Head().Hash(), wantHead)
			}
			sameChains(t, one, batch, append(slices.Clone(a), b...))
		})
	}
}

// sameChains checks that two chains hold the same blocks of all, with the
// same receipts and tx lookups, and the same side tips.
func sameChains(t *testing.T, x, y *Chain, all []*Block) {
	t.Helper()
	for _, b := range all {
		hash, n := b.Hash(), b.NumberU64()
		inX, inY := rawdb.HasHeader(x.db, hash, n), rawdb.HasHeader(y.db, hash, n)
		if inX != inY {
			t.Fatalf("block %d %s stored: InsertBlock %v, InsertChain %v", n, hash, inX, inY)
		}
		if !inX {
			continue
		}
		rx, err := x.Receipts(hash)
		if err != nil {
			t.Fatal(err)
		}
		ry, err := y.Receipts(hash)
		if err != nil {
			t.Fatal(err)
		}
		if len(rx) != len(ry) {
			t.Fatalf("block %d: %d and %d receipts", n, len(rx), len(ry))
		}
		for i := range rx {
			if rx[i].TxHash != ry[i].TxHash || rx[i].Status != ry[i].Status || rx[i].CumulativeGasUsed != ry[i].CumulativeGasUsed || rx[i].Bloom != ry[i].Bloom {
				t.Fatalf("block %d receipt %d differs", n, i)
			}
		}
		for _, txh := range b.Body.TxHashes() {
			lx, ex := x.TxLookup(txh)
			ly, ey := y.TxLookup(txh)
			if (ex == nil) != (ey == nil) || (ex == nil && (lx.BlockHash != ly.BlockHash || lx.Index != ly.Index)) {
				t.Fatalf("block %d tx %s lookup: %v %v / %v %v", n, txh, lx, ex, ly, ey)
			}
		}
	}
	tx, err := x.SideTips()
	if err != nil {
		t.Fatal(err)
	}
	ty, err := y.SideTips()
	if err != nil {
		t.Fatal(err)
	}
	hashes := func(hs []*types.Header) []common.Hash {
		var out []common.Hash
		for _, h := range hs {
			out = append(out, h.Hash())
		}
		slices.SortFunc(out, func(a, b common.Hash) int { return a.Cmp(b) })
		return out
	}
	if !slices.Equal(hashes(tx), hashes(ty)) {
		t.Fatalf("side tips: InsertBlock %v, InsertChain %v", hashes(tx), hashes(ty))
	}
}

// TestSenderRecoveryLookahead: the background recovery runs at most
// SenderLookahead blocks ahead of the inserter, goes on as blocks are
// released, and stops with blocks left.
func TestSenderRecoveryLookahead(t *testing.T) {
	src := newForkScenario(t, "", nil)
	a := freshBlocks(t, src.grow(src.chain.Genesis(), SenderLookahead+2, userKeys[0], toA))
	r := src.chain.recoverAhead(a)
	for i := range SenderLookahead {
		r.wait(i)
	}
	// Every slot is taken and none released: block SenderLookahead's
	// recovery cannot have started, so it cannot be ready.
	if len(r.slots) != SenderLookahead {
		t.Fatalf("%d slots taken, want %d", len(r.slots), SenderLookahead)
	}
	select {
	case <-r.ready[SenderLookahead]:
		t.Fatalf("block %d recovered with no slot free", SenderLookahead)
	default:
	}
	r.release()
	r.wait(SenderLookahead)
	r.stop() // block SenderLookahead+1 may or may not have run; stop returns
	want := addr(userKeys[0])
	for _, b := range a[:SenderLookahead+1] {
		signer := types.MakeSigner(src.chain.cfg.ChainConfig, b.Header.Number, b.Header.Time)
		for _, tx := range b.Body.Txs {
			if from, err := types.Sender(signer, tx); err != nil || from != want {
				t.Fatalf("block %d: sender %s, %v; want %s", b.NumberU64(), from, err, want)
			}
		}
	}
}

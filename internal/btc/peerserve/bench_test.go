package peerserve

import (
	"bytes"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/peer"
	"github.com/btcsuite/btcd/wire/v2"
)

// fatBlocks adds count blocks of about 1 MB (txs need not be valid: the
// server never validates) to src's best chain, for serving benchmarks.
func fatBlocks(b *testing.B, src *memSource, count int) []chainhash.Hash {
	b.Helper()
	_, height := src.Tip()
	hashes := src.mine(b, height, count, 0)
	for i, h := range hashes {
		blk := *src.blocks[h]
		for j := range 2000 {
			tx := wire.NewMsgTx(2)
			tx.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Hash: chainhash.Hash{byte(i), byte(j), byte(j >> 8)}}, Witness: wire.TxWitness{make([]byte, 72), make([]byte, 33)}})
			tx.AddTxOut(&wire.TxOut{Value: int64(j), PkScript: make([]byte, 22)})
			tx.AddTxOut(&wire.TxOut{Value: int64(j), PkScript: make([]byte, 34)})
			blk.Transactions = append(blk.Transactions, tx)
		}
		var buf bytes.Buffer
		if err := blk.Serialize(&buf); err != nil {
			b.Fatal(err)
		}
		src.raw[h] = buf.Bytes() // same hash: the header is unchanged
	}
	return hashes
}

// BenchmarkServeBlocks measures witness blocks served per second to one
// peer over loopback, raw bytes end to end.
func BenchmarkServeBlocks(b *testing.B) {
	src := newMemSource(b)
	hashes := fatBlocks(b, src, 16)
	srv := startServer(b, src)
	got := make(chan int, 1024)
	cl := dialPeer(b, srv.Addr(), peer.MessageListeners{
		OnBlock: func(_ *peer.Peer, _ *wire.MsgBlock, buf []byte) { got <- len(buf) },
	})
	var size int
	for _, h := range hashes {
		size += len(src.raw[h])
	}
	b.SetBytes(int64(size))
	b.ResetTimer()
	for range b.N {
		gd := wire.NewMsgGetData()
		for i := range hashes {
			_ = gd.AddInvVect(wire.NewInvVect(wire.InvTypeWitnessBlock, &hashes[i]))
		}
		cl.QueueMessage(gd, nil)
		for range hashes {
			<-got
		}
	}
}

package compat

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/ethereum/go-ethereum/common"

	"github.com/hemi-go/hemi/internal/btc/index"
	"github.com/hemi-go/hemi/internal/chain/block"
)

// display is h in Bitcoin's display byte order, as the hVM ABI takes and
// gives hashes.
func display(h chainhash.Hash) []byte {
	out := make([]byte, 32)
	for i := range 32 {
		out[i] = h[31-i]
	}
	return out
}

func be16(n int) []byte { return binary.BigEndian.AppendUint16(nil, uint16(n)) }

// rawCall runs `cast call --block number to <calldata>` and returns the
// bytes the precompile answered.
func (c castClient) rawCall(number uint64, to byte, input []byte) []byte {
	c.t.Helper()
	addr := common.BytesToAddress([]byte{to})
	out := strings.TrimSpace(c.must("call", "--block", strconv.FormatUint(number, 10), addr.Hex(), "0x"+hex.EncodeToString(input)))
	b, err := hex.DecodeString(strings.TrimPrefix(out, "0x"))
	if err != nil {
		c.t.Fatalf("cast call 0x%x: %q is not hex: %v", to, out, err)
	}
	return b
}

// TestTxPartsMatchIndex calls 0x47 (an input), 0x48 (an output) and 0x49
// (a witness element) with cast through the node's eth_call on a real
// signed P2WPKH spend of the regtest miner, and checks the answers byte by
// byte against the Bitcoin index as of each L2 block's own view: in a
// block whose view holds the spend, the input (witness count, value of the
// coinbase output it spends, prevout, sequence), the spent flag of that
// coinbase output (1) and the witness's public key; in the block before,
// whose view does not hold it, no input and the same output unspent (0).
func TestTxPartsMatchIndex(t *testing.T) {
	s := getStack(t)
	c := castClient{t: t, bin: castBin(t), url: s.url}

	pay, err := s.pay(70_000_000)
	if err != nil {
		t.Fatal(err)
	}
	// Nothing mines until mineBitcoin: the L2 head's view cannot hold pay.
	before := s.l2.Chain.Head().Number.Uint64()
	s.mineBitcoin(t, 1)
	txid := pay.TxHash()
	at, err := s.ix.TxByID(txid, chainhash.Hash{})
	if err != nil {
		t.Fatalf("the spend is not indexed: %v", err)
	}
	s.mineBitcoin(t, int(s.l2.Spec.Config.ViewLag)+1)
	after := s.waitL2(t, "the L2 view to include the spend", 20*time.Second, func(e block.Extra, _ uint64) bool {
		return int32(e.BitcoinHeight) >= at.Height
	})
	if v := s.viewOf(t, before); int32(v.BitcoinHeight) >= at.Height {
		t.Fatalf("L2 block %d's view %d already holds the spend at %d", before, v.BitcoinHeight, at.Height)
	}
	vh := s.viewOf(t, after).BitcoinHash

	// The index's answers as of the view of block after.
	tx, err := s.ix.TxByID(txid, vh)
	if err != nil {
		t.Fatal(err)
	}
	in := tx.Tx.TxIn[0]
	if len(in.Witness) != 2 || len(in.Witness[1]) != 33 {
		t.Fatalf("the P2WPKH spend's witness has %d elements", len(in.Witness))
	}
	op := in.PreviousOutPoint
	prev, err := s.ix.TxByID(op.Hash, vh)
	if err != nil {
		t.Fatal(err)
	}
	spentOut := prev.Tx.TxOut[op.Index]
	if _, err := s.ix.SpendOf(op, vh); err != nil {
		t.Fatalf("index: %s is not spent as of the view: %v", op, err)
	}
	if _, err := s.ix.SpendOf(op, s.viewOf(t, before).BitcoinHash); !errors.Is(err, index.ErrNotFound) {
		t.Fatalf("index: %s spent as of the earlier view: %v", op, err)
	}

	wantInput := binary.BigEndian.AppendUint16(nil, uint16(len(in.Witness)))
	wantInput = binary.BigEndian.AppendUint64(wantInput, uint64(spentOut.Value))
	wantInput = append(wantInput, display(op.Hash)...)
	wantInput = binary.BigEndian.AppendUint16(wantInput, uint16(op.Index))
	wantInput = binary.BigEndian.AppendUint16(wantInput, uint16(len(in.SignatureScript)))
	wantInput = append(wantInput, in.SignatureScript...)
	wantInput = binary.BigEndian.AppendUint32(wantInput, in.Sequence)
	wantOutput := func(spent byte) []byte {
		b := binary.BigEndian.AppendUint64(nil, uint64(spentOut.Value))
		b = binary.BigEndian.AppendUint16(b, uint16(len(spentOut.PkScript)))
		return append(append(b, spentOut.PkScript...), spent)
	}
	wantWitness := append(be16(33), in.Witness[1]...)

	inputQ := append(display(txid), append(be16(0), be16(0xffff)...)...)
	outputQ := append(display(op.Hash), append(be16(int(op.Index)), be16(0xffff)...)...)
	witnessQ := append(display(txid), append(be16(0), append(be16(1), be16(0xffff)...)...)...)
	tests := []struct {
		name   string
		number uint64
		addr   byte
		input  []byte
		want   []byte
	}{
		{"0x47 the spend's input", after, 0x47, inputQ, wantInput},
		{"0x48 the coinbase output it spends: spent", after, 0x48, outputQ, wantOutput(1)},
		{"0x49 the witness's public key", after, 0x49, witnessQ, wantWitness},
		{"0x47 before the spend's block: no such tx", before, 0x47, inputQ, []byte{}},
		{"0x48 before the spend's block: unspent", before, 0x48, outputQ, wantOutput(0)},
		{"0x49 before the spend's block: no such tx", before, 0x49, witnessQ, []byte{}},
	}
	for _, tt := range tests {
		if got := c.rawCall(tt.number, tt.addr, tt.input); hex.EncodeToString(got) != hex.EncodeToString(tt.want) {
			t.Errorf("%s (L2 block %d): cast got %x, the index says %x", tt.name, tt.number, got, tt.want)
		}
	}
}

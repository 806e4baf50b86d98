package tunnel

import (
	"math/big"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// fuzzState answers every slot with a word derived from the fuzz input
// and the slot, except the slots set explicitly: hostile or corrupt
// storage for the readers.
type fuzzState struct {
	seed []byte
	set  map[common.Hash]common.Hash
}

func (f *fuzzState) GetState(_ common.Address, slot common.Hash) common.Hash {
	if w, ok := f.set[slot]; ok {
		return w
	}
	if len(f.seed) == 0 {
		return common.Hash{}
	}
	w := crypto.Keccak256Hash(f.seed, slot[:])
	// Small numbers are what lengths and flags look like: keep most
	// words small so the readers go past their length checks.
	if f.seed[0]&1 == 0 {
		var small common.Hash
		small[31], small[30] = w[31]&0x3f, w[30]&1
		return small
	}
	return w
}

// FuzzReadStorage: the storage readers (ReadBatch, ReadItem,
// ReadWithdrawal, readBytes) never panic and never read without bound,
// whatever the predeploy's storage holds; what they accept re-encodes
// (OpenBatchCalldata) without error when the batch is one PlanPayout
// accepts.
func FuzzReadStorage(f *testing.F) {
	f.Add([]byte{}, uint64(0), uint8(0))
	f.Add([]byte{0}, uint64(1), uint8(4))
	f.Add([]byte{1, 2, 3}, uint64(7), uint8(25))
	f.Add([]byte{2, 0xff}, uint64(1<<40), uint8(3))
	f.Fuzz(func(t *testing.T, seed []byte, id uint64, n uint8) {
		st := &fuzzState{seed: seed, set: map[common.Hash]common.Hash{}}
		// An input and output array of n entries, to reach the element
		// readers with plausible lengths.
		st.set[nsSlot(offInputs)] = common.BigToHash(new(big.Int).SetUint64(uint64(n % 120)))
		st.set[nsSlot(offOutputs)] = common.BigToHash(new(big.Int).SetUint64(uint64(n % 30)))
		addr := common.Address{1}
		b, err := ReadBatch(st, addr)
		if err == nil && (len(b.Inputs) > MaxPayoutInputs || len(b.Outputs) > MaxPayoutOutputs) {
			t.Fatalf("ReadBatch accepted %d inputs, %d outputs", len(b.Inputs), len(b.Outputs))
		}
		if err == nil && b.Open {
			if _, err := OpenBatchCalldata(b); err != nil {
				t.Fatalf("a read batch does not encode: %v", err)
			}
		}
		if it, ok, err := ReadItem(st, addr, id); err == nil && ok && len(it.Script) > 10_000 {
			t.Fatalf("script of %d bytes", len(it.Script))
		}
		v := newFixture(t, 10).vault
		_, _, _ = ReadWithdrawal(st, addr, v, id)
		_ = ReadQueueHead(st, addr)
		_ = ReadPendingSat(st, addr)
		_, _ = ReadPaidTxid(st, addr, id)
		_ = ReadFlaggedSpend(st, addr, chainhash.Hash{byte(id)})
		_ = ReadPosted(st, addr, id, uint32(n))
	})
}

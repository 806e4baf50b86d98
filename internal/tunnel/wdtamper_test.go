package tunnel_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/tunnel"
)

// TestTamperedBatchRefused: a dishonest sequencer (it holds the seal key)
// cannot put before the signers a payout batch the chain did not derive.
// At the block that opens batch 1 (withdrawal 0, superfinal), with
// withdrawal 1 burned but not superfinal, the follower refuses, with
// ErrBadSystemTxs, the block re-sealed with an openBatch call that pays
// an id nobody burned for, more than was burned, the burn that is not
// superfinal, one id twice, or a fee above the maxFee; then it takes the
// honest block. A signer's own node (a follower) so never shows it such
// a batch (the signers' checks are for a derivation wrong on every node:
// internal/devnet/devnettest TestSignersVerifyAlone).
func TestTamperedBatchRefused(t *testing.T) {
	s := newWDScenario(t)
	user := s.user.Address
	dep := tx([]wire.OutPoint{s.coinbase()}, wire.NewTxOut(100_000_000, s.vault), wire.NewTxOut(0, opRet(user.Bytes())))
	s.mine(dep) // 21
	for range 7 {
		s.mine()
	}
	s.l2(26) // minted
	payTo := append([]byte{0x00, 0x14}, make([]byte, 20)...)
	payTo[2] = 0x77
	const maxFee = 50_000
	s.l2Tx(26, s.withdrawTx(payTo, 40_000_000, maxFee)) // id 0
	for s.seq.Head().Number.Uint64() < 30 {
		s.l2(26)
	}
	sf := s.publishSuperfinal()
	s.l2Tx(sf-1, s.withdrawTx(payTo, 10_000_000, maxFee)) // id 1, not superfinal

	// The honest block, built and committed by the sequencer only.
	parent := s.seq.Head()
	built, err := s.seq.BuildBlock(chain.BuildParams{Parent: parent, Time: parent.Time + 2, View: s.view(sf),
		Coinbase: crypto.PubkeyToAddress(seqKey.PublicKey)})
	if err != nil {
		t.Fatal(err)
	}
	if err := block.Seal(built.Block.Header, seqKey); err != nil {
		t.Fatal(err)
	}
	if err := s.seq.CommitBuilt(built); err != nil {
		t.Fatal(err)
	}
	honest := built.Block
	b, err := tunnel.ReadBatch(s.state(honest), s.tcfg.TunnelAddress)
	if err != nil || !b.Open || len(b.Outputs) != 1 || b.Outputs[0].ID != 0 {
		t.Fatalf("batch %+v %v: want batch 1 paying withdrawal 0", b, err)
	}
	at := slices.IndexFunc(honest.Body.SystemTxs, func(stx *block.SystemTx) bool {
		m, err := tunnel.TunnelABI.MethodById(stx.Data[:min(4, len(stx.Data))])
		return err == nil && m.Name == "openBatch"
	})
	if at < 0 {
		t.Fatal("no openBatch in the block")
	}
	o := b.Outputs[0]
	bad := []struct {
		name string
		mut  func(b *tunnel.Batch)
	}{
		{"an output nobody burned for", func(b *tunnel.Batch) {
			b.Outputs = append(b.Outputs, tunnel.BatchOutput{ID: 77, Value: 1_000_000})
		}},
		{"more than was burned", func(b *tunnel.Batch) { b.Outputs[0].Value = o.Amount + 1_000 }},
		{"a burn that is not superfinal", func(b *tunnel.Batch) {
			b.Outputs = append(b.Outputs, tunnel.BatchOutput{ID: 1, Value: 10_000_000 - 1_000})
		}},
		{"an id paid twice", func(b *tunnel.Batch) { b.Outputs = append(b.Outputs, b.Outputs[0]) }},
		{"a fee above maxFee", func(b *tunnel.Batch) {
			b.Outputs[0].Value = o.Amount - maxFee - 1
			b.Fee += o.Value - b.Outputs[0].Value
		}},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			nb := *b
			nb.Outputs = slices.Clone(b.Outputs)
			c.mut(&nb)
			data, err := tunnel.OpenBatchCalldata(&nb)
			if err != nil {
				t.Fatal(err)
			}
			h := types.CopyHeader(honest.Header)
			body := &block.Body{Txs: slices.Clone(honest.Body.Txs)}
			for _, stx := range honest.Body.SystemTxs {
				body.SystemTxs = append(body.SystemTxs, stx.Copy())
			}
			body.SystemTxs[at].Data = data
			h.TxHash = block.TxRoot(body)
			if err := block.Seal(h, seqKey); err != nil {
				t.Fatal(err)
			}
			if err := s.fol.InsertBlock(&chain.Block{Header: h, Body: body}); !errors.Is(err, chain.ErrBadSystemTxs) {
				t.Fatalf("follower: %v, want ErrBadSystemTxs", err)
			}
		})
	}
	if err := s.fol.InsertBlock(honest); err != nil {
		t.Fatalf("follower refuses the honest block: %v", err)
	}
	if fb, err := tunnel.ReadBatch(s.state(nil), s.tcfg.TunnelAddress); err != nil || fb.Number != 1 {
		t.Fatalf("batch %+v %v", fb, err)
	}
	if s.fol.Head().Hash() != honest.Hash() {
		t.Fatal("the follower's head is not the honest block")
	}
}

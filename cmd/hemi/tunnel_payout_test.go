package main

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/tunnel"
)

// TestPrintPayout: the printed PSBT (and raw form) is the payout every
// signer derives from the same batch.
func TestPrintPayout(t *testing.T) {
	cfg, err := genesis.DevTunnelConfig()
	if err != nil {
		t.Fatal(err)
	}
	v, err := tunnel.NewVault(cfg, &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	b := &tunnel.Batch{Number: 4, FeeRate: 3, Open: true,
		Inputs:  []tunnel.BatchInput{{OutPoint: wire.OutPoint{Index: 1}, Amount: 5_000_000, Height: 10}},
		Outputs: []tunnel.BatchOutput{{ID: 1, Script: append([]byte{0x00, 0x14}, make([]byte, 20)...), Amount: 1_000_000, MaxFee: 10_000}},
	}
	fees, _ := tunnel.NewFees(v)
	plan, err := tunnel.PlanPayout(b.FeeRate, b.Inputs, b.Outputs, fees.VaultScript, fees.WitSize)
	if err != nil {
		t.Fatal(err)
	}
	b.Change, b.Fee = plan.Change, plan.Fee
	want, _ := tunnel.BuildPayout(b, v)

	var out, info bytes.Buffer
	if err := printPayout(&out, &info, b, v, true); err != nil {
		t.Fatal(err)
	}
	p, err := tunnel.ParsePSBTBase64(out.String())
	if err != nil {
		t.Fatal(err)
	}
	if p.Tx.TxHash() != want.TxHash() || !strings.Contains(info.String(), want.TxHash().String()) {
		t.Fatalf("PSBT tx %s, payout %s; info %q", p.Tx.TxHash(), want.TxHash(), info.String())
	}
	out.Reset()
	if err := printPayout(&out, &info, b, v, false); err != nil {
		t.Fatal(err)
	}
	raw, _ := hex.DecodeString(strings.TrimSpace(out.String()))
	var tx wire.MsgTx
	if err := tx.Deserialize(bytes.NewReader(raw)); err != nil || tx.TxHash() != want.TxHash() {
		t.Fatalf("raw payout: %v", err)
	}
	b.Change++ // a batch the fee rule does not give: an error, not a payout
	if err := printPayout(&out, &info, b, v, true); err == nil {
		t.Fatal("printed an underivable payout")
	}
}

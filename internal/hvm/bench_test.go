package hvm

import (
	"encoding/hex"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/core/vm"
	"github.com/ethereum/go-ethereum/params"
)

// BenchmarkRun measures each precompile's Run over the fixture index (the
// hot path of blocks that read Bitcoin), with go-ethereum's ecrecover and
// sha256 as the pricing reference. Mgas/s is RequiredGas over time: a
// precompile priced like ecrecover runs at about ecrecover's Mgas/s; a much
// lower figure would mean it is underpriced for the work it does here.
// Absolute times are for a small, cached index; the documented gas covers
// cold disk reads.
func BenchmarkRun(b *testing.B) {
	f, _, pcs := sharedFixture(b)
	rules := params.MergedTestChainConfig.Rules(big.NewInt(1), true, 1)
	eth := vm.ActivePrecompiledContracts(rules)
	ecrecoverInput, _ := hex.DecodeString("38d18acb67d25c8bb9942764b62f18e17054f66a817bd4295423adf9ed98873e" +
		"000000000000000000000000000000000000000000000000000000000000001b" +
		"38d18acb67d25c8bb9942764b62f18e17054f66a817bd4295423adf9ed98873e" +
		"789d1dd423d25f0772d2748d60f7e4b81bb14d086eba8e8e8efb6dcff8a4ae02")
	tx2 := display(f.tx2.TxHash())
	cases := []struct {
		name  string
		p     vm.PrecompiledContract
		input []byte
	}{
		{"ref/ecrecover", eth[addrOf(0x01)], ecrecoverInput},
		{"ref/sha256-64B", eth[addrOf(0x02)], make([]byte, 64)},
		{"0x40/balance-1-output", pcs[AddrBalance], []byte(f.addr["p2wpkh"])},
		{"0x40/balance-107-outputs", pcs[AddrBalance], []byte(f.coinbaseAddr)},
		{"0x41/utxos-page-10", pcs[AddrUTXOs], append([]byte(f.coinbaseAddr), 0, 0, 0, 10)},
		{"0x41/utxos-page-255", pcs[AddrUTXOs], append([]byte(f.coinbaseAddr), 0, 0, 0, 255)},
		{"0x42/tx-version-only", pcs[AddrTx], append(tx2, 0x20, 0, 0, 0)},
		{"0x42/tx-every-field", pcs[AddrTx], append(tx2, 0x7f, 0xec, 0x3f, 0x0f)},
		{"0x43/confirmations", pcs[AddrConfirmations], display(f.tx1.TxHash())},
		{"0x43/unknown-txid", pcs[AddrConfirmations], make([]byte, 32)},
		{"0x44/last-header", pcs[AddrLastHeader], nil},
		{"0x45/header-at-50", pcs[AddrHeader], []byte{0, 0, 0, 50}},
		{"0x46/p2pkh", pcs[AddrAddrToScript], []byte(f.addr["p2pkh"])},
		{"0x46/p2tr", pcs[AddrAddrToScript], []byte(f.addr["p2tr"])},
		{"0x47/input-max-64KiB", pcs[AddrInput], append(tx2, 0, 0, 0xff, 0xff)},
		{"0x47/input-max-0", pcs[AddrInput], append(tx2, 0, 1, 0, 0)},
		{"0x48/output-spent-flag", pcs[AddrOutput], append(display(f.tx1.TxHash()), 0, 0, 0, 0)},
		{"0x49/witness-element", pcs[AddrWitness], append(tx2, 0, 1, 0, 0, 0xff, 0xff)},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			gas := c.p.RequiredGas(c.input)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.p.Run(c.input); err != nil {
					b.Fatal(err)
				}
			}
			if ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N); ns > 0 {
				b.ReportMetric(float64(gas)/ns*1e3, "Mgas/s")
			}
		})
	}
}

package explorer

import (
	"strconv"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"

	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/tunnel"
)

// FuzzParams: the path and query decoders never panic, and what they
// accept prints back to the same value.
func FuzzParams(f *testing.F) {
	for _, s := range []string{"0", "12", "0x1f", "0X", "-1", "99999999999999999999", "0xzz",
		"0x" + strings.Repeat("ab", 32), strings.Repeat("AB", 32), "0x" + strings.Repeat("1", 40),
		strings.Repeat("f", 40), "", "\x00\xff", "0x" + strings.Repeat("g", 64),
		strings.Repeat("ab", 32) + ":0", strings.Repeat("ab", 32) + ":4294967296", strings.Repeat("AB", 32) + ":007", ":1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if n, ok := parseNumber(s); ok {
			if back, ok2 := parseNumber(strconv.FormatUint(n, 10)); !ok2 || back != n {
				t.Fatalf("number %q -> %d does not round-trip", s, n)
			}
		}
		if h, ok := parseHash(s); ok {
			if back, ok2 := parseHash(h.Hex()); !ok2 || back != h {
				t.Fatalf("hash %q -> %s does not round-trip", s, h)
			}
		}
		if a, ok := parseAddress(s); ok {
			if back, ok2 := parseAddress(a.Hex()); !ok2 || back != a || a == (common.Address{}) && !strings.Contains(s, "0000") {
				t.Fatalf("address %q -> %s does not round-trip", s, a)
			}
		}
		if h, ok := btcHashParam(s); ok {
			if back, ok2 := btcHashParam(h.String()); !ok2 || back != h {
				t.Fatalf("bitcoin hash %q -> %s does not round-trip", s, h)
			}
		}
		if op, ok := parseOutpoint(s); ok {
			if back, ok2 := parseOutpoint(op.String()); !ok2 || back != op {
				t.Fatalf("outpoint %q -> %v does not round-trip", s, op)
			}
		}
		_ = abiString([]byte(s))
	})
}

// FuzzDecodeSystem: any call data to any address decodes to a kind,
// never a panic; a deposit it names is an outpoint that parses.
func FuzzDecodeSystem(f *testing.F) {
	op := wire.OutPoint{Hash: chainhash.Hash{1}, Index: 2}
	to := common.HexToAddress("0x01")
	paid, _ := tunnel.MarkPaidCalldata(3, 0, chainhash.Hash{4})
	flag, _ := tunnel.FlagVaultSpendCalldata(chainhash.Hash{5}, op, 6, true)
	for _, d := range [][]byte{nil, {1, 2, 3}, tunnel.MintCalldata(op, to, 7), tunnel.RefundDepositCalldata(op, to, []byte{0x51, 0x20}, 8, 2),
		tunnel.RecordDepositCalldata(op, to, 9, 4), tunnel.SetFeeRateCalldata(1, 2), paid, flag} {
		f.Add(d, true)
	}
	f.Fuzz(func(t *testing.T, data []byte, toTunnel bool) {
		addr := genesis.HVMStateAddress
		if toTunnel {
			addr = genesis.DefaultTunnelAddress
		}
		c := decodeSystem(&block.SystemTx{To: &addr, Data: data})
		if c.Kind == "" {
			t.Fatal("no kind")
		}
		if c.Deposit != "" {
			if _, ok := parseOutpoint(c.Deposit); !ok {
				t.Fatalf("deposit %q does not parse", c.Deposit)
			}
		}
	})
}

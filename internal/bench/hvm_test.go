package bench

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hemi-go/hemi/internal/btc/index"
	"github.com/hemi-go/hemi/internal/hvm"
	"github.com/hemi-go/hemi/internal/node/indexadapt"
)

var hvmLine = regexp.MustCompile(`^hvm balance_ratio=([0-9]+\.[0-9]{2}) utxos_ratio=([0-9]+\.[0-9]{2}) reads_max=([0-9]+)$`)

// directUnspent computes, from the blocks alone, the outputs paying
// script that no later input spends, in chain order (height, position in
// block, output index): the 0x41 order.
func directUnspent(bs []*wire.MsgBlock, script []byte) []hvm.UTXO {
	var outs []hvm.UTXO
	spent := map[wire.OutPoint]bool{}
	for _, b := range bs {
		for _, tx := range b.Transactions {
			for _, in := range tx.TxIn {
				spent[in.PreviousOutPoint] = true
			}
			for i, o := range tx.TxOut {
				if bytes.Equal(o.PkScript, script) {
					outs = append(outs, hvm.UTXO{Outpoint: wire.OutPoint{Hash: tx.TxHash(), Index: uint32(i)}, Value: o.Value})
				}
			}
		}
	}
	return slices.DeleteFunc(outs, func(u hvm.UTXO) bool { return spent[u.Outpoint] })
}

// TestHVMSmall runs the benchmark at a tiny size and checks that its last
// line parses and that the 0x40 and 0x41 answers it measured (and checked
// on every call) are those computed directly from the chain's blocks, so
// it cannot time empty or wrong answers. It asserts no timing.
func TestHVMSmall(t *testing.T) {
	cfg := HVMConfig{BusyOutputs: 250, BusyUnspent: 25, QuietOutputs: 10, Runs: 3, MinDuration: time.Millisecond, WorkDir: t.TempDir()}
	var out bytes.Buffer
	res, err := RunHVM(context.Background(), cfg, &out)
	t.Log(out.String())
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	last := lines[len(lines)-1]
	m := hvmLine.FindStringSubmatch(last)
	if m == nil || last != res.ResultLine() {
		t.Fatalf("last line %q does not parse", last)
	}
	for i, want := range []float64{res.BalanceRatio, res.UTXOsRatio} {
		if got, err := strconv.ParseFloat(m[i+1], 64); err != nil || got <= 0 || got-want > 0.005 || want-got > 0.005 {
			t.Errorf("ratio %d printed %q, measured %v", i, m[i+1], want)
		}
	}
	if got, _ := strconv.ParseUint(m[3], 10, 64); got != res.ReadsMax || got == 0 {
		t.Errorf("reads_max printed %s, measured %d", m[3], res.ReadsMax)
	}
	// Today's index scans every output of the address: the busy calls
	// read at least each output once; the quiet ones at least each of
	// their 10.
	if res.BalanceBusy.Reads < 1 || res.UTXOsBusy.Reads < hvmPageSize || res.UTXOsQuiet.Reads < hvmPageSize {
		t.Errorf("reads: %+v %+v %+v", res.BalanceBusy, res.UTXOsBusy, res.UTXOsQuiet)
	}

	c, err := buildHVMChain(context.Background(), &chaincfg.RegressionNetParams, cfg.BusyOutputs, cfg.BusyUnspent, cfg.QuietOutputs)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []struct {
		addr    string
		script  []byte
		unspent int
	}{{c.busyAddr, c.busyScript, cfg.BusyUnspent}, {c.quietAddr, c.quietScript, cfg.QuietOutputs}} {
		want := directUnspent(c.blocks, a.script)
		if len(want) != a.unspent {
			t.Fatalf("%s: %d unspent outputs in the blocks, want %d", a.addr, len(want), a.unspent)
		}
		var sum int64
		for _, u := range want {
			sum += u.Value
		}
		if got := res.Balance[a.addr]; got != sum || got == 0 {
			t.Errorf("%s: 0x40 answered %d, the blocks hold %d unspent", a.addr, got, sum)
		}
		if got := res.Page[a.addr]; !slices.Equal(got, want[:hvmPageSize]) {
			t.Errorf("%s: 0x41 page 0 %v, want %v", a.addr, got, want[:hvmPageSize])
		}
	}
}

// TestHVMChecksAnswers checks that the measuring loop fails on an answer
// that differs from the expected one instead of timing it.
func TestHVMChecksAnswers(t *testing.T) {
	c, err := buildHVMChain(context.Background(), &chaincfg.RegressionNetParams, 30, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	ix := openBenchIndex(t, c)
	view, err := indexadapt.NewView(ix, c.blocks[len(c.blocks)-1].BlockHash())
	if err != nil {
		t.Fatal(err)
	}
	pcs := hvm.Precompiles(view, &chaincfg.RegressionNetParams)
	good := hvmProbe{"0x40 busy", pcs[hvm.AddrBalance], []byte(c.busyAddr), wantBalance(c.busyUnspent())}
	if _, calls, n, err := measureProbe(context.Background(), ix, good, 0); err != nil || n == 0 || calls != 1 {
		t.Fatalf("correct answer: %d calls, %d reads, %v", calls, n, err)
	}
	tests := []hvmProbe{
		{"balance off by one output", pcs[hvm.AddrBalance], []byte(c.busyAddr), wantBalance(c.busyUnspent()[1:])},
		{"empty answer (address of another network)", pcs[hvm.AddrBalance], []byte("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"), wantBalance(nil)},
		{"page shifted", pcs[hvm.AddrUTXOs], append([]byte(c.busyAddr), 0, 0, 0, 2), wantPage(c.busyUnspent()[1:])},
	}
	for _, p := range tests {
		t.Run(p.name, func(t *testing.T) {
			if _, _, _, err := measureProbe(context.Background(), ix, p, 0); err == nil || !strings.Contains(err.Error(), "want") {
				t.Fatalf("got %v, want a wrong-answer error", err)
			}
		})
	}
}

func TestHVMConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  HVMConfig
	}{
		{"negative busy", HVMConfig{BusyOutputs: -1}},
		{"more unspent than outputs", HVMConfig{BusyOutputs: 10, BusyUnspent: 11}},
		{"too many quiet", HVMConfig{QuietOutputs: 1001}},
		{"negative runs", HVMConfig{Runs: -2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := RunHVM(context.Background(), tc.cfg, &bytes.Buffer{}); !errors.Is(err, ErrHVMConfig) {
				t.Fatalf("got %v, want ErrHVMConfig", err)
			}
		})
	}
}

// openBenchIndex indexes c's blocks in a fresh index closed at the end of
// the test.
func openBenchIndex(t *testing.T, c *hvmChain) *index.Index {
	t.Helper()
	ix, err := index.Open(index.Config{Dir: t.TempDir(), Params: &chaincfg.RegressionNetParams, MaxBatchDelay: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	if err := feedIndex(context.Background(), ix, c.blocks); err != nil {
		t.Fatal(err)
	}
	return ix
}

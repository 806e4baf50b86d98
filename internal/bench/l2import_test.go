package bench

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/rawdb"

	"github.com/hemi-go/hemi/internal/testtools"
)

// TestL2Import runs the whole benchmark small (2 blocks of 200 transfers
// per kind, one run, both state schemes of go-ethereum) and checks
// correctness only: both importers imported every transaction and reached
// the expected balances (RunL2Import checks both after each import), and
// the last line has the documented shape; each import's CPU time was
// read. No timing is asserted.
func TestL2Import(t *testing.T) {
	for _, scheme := range []string{rawdb.HashScheme, rawdb.PathScheme} {
		t.Run(scheme, func(t *testing.T) {
			var out bytes.Buffer
			res, err := RunL2Import(context.Background(), L2ImportConfig{Blocks: 2, PerBlock: 200, Runs: 1, WorkDir: t.TempDir(), GethScheme: scheme}, &out)
			if err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			if len(res.Kinds) != len(l2Kinds) {
				t.Fatalf("%d kinds measured, want %d", len(res.Kinds), len(l2Kinds))
			}
			for _, k := range res.Kinds {
				if k.Txs != 400 {
					t.Errorf("%s: %d txs, want 400", k.Kind, k.Txs)
				}
				if k.OursCPU <= 0 || k.GethCPU <= 0 {
					t.Errorf("%s: CPU ours %s, geth %s: an import takes some", k.Kind, k.OursCPU, k.GethCPU)
				}
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			last := lines[len(lines)-1]
			if last != res.ResultLine() || !strings.HasPrefix(last, "l2-import ours_tx_s=") || !strings.Contains(last, " geth_tx_s=") || !strings.Contains(last, " ratio=") || !strings.Contains(last, " cpu_ratio=") {
				t.Fatalf("last line %q", last)
			}
		})
	}
}

// TestL2WorkloadEquivalent checks that both importers get the same user
// transactions and the same genesis state.
func TestL2WorkloadEquivalent(t *testing.T) {
	btc, err := openL2Bitcoin(filepath.Join(t.TempDir(), "bitcoin"), 2)
	if err != nil {
		t.Fatal(err)
	}
	defer btc.Close()
	keys, err := l2Keys(20)
	if err != nil {
		t.Fatal(err)
	}
	w, err := newL2Workload(context.Background(), l2Kinds[1], 20, 2, keys, btc)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.checkSameTxs(); err != nil {
		t.Fatal(err)
	}
	ours, err := w.spec.Header()
	if err != nil {
		t.Fatal(err)
	}
	if theirs := w.geth.ToBlock(); theirs.Root() != ours.Root {
		t.Fatalf("genesis state roots differ: ours %s, go-ethereum %s", ours.Root, theirs.Root())
	}
	bs, err := w.oursBlocks()
	if err != nil {
		t.Fatal(err)
	}
	if len(bs[0].Body.SystemTxs) == 0 {
		t.Fatal("our block has no system transactions")
	}
}

// TestBenchTokenBytecode recompiles BenchTokenSource with the pinned
// solc-js (scripts/install-tools.sh) when node and it are installed, and
// compares with the committed bytecode.
func TestBenchTokenBytecode(t *testing.T) {
	npm, node := testtools.NPM(t, "solc")
	solc := filepath.Join(npm, "node_modules", "solc")
	const script = `
const solc = require(process.env.SOLC_DIR);
const input = {
  language: "Solidity",
  sources: { "BenchToken.sol": { content: process.env.SRC } },
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: "cancun",
    metadata: { bytecodeHash: "none", appendCBOR: false },
    outputSelection: { "*": { "*": ["evm.deployedBytecode.object"] } },
  },
};
const out = JSON.parse(solc.compile(JSON.stringify(input)));
const errs = (out.errors || []).filter((e) => e.severity === "error");
if (errs.length) { for (const e of errs) console.error(e.formattedMessage); process.exit(1); }
process.stdout.write(out.contracts["BenchToken.sol"].BenchToken.evm.deployedBytecode.object);
`
	got, errOut, err := testtools.Cmd{Bin: node, Args: []string{"-e", script},
		Env: []string{"SOLC_DIR=" + solc, "SRC=" + BenchTokenSource}}.Run() // the bytecode apart from warnings
	if err != nil {
		t.Fatalf("solc-js: %v\nstderr:\n%s", err, errOut)
	}
	if !bytes.Equal(common.FromHex(string(got)), BenchTokenCode()) {
		t.Fatalf("BenchTokenSource compiles to\n%s\nnot the committed benchTokenRuntimeHex", got)
	}
}

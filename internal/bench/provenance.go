package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hemi-go/hemi/internal/explorer"
	"github.com/hemi-go/hemi/verify"
	"github.com/hemi-go/hemi/verify/verifytest"
)

// Provenance benchmark defaults (issue 12).
const (
	// DefaultProvenanceRuns verifications are timed per case, natively
	// after as many warm-up calls, in WebAssembly after warm-up batches
	// of as many calls (verify/wasm/run.js).
	DefaultProvenanceRuns = 100
	// DefaultProvenanceAccounts fill the keystone's state so its proofs
	// are as deep as a busy chain's (100,000 accounts: 5 to 6 levels).
	DefaultProvenanceAccounts = 100_000
)

// ProvenanceConfig configures RunProvenance.
type ProvenanceConfig struct {
	Runs     int
	Accounts int
	// WorkDir holds the files Node.js runs (default a temporary
	// directory).
	WorkDir string
}

// ProvenanceCase is one measured bundle.
type ProvenanceCase struct {
	Name string
	// BundleKB is the bundle's JSON without its Bitcoin header run (the
	// anchor and headers arrays), in KB; Headers the run's length and
	// HeaderKB its size at 80 bytes a header.
	BundleKB float64
	Headers  int
	HeaderKB float64
	// One verification is the whole call from the user's input: the
	// genesis file's text parsed, the bundle's JSON verified, the result
	// encoded as JSON (verify.VerifyInput and json.Marshal, what the
	// WebAssembly verifyBundle runs), timed after warm-up. VerifyMS is
	// the fastest native call and VerifyMedianMS the median; WasmMS and
	// WasmMedianMS the same under Node.js (verify/wasm/run.js). The
	// fastest calls are compared: on a shared machine the fastest call
	// is the one the other load did not interrupt, the median measures
	// the load as much as the code.
	VerifyMS, VerifyMedianMS float64
	WasmMS, WasmMedianMS     float64
	// WasmColdMS is a fresh Node.js's first call: compiling and
	// instantiating the module, Go's initialisation and the call (what a
	// page that verifies one bundle waits for).
	WasmColdMS float64
}

// Ratio is the WebAssembly verifier's time per verification over the
// native one's (fastest calls).
func (c ProvenanceCase) Ratio() float64 { return c.WasmMS / c.VerifyMS }

// ProvenanceResult is the benchmark's outcome.
type ProvenanceResult struct {
	Deposit, Tx ProvenanceCase
	WasmMB      float64 // gzipped .wasm, as the explorer serves it
}

// ResultLine is the last line RunProvenance prints: the sizes of the two
// bundles, the header run's size, the native and WebAssembly time per
// verification of the case with the higher WebAssembly ratio and
// that ratio (the goal holds only if it holds for both), the gzipped
// .wasm size, and the slower cold start.
func (r ProvenanceResult) ResultLine() string {
	worst := r.Deposit
	if r.Tx.Ratio() > worst.Ratio() {
		worst = r.Tx
	}
	return fmt.Sprintf("provenance deposit_kb=%.1f tx_kb=%.1f header_kb=%.1f verify_ms=%.2f wasm_verify_ms=%.2f wasm_ratio=%.2f wasm_mb=%.2f wasm_cold_ms=%.0f",
		r.Deposit.BundleKB, r.Tx.BundleKB, max(r.Deposit.HeaderKB, r.Tx.HeaderKB), worst.VerifyMS, worst.WasmMS, worst.Ratio(), r.WasmMB,
		max(r.Deposit.WasmColdMS, r.Tx.WasmColdMS))
}

// RunProvenance builds two complete bundles with verifytest (a regtest
// chain with real proof of work, sealed L2 headers, real Merkle-Patricia
// tries over a state of Accounts accounts): a deposit at 6 + 10
// confirmations (six before its mint, ten on the keystone's publication)
// and a transfer whose keystone is 1,000 L2 blocks later (an EIP-2935
// link); it verifies each natively and, with the explorer's embedded
// WebAssembly build (explorer.EmbeddedVerifier: the bytes the node
// serves, so it runs from any directory with no Go toolchain), under
// Node.js, and prints which .wasm it measured, one line per case and
// ResultLine last.
func RunProvenance(ctx context.Context, cfg ProvenanceConfig, out io.Writer) (ProvenanceResult, error) {
	var res ProvenanceResult
	if cfg.Runs <= 0 {
		cfg.Runs = DefaultProvenanceRuns
	}
	if cfg.Accounts <= 0 {
		cfg.Accounts = DefaultProvenanceAccounts
	}
	dir, err := os.MkdirTemp(cfg.WorkDir, "hemi-bench-provenance-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	fmt.Fprintf(out, "# provenance: %d-account state, %d timed verifications per case; %s/%s, %d CPUs, load average %s\n", cfg.Accounts, cfg.Runs, runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), loadAvg())
	v, wasm, execJS, runJS, node, err := verifierFiles(dir)
	if err != nil {
		return res, err
	}
	res.WasmMB = float64(v.GzipBytes) / 1e6
	fmt.Fprintf(out, "# wasm: the explorer's embedded verifier (internal/explorer/web/wasm, what the node serves; go generate ./internal/explorer\n"+
		"# rebuilds it): %.2f MB, %.2f MB gzipped, sha256 %s, built by %s; the native verifier is this binary's, %s\n",
		float64(len(v.Wasm))/1e6, res.WasmMB, v.SHA256[:16], v.GoVersion, runtime.Version())
	for _, c := range []struct {
		name string
		spec verifytest.Spec
		dst  *ProvenanceCase
	}{
		{"deposit at 6+10 confirmations", verifytest.Spec{Kind: verify.KindDeposit, DepositConfs: 16, KeystoneConfs: 10, FillerAccounts: cfg.Accounts}, &res.Deposit},
		{"tx, keystone 1000 L2 blocks later", verifytest.Spec{Distance: 1000, KeystoneConfs: 10, FillerAccounts: cfg.Accounts}, &res.Tx},
	} {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		f, err := verifytest.Build(c.spec)
		if err != nil {
			return res, err
		}
		pc, err := measureBundle(ctx, c.name, f, cfg.Runs, node, execJS, runJS, wasm, dir)
		if err != nil {
			return res, fmt.Errorf("%s: %w", c.name, err)
		}
		*c.dst = pc
		fmt.Fprintf(out, "provenance-case %q bundle_kb=%.1f headers=%d header_kb=%.1f verify_ms=%.2f wasm_verify_ms=%.2f wasm_ratio=%.2f median_ms=%.2f wasm_median_ms=%.2f wasm_cold_ms=%.0f\n",
			pc.Name, pc.BundleKB, pc.Headers, pc.HeaderKB, pc.VerifyMS, pc.WasmMS, pc.Ratio(), pc.VerifyMedianMS, pc.WasmMedianMS, pc.WasmColdMS)
	}
	fmt.Fprintf(out, "# bundle_kb excludes the Bitcoin header run (header_kb, 80 bytes a header from the checkpoint: here the regtest genesis;\n"+
		"# from mainnet's pinned 705,600 to a tip near 975,000 it would be about 21,000 KB). One verification is the whole call from\n"+
		"# the input's text to the result's JSON. verify_ms and wasm_verify_ms are the fastest of the timed warm calls, native and\n"+
		"# under Node.js %s, and wasm_ratio their ratio; median_ms and wasm_median_ms the medians (they measure the load average,\n"+
		"# now %s, too); wasm_cold_ms a fresh Node.js's instantiation and first call; wasm_mb the gzipped verifier.\n", nodeVersion(node), loadAvg())
	fmt.Fprintln(out, res.ResultLine())
	return res, nil
}

func measureBundle(ctx context.Context, name string, f *verifytest.Forged, runs int, node, execJS, runJS, wasm, dir string) (ProvenanceCase, error) {
	pc := ProvenanceCase{Name: name}
	data, err := f.Bundle.Marshal()
	if err != nil {
		return pc, err
	}
	noRun := *f.Bundle
	noRun.Bitcoin.Anchor, noRun.Bitcoin.Headers = nil, nil
	small, err := noRun.Marshal()
	if err != nil {
		return pc, err
	}
	pc.BundleKB = float64(len(small)) / 1000
	pc.Headers = len(f.Bundle.Bitcoin.Anchor) + len(f.Bundle.Bitcoin.Headers)
	pc.HeaderKB = float64(80*pc.Headers) / 1000
	// The forged network is not pinned: its identity goes to both
	// verifiers as a genesis file.
	gen, err := genesisOf(f.Identity)
	if err != nil {
		return pc, err
	}
	in := verify.Input{Genesis: string(gen)}
	call := func() error {
		r := verify.VerifyInput(data, in, time.Now())
		if _, err := json.Marshal(r); err != nil {
			return err
		}
		if !r.OK {
			return fmt.Errorf("does not verify: %s: %s", r.FailedLink, r.Error)
		}
		return nil
	}
	// Building the bundle left a large heap of garbage (the state's
	// tries): collect it and hand it back to the OS now, or the GC and
	// the scavenger would do it during the timed calls.
	debug.FreeOSMemory()
	for range runs {
		if err := ctx.Err(); err != nil {
			return pc, err
		}
		if err := call(); err != nil {
			return pc, err
		}
	}
	walls := make([]time.Duration, 0, runs)
	for range runs {
		if err := ctx.Err(); err != nil {
			return pc, err
		}
		w0 := time.Now()
		if err := call(); err != nil {
			return pc, err
		}
		walls = append(walls, time.Since(w0))
	}
	pc.VerifyMS = float64(slices.Min(walls)) / 1e6
	pc.VerifyMedianMS = float64(median(walls)) / 1e6
	cases, _ := json.Marshal([]map[string]any{{"bundle": string(data), "options": map[string]any{"genesis": string(gen)}}})
	cp := filepath.Join(dir, "cases.json")
	if err := os.WriteFile(cp, cases, 0o644); err != nil {
		return pc, err
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, node, runJS, execJS, wasm, cp, strconv.Itoa(runs))
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return pc, fmt.Errorf("node: %w: %s", err, stderr.Bytes())
	}
	var results []verify.Result
	if err := json.Unmarshal(stdout.Bytes(), &results); err != nil || len(results) != 1 || !results[0].OK {
		return pc, fmt.Errorf("the WebAssembly verifier: %v %s", err, stdout.Bytes())
	}
	fields := map[string]*float64{"wasm_cold_ms": &pc.WasmColdMS, "wasm_verify_ms": &pc.WasmMS, "wasm_median_ms": &pc.WasmMedianMS}
	seen := 0
	for _, kv := range strings.Fields(stderr.String()) {
		k, v, _ := strings.Cut(kv, "=")
		if dst, ok := fields[k]; ok {
			if *dst, err = strconv.ParseFloat(v, 64); err != nil {
				return pc, fmt.Errorf("node printed %q: %w", kv, err)
			}
			seen++
		}
	}
	if seen != len(fields) {
		return pc, fmt.Errorf("node printed no timing: %s", stderr.Bytes())
	}
	return pc, nil
}

// genesisOf writes the parts of a genesis file verify.ParseGenesis reads
// for id.
func genesisOf(id *verify.Identity) ([]byte, error) {
	seqs := []map[string]string{}
	for _, s := range id.Sequencers {
		seqs = append(seqs, map[string]string{"address": strings.ToLower(s.Hex())})
	}
	g := map[string]any{"version": 1, "chain_id": id.ChainID, "bitcoin": map[string]any{"network": id.BitcoinNetwork},
		"sequencers": seqs, "keystone_interval": id.KeystoneInterval, "pop": map[string]any{"superfinal_depth": id.SuperfinalDepth}}
	if t := id.Tunnel; t != nil {
		hexes := func(ks [][32]byte) []string {
			out := []string{}
			for _, k := range ks {
				out = append(out, fmt.Sprintf("%x", k))
			}
			return out
		}
		g["tunnel"] = map[string]any{"signers": hexes(t.Signers), "k": t.K, "recovery": hexes(t.Recovery), "m": t.M,
			"recovery_delay": t.RecoveryDelay, "deposit_confirmations": t.DepositConfirmations, "min_deposit_sat": t.MinDepositSat,
			"tunnel_address": strings.ToLower(t.TunnelAddress.Hex())}
	}
	return json.Marshal(g)
}

// verifierFiles writes the explorer's embedded verifier (the .wasm and
// the wasm_exec.js of the Go that built it, and verifier.js) and verify's Node.js runner
// into dir and finds Node.js: no source tree and no Go toolchain needed,
// and the bytes measured are those the explorer serves.
func verifierFiles(dir string) (v explorer.Verifier, wasm, execJS, runJS, node string, err error) {
	node, err = exec.LookPath("node")
	if err != nil {
		return v, "", "", "", "", errors.New("bench provenance needs Node.js (node on PATH) to run the WebAssembly verifier")
	}
	if v, err = explorer.EmbeddedVerifier(); err != nil {
		return v, "", "", "", "", err
	}
	wasm, execJS, runJS = filepath.Join(dir, "verify.wasm"), filepath.Join(dir, "wasm_exec.js"), filepath.Join(dir, "run.js")
	// run.js loads verifier.js from its own directory.
	face := filepath.Join(dir, "verifier.js")
	for path, b := range map[string][]byte{wasm: v.Wasm, execJS: v.WasmExecJS, runJS: []byte(verify.WasmNodeRunner()), face: v.VerifierJS} {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			return v, "", "", "", "", err
		}
	}
	return v, wasm, execJS, runJS, node, nil
}

func nodeVersion(node string) string {
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(out))
}

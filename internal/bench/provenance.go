package bench

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hemi-go/hemi/verify"
	"github.com/hemi-go/hemi/verify/verifytest"
)

// Provenance benchmark defaults (issue 12).
const (
	// DefaultProvenanceRuns native verifications are timed per case (the
	// median is reported); the WebAssembly verifier runs as many after as
	// many warm-up calls.
	DefaultProvenanceRuns = 30
	// DefaultProvenanceAccounts fill the keystone's state so its proofs
	// are as deep as a busy chain's (100,000 accounts: 5 to 6 levels).
	DefaultProvenanceAccounts = 100_000
)

// ProvenanceConfig configures RunProvenance.
type ProvenanceConfig struct {
	Runs     int
	Accounts int
	// WorkDir holds the built .wasm (default a temporary directory).
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
	VerifyMS float64 // native, median
	WasmMS   float64 // WebAssembly under Node.js, mean after warm-up
}

// ProvenanceResult is the benchmark's outcome.
type ProvenanceResult struct {
	Deposit, Tx ProvenanceCase
	WasmMB      float64 // gzipped .wasm
}

// ResultLine is the last line RunProvenance prints: the sizes of the two
// bundles, the header run's size, the slower case's native and
// WebAssembly verification time and their ratio, the gzipped .wasm size.
func (r ProvenanceResult) ResultLine() string {
	slow := r.Deposit
	if r.Tx.VerifyMS > slow.VerifyMS {
		slow = r.Tx
	}
	return fmt.Sprintf("provenance deposit_kb=%.1f tx_kb=%.1f header_kb=%.1f verify_ms=%.2f wasm_verify_ms=%.2f wasm_ratio=%.2f wasm_mb=%.2f",
		r.Deposit.BundleKB, r.Tx.BundleKB, max(r.Deposit.HeaderKB, r.Tx.HeaderKB), slow.VerifyMS, slow.WasmMS, slow.WasmMS/slow.VerifyMS, r.WasmMB)
}

// RunProvenance builds two complete bundles with verifytest (a regtest
// chain with real proof of work, sealed L2 headers, real Merkle-Patricia
// tries over a state of Accounts accounts): a deposit at 6 + 10
// confirmations (six before its mint, ten on the keystone's publication)
// and a transfer whose keystone is 1,000 L2 blocks later (an EIP-2935
// link); it verifies each natively and, built for GOOS=js GOARCH=wasm,
// under Node.js, and prints one line per case and ResultLine last.
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
	fmt.Fprintf(out, "# provenance: %d-account state, %d timed verifications per case; %s/%s, %d CPUs\n", cfg.Accounts, cfg.Runs, runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
	wasm, execJS, runJS, node, err := buildVerifierWasm(ctx, dir)
	if err != nil {
		return res, err
	}
	if res.WasmMB, err = gzipMB(wasm); err != nil {
		return res, err
	}
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
		fmt.Fprintf(out, "provenance-case %q bundle_kb=%.1f headers=%d header_kb=%.1f verify_ms=%.2f wasm_verify_ms=%.2f wasm_ratio=%.2f\n",
			pc.Name, pc.BundleKB, pc.Headers, pc.HeaderKB, pc.VerifyMS, pc.WasmMS, pc.WasmMS/pc.VerifyMS)
	}
	fmt.Fprintf(out, "# bundle_kb excludes the Bitcoin header run (header_kb, 80 bytes a header from the checkpoint: here the regtest genesis;\n"+
		"# from mainnet's pinned 705,600 to a tip near 975,000 it would be about 21,000 KB). verify_ms is the native median,\n"+
		"# wasm_verify_ms the mean under Node.js %s after as many warm-up calls; wasm_mb the gzipped verifier.\n", nodeVersion(node))
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
	opts := verify.Options{Identity: f.Identity, Now: time.Now()}
	times := make([]float64, 0, runs)
	for range runs {
		t0 := time.Now()
		r := verify.VerifyJSON(data, opts)
		times = append(times, float64(time.Since(t0).Microseconds())/1000)
		if !r.OK {
			return pc, fmt.Errorf("does not verify: %s: %s", r.FailedLink, r.Error)
		}
	}
	slices.Sort(times)
	pc.VerifyMS = times[len(times)/2]
	// The forged network is not pinned: its identity goes to the
	// WebAssembly verifier as a genesis file.
	gen, err := genesisOf(f.Identity)
	if err != nil {
		return pc, err
	}
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
	_, ms, ok := strings.Cut(strings.TrimSpace(stderr.String()), "wasm_verify_ms=")
	if !ok {
		return pc, fmt.Errorf("node printed no timing: %s", stderr.Bytes())
	}
	if pc.WasmMS, err = strconv.ParseFloat(ms, 64); err != nil {
		return pc, err
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

// buildVerifierWasm builds verify/wasm for GOOS=js GOARCH=wasm into dir
// and finds Node.js, Go's wasm_exec.js and the runner.
func buildVerifierWasm(ctx context.Context, dir string) (wasm, execJS, runJS, node string, err error) {
	node, err = exec.LookPath("node")
	if err != nil {
		return "", "", "", "", errors.New("bench provenance needs Node.js (node on PATH) to run the WebAssembly verifier")
	}
	pkg, err := exec.CommandContext(ctx, "go", "list", "-e", "-f", "{{.Dir}}", "github.com/hemi-go/hemi/verify/wasm").Output()
	if err != nil {
		return "", "", "", "", fmt.Errorf("go list verify/wasm (run from the source tree): %w", err)
	}
	groot, err := exec.CommandContext(ctx, "go", "env", "GOROOT").Output()
	if err != nil {
		return "", "", "", "", err
	}
	wasm = filepath.Join(dir, "verify.wasm")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", wasm, "github.com/hemi-go/hemi/verify/wasm")
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", "", "", "", fmt.Errorf("GOOS=js GOARCH=wasm go build: %w: %s", err, out)
	}
	return wasm, filepath.Join(strings.TrimSpace(string(groot)), "lib", "wasm", "wasm_exec.js"), filepath.Join(strings.TrimSpace(string(pkg)), "run.js"), node, nil
}

func gzipMB(path string) (float64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if _, err := w.Write(b); err != nil {
		return 0, err
	}
	if err := w.Close(); err != nil {
		return 0, err
	}
	return float64(buf.Len()) / 1e6, nil
}

func nodeVersion(node string) string {
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(out))
}

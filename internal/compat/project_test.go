package compat

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
)

// project is the forge project of testdata/forge, copied to a temporary
// folder (forge writes out/, cache/ and broadcast/ into it) with a
// foundry.toml that compiles through solc-js, and built once.
type project struct {
	dir   string
	forge string
	env   []string // HEMI_ETHERS_DIR for the solc wrapper
	// artifacts by contract name (Token, BitcoinReader).
	artifacts map[string]*artifact
}

// artifact is what the tests use of a forge build artifact.
type artifact struct {
	Path     string
	ABI      abi.ABI
	Bytecode []byte // creation code
	Runtime  []byte // deployed code (no immutables, so equal to the chain's)
}

var (
	projOnce sync.Once
	projDir  string
	proj     *project
	projErr  error
)

// getProject builds the forge project on first use.
func getProject(t *testing.T) *project {
	t.Helper()
	forge := forgeBin(t)
	npm, node := npmDir(t, "solc")
	home := toolHome(t)
	projOnce.Do(func() { proj, projErr = buildProject(t, forge, npm, node, home) })
	if projErr != nil {
		t.Fatalf("forge project: %v", projErr)
	}
	return proj
}

func buildProject(t *testing.T, forge, npm, node, home string) (*project, error) {
	var err error
	if projDir, err = os.MkdirTemp("", "hemi-compat-forge-"); err != nil {
		return nil, err
	}
	if err := os.CopyFS(projDir, os.DirFS("testdata/forge")); err != nil {
		return nil, fmt.Errorf("copy testdata/forge: %w", err)
	}
	wrapperJS, err := filepath.Abs("testdata/solc.mjs")
	if err != nil {
		return nil, err
	}
	solc := filepath.Join(projDir, "solc")
	script := fmt.Sprintf("#!/bin/sh\nexec %q %q \"$@\"\n", node, wrapperJS)
	if err := os.WriteFile(solc, []byte(script), 0o755); err != nil {
		return nil, err
	}
	toml := fmt.Sprintf(`[profile.default]
src = "src"
script = "script"
out = "out"
libs = []
offline = true
auto_detect_solc = false
solc = %q
evm_version = "cancun"

[lint]
lint_on_build = false
`, solc)
	if err := os.WriteFile(filepath.Join(projDir, "foundry.toml"), []byte(toml), 0o644); err != nil {
		return nil, err
	}
	p := &project{dir: projDir, forge: forge, env: []string{"HEMI_ETHERS_DIR=" + npm}, artifacts: map[string]*artifact{}}
	out, errOut, err := run(t, projDir, p.env, forge, "build")
	if err != nil {
		return nil, fmt.Errorf("forge build: %w\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}
	if !strings.Contains(out+errOut, "Solc 0.8.28") {
		return nil, fmt.Errorf("forge build did not compile with solc-js 0.8.28:\n%s\n%s", out, errOut)
	}
	for _, name := range []string{"Token", "BitcoinReader"} {
		a, err := loadArtifact(filepath.Join(projDir, "out", name+".sol", name+".json"))
		if err != nil {
			return nil, err
		}
		p.artifacts[name] = a
	}
	return p, nil
}

func loadArtifact(path string) (*artifact, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("artifact: %w", err)
	}
	var j struct {
		ABI              json.RawMessage
		Bytecode         struct{ Object string }
		DeployedBytecode struct{ Object string }
	}
	if err := json.Unmarshal(raw, &j); err != nil {
		return nil, fmt.Errorf("artifact %s: %w", path, err)
	}
	a := &artifact{Path: path}
	if a.ABI, err = abi.JSON(bytes.NewReader(j.ABI)); err != nil {
		return nil, fmt.Errorf("artifact %s abi: %w", path, err)
	}
	if a.Bytecode, err = hexutil.Decode(j.Bytecode.Object); err != nil {
		return nil, fmt.Errorf("artifact %s bytecode: %w", path, err)
	}
	if a.Runtime, err = hexutil.Decode(j.DeployedBytecode.Object); err != nil {
		return nil, fmt.Errorf("artifact %s deployed bytecode: %w", path, err)
	}
	if len(a.Bytecode) == 0 || len(a.Runtime) == 0 {
		return nil, fmt.Errorf("artifact %s has no bytecode", path)
	}
	return a, nil
}

// forgeCreate deploys src/<name>.sol:<name> with `forge create
// --broadcast --json` from key and checks forge's report against the
// chain: the receipt succeeded, created the address forge printed, and the
// code there is the artifact's runtime code.
func (p *project) forgeCreate(t *testing.T, s *stack, key, name string, args ...string) (common.Address, *types.Receipt) {
	t.Helper()
	cmd := []string{"create", "--rpc-url", s.url, "--private-key", key, "--broadcast", "--json",
		fmt.Sprintf("src/%s.sol:%s", name, name)}
	if len(args) > 0 {
		cmd = append(append(cmd, "--constructor-args"), args...)
	}
	out := mustRun(t, p.dir, p.env, p.forge, cmd...)
	var res struct {
		Deployer        common.Address
		DeployedTo      common.Address
		TransactionHash common.Hash
	}
	if err := json.Unmarshal([]byte(jsonTail(out)), &res); err != nil {
		t.Fatalf("forge create %s: %v\n%s", name, err, out)
	}
	rcpt, err := s.ec.TransactionReceipt(context.Background(), res.TransactionHash)
	if err != nil {
		t.Fatalf("forge create %s: receipt of %s: %v\n%s", name, res.TransactionHash, err, out)
	}
	if rcpt.Status != types.ReceiptStatusSuccessful || rcpt.ContractAddress != res.DeployedTo || res.DeployedTo == (common.Address{}) {
		t.Fatalf("forge create %s: receipt status %d contract %s, forge says deployed to %s\n%s", name, rcpt.Status, rcpt.ContractAddress, res.DeployedTo, out)
	}
	p.checkCode(t, s, name, res.DeployedTo)
	return res.DeployedTo, rcpt
}

// checkCode checks that addr holds the artifact's runtime code.
func (p *project) checkCode(t *testing.T, s *stack, name string, addr common.Address) {
	t.Helper()
	code, err := s.ec.CodeAt(context.Background(), addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(code, p.artifacts[name].Runtime) {
		t.Fatalf("%s at %s: code of %d bytes differs from the artifact's %d-byte runtime code", name, addr, len(code), len(p.artifacts[name].Runtime))
	}
}

// jsonTail is out from the first line that starts with '{' (a tool's
// JSON report after any progress lines).
func jsonTail(out string) string {
	if strings.HasPrefix(out, "{") {
		return out
	}
	if i := strings.Index(out, "\n{"); i >= 0 {
		return out[i+1:]
	}
	return out
}

// call runs method of the artifact's ABI on addr with eth_call at block
// (nil: latest) through go-ethereum's client and unpacks the results.
func (a *artifact) call(t *testing.T, s *stack, addr common.Address, block *big.Int, method string, args ...any) []any {
	t.Helper()
	data, err := a.ABI.Pack(method, args...)
	if err != nil {
		t.Fatalf("pack %s: %v", method, err)
	}
	out, err := s.ec.CallContract(context.Background(), ethereum.CallMsg{To: &addr, Data: data}, block)
	if err != nil {
		t.Fatalf("eth_call %s on %s at %v: %v", method, addr, block, err)
	}
	res, err := a.ABI.Unpack(method, out)
	if err != nil {
		t.Fatalf("unpack %s: %v (output %x)", method, err, out)
	}
	return res
}

// ether is n * 10^18.
func ether(n int64) *big.Int { return new(big.Int).Mul(big.NewInt(n), big.NewInt(1e18)) }

package compat

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// toolTimeout bounds one run of a client.
const toolTimeout = 60 * time.Second

// toolPath is the binary named by env (set by the Makefile), else name on
// PATH; the test skips when neither exists.
func toolPath(t *testing.T, env, name, install string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("%s=%s: %v (install %s; `make test` does)", env, p, err, install)
		}
		return p
	}
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not found: set %s or put it on PATH (install %s; `make test` does)", name, env, install)
	}
	return p
}

func forgeBin(t *testing.T) string {
	t.Helper()
	return toolPath(t, "HEMI_FORGE", "forge", "npm @foundry-rs/forge-linux-amd64@1.7.1")
}

func castBin(t *testing.T) string {
	t.Helper()
	return toolPath(t, "HEMI_CAST", "cast", "npm @foundry-rs/cast-linux-amd64@1.7.1")
}

// npmDir is $HEMI_ETHERS_DIR, the folder whose node_modules holds the
// given packages, and node; the test skips without them.
func npmDir(t *testing.T, pkgs ...string) (dir, node string) {
	t.Helper()
	dir = os.Getenv("HEMI_ETHERS_DIR")
	if dir == "" {
		t.Skip("HEMI_ETHERS_DIR (a folder with node_modules holding solc, ethers and viem; `make test` installs .tools/npm) not set")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not found on PATH")
	}
	for _, p := range pkgs {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", p, "package.json")); err != nil {
			t.Skipf("no %s in %s/node_modules: %v (`make test` installs it)", p, dir, err)
		}
	}
	return dir, node
}

// toolHome is the HOME every client runs with: a temporary folder, so
// Foundry does not write into the user's home (TestMain removes it).
var (
	homeOnce sync.Once
	homeDir  string
	homeErr  error
)

func toolHome(t *testing.T) string {
	t.Helper()
	homeOnce.Do(func() { homeDir, homeErr = os.MkdirTemp("", "hemi-compat-home-") })
	if homeErr != nil {
		t.Fatal(homeErr)
	}
	return homeDir
}

// run runs bin with args in dir (empty: the current one) and extra
// environment, and returns its trimmed stdout and stderr.
func run(t *testing.T, dir string, env []string, bin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), toolTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+toolHome(t), "NO_COLOR=1", "FOUNDRY_DISABLE_NIGHTLY_WARNING=1")
	cmd.Env = append(cmd.Env, env...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (timed out after %s)", err, toolTimeout)
	}
	return strings.TrimSpace(out.String()), strings.TrimSpace(errb.String()), err
}

// mustRun is run failing the test, with the tool's output, on an error.
func mustRun(t *testing.T, dir string, env []string, bin string, args ...string) string {
	t.Helper()
	out, errOut, err := run(t, dir, env, bin, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", filepath.Base(bin), strings.Join(args, " "), err, out, errOut)
	}
	return out
}

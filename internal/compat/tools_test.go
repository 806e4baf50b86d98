package compat

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hemi-go/hemi/internal/testtools"
)

// toolTimeout bounds one run of a client.
const toolTimeout = 60 * time.Second

func forgeBin(t *testing.T) string {
	t.Helper()
	return testtools.Tool(t, "forge")
}

func castBin(t *testing.T) string {
	t.Helper()
	return testtools.Tool(t, "cast")
}

// npmDir is the folder whose node_modules holds the given packages
// ($HEMI_ETHERS_DIR, else .tools/npm), and node; the test skips without
// them.
func npmDir(t *testing.T, pkgs ...string) (dir, node string) {
	t.Helper()
	return testtools.NPM(t, pkgs...)
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
// environment, with a temporary HOME and no colours or nightly warnings,
// and returns its trimmed stdout and stderr, read apart.
func run(t *testing.T, dir string, env []string, bin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	env = append([]string{"HOME=" + toolHome(t), "NO_COLOR=1", "FOUNDRY_DISABLE_NIGHTLY_WARNING=1"}, env...)
	return testtools.Cmd{Bin: bin, Args: args, Dir: dir, Env: env, Timeout: toolTimeout}.Run()
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

package testtools

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ErrNotFound means a program is not where Find looks for it; callers
// match it with errors.Is.
var ErrNotFound = errors.New("tool not found")

// errUnknown means a name no tool of the table has: a bug in the caller.
var errUnknown = errors.New("unknown tool")

// tool says where one program is looked for.
type tool struct {
	// env is the variable that names the binary; empty: PATH only.
	env string
	// installed is where `make tools` puts it, relative to the module root.
	installed string
}

// npmBin is where the Foundry npm packages keep their binaries.
func npmBin(name string) string {
	return ".tools/npm/node_modules/@foundry-rs/" + name + "-linux-amd64/bin/" + name
}

// tools are the programs of the Makefile's HEMI_* variables, and node.
var tools = map[string]tool{
	"btcd":  {env: "HEMI_BTCD", installed: ".tools/bin/btcd"},
	"cast":  {env: "HEMI_CAST", installed: npmBin("cast")},
	"forge": {env: "HEMI_FORGE", installed: npmBin("forge")},
	"anvil": {env: "HEMI_ANVIL", installed: npmBin("anvil")},
	"node":  {},
}

// npmEnv names the folder whose node_modules holds ethers, viem and
// solc-js; npmInstalled is where `make tools` puts it.
const (
	npmEnv       = "HEMI_ETHERS_DIR"
	npmInstalled = ".tools/npm"
)

// Find returns the path of the named program (btcd, cast, forge, anvil or
// node): its HEMI_* variable, else its place under the module root's
// .tools, else PATH. The error wraps ErrNotFound and says how to install it.
func Find(name string) (string, error) {
	tl, ok := tools[name]
	if !ok {
		return "", fmt.Errorf("testtools: %w %q", errUnknown, name)
	}
	if tl.env != "" {
		if p := os.Getenv(tl.env); p != "" {
			if isExecutable(p) {
				return p, nil
			}
			return "", fmt.Errorf("%w: %s=%s is not an executable file: fix or unset %s (`make tools`, scripts/install-tools.sh, installs %s into .tools)",
				ErrNotFound, tl.env, p, tl.env, name)
		}
	}
	if tl.installed != "" {
		if root, ok := ModuleRoot(); ok {
			if p := filepath.Join(root, tl.installed); isExecutable(p) {
				return p, nil
			}
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	if tl.env == "" {
		return "", fmt.Errorf("%w: %s is not on PATH: install it", ErrNotFound, name)
	}
	return "", fmt.Errorf("%w: %s is not in $%s, %s or PATH: run `make tools` (scripts/install-tools.sh) or set %s",
		ErrNotFound, name, tl.env, tl.installed, tl.env)
}

// Tool is Find for a test: it skips t when the program is absent, with
// Find's message, and fails t for a name Find does not know.
func Tool(t testing.TB, name string) string {
	t.Helper()
	p, err := Find(name)
	if errors.Is(err, ErrNotFound) {
		t.Skipf("skipping: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// FindNPM returns the folder whose node_modules holds every package of
// pkgs (ethers, viem, solc): $HEMI_ETHERS_DIR, else the module root's
// .tools/npm. The error wraps ErrNotFound.
func FindNPM(pkgs ...string) (string, error) {
	dir := os.Getenv(npmEnv)
	if dir == "" {
		root, ok := ModuleRoot()
		if !ok {
			return "", fmt.Errorf("%w: %s not set and no module root above the working directory: run `make tools` or set %s", ErrNotFound, npmEnv, npmEnv)
		}
		dir = filepath.Join(root, npmInstalled)
	}
	for _, p := range pkgs {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", p, "package.json")); err != nil {
			return "", fmt.Errorf("%w: no %s in %s/node_modules: run `make tools` (scripts/install-tools.sh) or set %s to a folder that has it",
				ErrNotFound, p, dir, npmEnv)
		}
	}
	return dir, nil
}

// NPM is FindNPM and Find("node") for a test: it returns the npm folder
// and node, and skips t when either is absent.
func NPM(t testing.TB, pkgs ...string) (dir, node string) {
	t.Helper()
	node = Tool(t, "node")
	dir, err := FindNPM(pkgs...)
	if err != nil {
		t.Skipf("skipping: %v", err)
	}
	return dir, node
}

// isExecutable reports whether p is a file with an execute bit.
func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// ModuleRoot walks up from the working directory to the first go.mod: a
// test runs in its package's folder, `hemi bench` usually at the root.
func ModuleRoot() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// DefaultTimeout bounds a Cmd without its own Timeout.
const DefaultTimeout = 60 * time.Second

// waitDelay bounds the wait for output after a killed program.
const waitDelay = time.Second

// Cmd is one run of a program.
type Cmd struct {
	// Bin is the program, usually from Tool.
	Bin  string
	Args []string
	// Dir is the working directory; empty: the current one.
	Dir string
	// Env is added to the process's environment (later entries win).
	Env []string
	// Timeout bounds the run; zero: DefaultTimeout.
	Timeout time.Duration
}

// Run runs c and returns its stdout and stderr, each trimmed, read apart so
// a warning on stderr never corrupts an answer on stdout. A run killed at
// its timeout returns an error that says so.
func (c Cmd) Run() (stdout, stderr string, err error) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.Bin, c.Args...)
	cmd.Dir = c.Dir
	cmd.Env = append(os.Environ(), c.Env...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	// A child of the program (a shell's, node's) may hold the pipes open
	// after the program is killed; stop waiting for them after a moment.
	cmd.WaitDelay = waitDelay
	err = cmd.Run()
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("%w (timed out after %s)", err, timeout)
	}
	return strings.TrimSpace(out.String()), strings.TrimSpace(errOut.String()), err
}

// MustRun is Run failing t, with both outputs, when the program fails; it
// returns stdout.
func (c Cmd) MustRun(t testing.TB) string {
	t.Helper()
	out, errOut, err := c.Run()
	if err != nil {
		t.Fatalf("%s: %v\nstdout:\n%s\nstderr:\n%s", c, err, out, errOut)
	}
	return out
}

// String is the command line as a message shows it.
func (c Cmd) String() string {
	return strings.TrimSpace(filepath.Base(c.Bin) + " " + strings.Join(c.Args, " "))
}

package testtools

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeFile writes an executable (mode 0o755) or plain file.
func writeFile(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"), mode); err != nil {
		t.Fatal(err)
	}
}

func TestFind(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "bin", "cast")
	writeFile(t, exe, 0o755)
	plain := filepath.Join(dir, "plain")
	writeFile(t, plain, 0o644)
	// A module of its own, with tools where `make tools` puts them.
	mod := filepath.Join(dir, "mod")
	writeFile(t, filepath.Join(mod, "go.mod"), 0o644)
	installed := filepath.Join(mod, ".tools", "bin", "btcd")
	writeFile(t, installed, 0o755)
	writeFile(t, filepath.Join(mod, npmBin("anvil")), 0o644) // not executable: skipped over
	pathDir := filepath.Join(dir, "path")
	writeFile(t, filepath.Join(pathDir, "node"), 0o755)
	writeFile(t, filepath.Join(pathDir, "anvil"), 0o755)

	t.Chdir(filepath.Join(mod))
	t.Setenv("PATH", pathDir)
	tests := []struct {
		name    string
		tool    string
		env     map[string]string
		want    string
		wantErr error
		msg     []string // the error names these
	}{
		{name: "env executable", tool: "cast", env: map[string]string{"HEMI_CAST": exe}, want: exe},
		{name: "env not executable", tool: "cast", env: map[string]string{"HEMI_CAST": plain}, wantErr: ErrNotFound, msg: []string{"HEMI_CAST=" + plain, "make tools"}},
		{name: "env missing wins over installed", tool: "btcd", env: map[string]string{"HEMI_BTCD": filepath.Join(dir, "nope")}, wantErr: ErrNotFound, msg: []string{"HEMI_BTCD"}},
		{name: "installed under the module root", tool: "btcd", env: map[string]string{"HEMI_BTCD": ""}, want: installed},
		{name: "installed not executable, then PATH", tool: "anvil", env: map[string]string{"HEMI_ANVIL": ""}, want: filepath.Join(pathDir, "anvil")},
		{name: "nowhere", tool: "forge", env: map[string]string{"HEMI_FORGE": ""}, wantErr: ErrNotFound, msg: []string{"HEMI_FORGE", "make tools", npmBin("forge")}},
		{name: "node from PATH", tool: "node", want: filepath.Join(pathDir, "node")},
		{name: "unknown tool", tool: "geth", wantErr: errUnknown, msg: []string{`"geth"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			got, err := Find(tc.tool)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			for _, m := range tc.msg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not name %q", err, m)
				}
			}
		})
	}
}

func TestFindNPM(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "npm", "node_modules", "ethers", "package.json"), 0o644)
	mod := filepath.Join(dir, "mod")
	writeFile(t, filepath.Join(mod, "go.mod"), 0o644)
	writeFile(t, filepath.Join(mod, ".tools", "npm", "node_modules", "solc", "package.json"), 0o644)
	t.Chdir(mod)
	tests := []struct {
		name    string
		env     string
		pkgs    []string
		want    string
		wantErr error
	}{
		{name: "env has the package", env: filepath.Join(dir, "npm"), pkgs: []string{"ethers"}, want: filepath.Join(dir, "npm")},
		{name: "env lacks one", env: filepath.Join(dir, "npm"), pkgs: []string{"ethers", "viem"}, wantErr: ErrNotFound},
		{name: "installed under the module root", pkgs: []string{"solc"}, want: filepath.Join(mod, ".tools", "npm")},
		{name: "installed lacks it", pkgs: []string{"ethers"}, wantErr: ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(npmEnv, tc.env)
			got, err := FindNPM(tc.pkgs...)
			if !errors.Is(err, tc.wantErr) || got != tc.want {
				t.Fatalf("got %q, %v; want %q, %v", got, err, tc.want, tc.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), npmEnv) {
				t.Errorf("error %q does not name %s", err, npmEnv)
			}
		})
	}
}

// TestCmdRun shows stdout and stderr read apart, the environment added,
// the working directory used and a timeout named.
func TestCmdRun(t *testing.T) {
	sh := "/bin/sh"
	if _, err := os.Stat(sh); err != nil {
		t.Skipf("no %s: %v", sh, err)
	}
	dir := t.TempDir()
	out, errOut, err := Cmd{Bin: sh, Args: []string{"-c", `echo "{\"a\":1}"; echo "warning: $X" >&2; pwd >&2`},
		Dir: dir, Env: []string{"X=nightly"}}.Run()
	if err != nil {
		t.Fatal(err)
	}
	if out != `{"a":1}` {
		t.Errorf("stdout %q, want the JSON alone", out)
	}
	if want := "warning: nightly\n" + dir; errOut != want {
		t.Errorf("stderr %q, want %q", errOut, want)
	}
	_, errOut, err = Cmd{Bin: sh, Args: []string{"-c", "echo boom >&2; exit 3"}}.Run()
	if err == nil || errOut != "boom" {
		t.Errorf("failing run: err %v, stderr %q", err, errOut)
	}
	_, _, err = Cmd{Bin: sh, Args: []string{"-c", "sleep 10"}, Timeout: 50 * time.Millisecond}.Run()
	if err == nil || !strings.Contains(err.Error(), "timed out after 50ms") {
		t.Errorf("timeout: err %v", err)
	}
}

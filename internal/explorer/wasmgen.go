//go:build ignore

// wasmgen builds the provenance verifier for the browser (verify/wasm,
// GOOS=js GOARCH=wasm) into web/wasm, where the explorer embeds it:
//
//	go generate ./internal/explorer      (go run wasmgen.go)
//	go run wasmgen.go -check             (TestEmbeddedVerifier)
//
// It writes verify.wasm.gz (the build, gzip-compressed: the explorer
// serves these bytes as they are), wasm_exec.js (Go's JavaScript glue,
// which belongs to the toolchain that built the .wasm), verifier.js (the
// verifier's JavaScript face, verify/wasm/verifier.js, which calls the
// module's exports and so belongs to the same sources) and SOURCE: the Go
// version, the build flags, a digest of every input of the build (the
// module's own files of each package the verifier links, and the
// version of every other module it links) and the .wasm's SHA-256.
//
// -check recomputes the digest (verifier.js included) and fails if the
// sources changed since the last generate; with the same Go version it also rebuilds and
// compares the bytes, so the embedded verifier is exactly the build of
// the tree's verify/ (the build is reproducible: -trimpath, no build id).
package main

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

const (
	pkg = "github.com/hemi-go/hemi/verify/wasm"
	// verifierJS is pkg's JavaScript face, copied beside the build.
	verifierJS = "verifier.js"
	module     = "github.com/hemi-go/hemi"
	outDir     = "web/wasm"
)

// buildFlags are the go build flags; the environment adds GOOS=js
// GOARCH=wasm. -trimpath, no VCS stamp (the commit would change it on
// every commit) and an empty build id make the output depend on
// the sources and the toolchain only; -s -w drop the symbol table and
// DWARF, which the browser never reads.
var buildFlags = []string{"-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid="}

func main() {
	check := flag.Bool("check", false, "check that web/wasm is the build of the current sources instead of writing it")
	flag.Parse()
	var err error
	if *check {
		err = runCheck()
	} else {
		err = generate()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "wasmgen:", err)
		os.Exit(1)
	}
}

// goVersion is the toolchain `go` runs (GOTOOLCHAIN may pick another than
// the one that compiled this program).
func goVersion() (string, error) {
	out, err := exec.Command("go", "env", "GOVERSION").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOVERSION: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

func wasmEnv() []string { return append(os.Environ(), "GOOS=js", "GOARCH=wasm") }

// sourceDigest hashes every input of the build besides the toolchain:
// the module's own files (Go and embedded) of each package linked, by
// import path and name, and each other module's path and version.
func sourceDigest() (string, error) {
	cmd := exec.Command("go", "list", "-deps", "-json=ImportPath,Dir,GoFiles,EmbedFiles,Standard,Module", pkg)
	cmd.Env = wasmEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go list: %v\n%s", err, stderr.Bytes())
	}
	type mod struct {
		Path, Version string
		Replace       *mod
	}
	var lines []string
	h := sha256.New()
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			ImportPath, Dir     string
			GoFiles, EmbedFiles []string
			Standard            bool
			Module              *mod
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return "", err
		}
		switch {
		case p.Standard:
			// The toolchain's, recorded as the Go version.
		case p.Module == nil:
			return "", fmt.Errorf("package %s has no module", p.ImportPath)
		case p.Module.Path == module:
			files := append(slices.Clone(p.GoFiles), p.EmbedFiles...)
			if p.ImportPath == pkg {
				files = append(files, verifierJS)
			}
			for _, f := range files {
				b, err := os.ReadFile(filepath.Join(p.Dir, f))
				if err != nil {
					return "", err
				}
				sum := sha256.Sum256(b)
				lines = append(lines, p.ImportPath+"/"+f+" "+hex.EncodeToString(sum[:]))
			}
		default:
			m := p.Module
			if m.Replace != nil {
				m = m.Replace
			}
			lines = append(lines, m.Path+"@"+m.Version)
		}
	}
	slices.Sort(lines)
	lines = slices.Compact(lines)
	for _, l := range lines {
		h.Write([]byte(l + "\n"))
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// readVerifierJS is pkg's verifier.js.
func readVerifierJS() ([]byte, error) {
	cmd := exec.Command("go", "list", "-f", "{{.Dir}}", pkg)
	cmd.Env = wasmEnv()
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list %s: %w", pkg, err)
	}
	return os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), verifierJS))
}

// build compiles the verifier into a temporary file and returns its bytes.
func build() ([]byte, error) {
	dir, err := os.MkdirTemp("", "wasmgen")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "verify.wasm")
	cmd := exec.Command("go", append(append([]string{"build", "-o", out}, buildFlags...), pkg)...)
	cmd.Env = wasmEnv()
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("GOOS=js GOARCH=wasm go build %s: %v\n%s", pkg, err, b)
	}
	return os.ReadFile(out)
}

// wasmExec is the toolchain's wasm_exec.js (lib/wasm since Go 1.24,
// misc/wasm before).
func wasmExec() ([]byte, error) {
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return nil, fmt.Errorf("go env GOROOT: %w", err)
	}
	root := strings.TrimSpace(string(out))
	b, err := os.ReadFile(filepath.Join(root, "lib", "wasm", "wasm_exec.js"))
	if errors.Is(err, os.ErrNotExist) {
		b, err = os.ReadFile(filepath.Join(root, "misc", "wasm", "wasm_exec.js"))
	}
	return b, err
}

// manifest is SOURCE's content.
func manifest(goVer, digest string, wasm []byte) string {
	sum := sha256.Sum256(wasm)
	return fmt.Sprintf("go %s\nbuild GOOS=js GOARCH=wasm go build %s %s\nsources %s\nwasm-sha256 %s\n",
		goVer, strings.Join(buildFlags, " "), pkg, digest, hex.EncodeToString(sum[:]))
}

func generate() error {
	goVer, err := goVersion()
	if err != nil {
		return err
	}
	digest, err := sourceDigest()
	if err != nil {
		return err
	}
	wasm, err := build()
	if err != nil {
		return err
	}
	glue, err := wasmExec()
	if err != nil {
		return err
	}
	face, err := readVerifierJS()
	if err != nil {
		return err
	}
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression) // no name, no time: the bytes depend on the input only
	if _, err := zw.Write(wasm); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	for name, b := range map[string][]byte{"verify.wasm.gz": gz.Bytes(), "wasm_exec.js": glue, verifierJS: face, "SOURCE": []byte(manifest(goVer, digest, wasm))} {
		if err := os.WriteFile(filepath.Join(outDir, name), b, 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("wasmgen: %s: verify.wasm %d bytes, %d gzipped (%s)\n", outDir, len(wasm), gz.Len(), goVer)
	return nil
}

func runCheck() error {
	stale := "run `go generate ./internal/explorer` and commit web/wasm"
	have, err := os.ReadFile(filepath.Join(outDir, "SOURCE"))
	if err != nil {
		return fmt.Errorf("%v: %s", err, stale)
	}
	fields := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(have)), "\n") {
		k, v, _ := strings.Cut(l, " ")
		fields[k] = v
	}
	digest, err := sourceDigest()
	if err != nil {
		return err
	}
	if fields["sources"] != digest {
		return fmt.Errorf("the embedded verifier was built from other sources than verify/'s today (digest %s, now %s): %s", fields["sources"], digest, stale)
	}
	face, err := readVerifierJS()
	if err != nil {
		return err
	}
	if have, err := os.ReadFile(filepath.Join(outDir, verifierJS)); err != nil || !bytes.Equal(have, face) {
		return fmt.Errorf("web/wasm/%s is not verify/wasm/%s: %s", verifierJS, verifierJS, stale)
	}
	gzBytes, err := os.ReadFile(filepath.Join(outDir, "verify.wasm.gz"))
	if err != nil {
		return err
	}
	zr, err := gzip.NewReader(bytes.NewReader(gzBytes))
	if err != nil {
		return fmt.Errorf("verify.wasm.gz: %v: %s", err, stale)
	}
	embedded, err := io.ReadAll(zr)
	if err != nil {
		return fmt.Errorf("verify.wasm.gz: %v: %s", err, stale)
	}
	if sum := sha256.Sum256(embedded); fields["wasm-sha256"] != hex.EncodeToString(sum[:]) {
		return fmt.Errorf("verify.wasm.gz is not the build SOURCE names: %s", stale)
	}
	goVer, err := goVersion()
	if err != nil {
		return err
	}
	if fields["go"] != goVer {
		// The sources match; the bytes can only be compared with the same
		// toolchain.
		fmt.Printf("wasmgen: sources match; built by %s, this toolchain is %s: bytes not compared\n", fields["go"], goVer)
		return nil
	}
	fresh, err := build()
	if err != nil {
		return err
	}
	if !bytes.Equal(fresh, embedded) {
		return fmt.Errorf("a fresh build (%d bytes) differs from the embedded verifier (%d bytes): %s", len(fresh), len(embedded), stale)
	}
	glue, err := wasmExec()
	if err != nil {
		return err
	}
	if have, err := os.ReadFile(filepath.Join(outDir, "wasm_exec.js")); err != nil || !bytes.Equal(have, glue) {
		return fmt.Errorf("web/wasm/wasm_exec.js is not %s's: %s", goVer, stale)
	}
	fmt.Printf("wasmgen: the embedded verifier is the build of the current sources (%s, %d bytes)\n", goVer, len(fresh))
	return nil
}

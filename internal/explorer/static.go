package explorer

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	_ "embed" // the verifier's files
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"
)

// The provenance verifier compiled to WebAssembly, Go's JavaScript glue
// for it and the verifier's own JavaScript face (verifier.js, which
// defines verifyBundle over the module's exports), built by wasmgen.go (`go generate ./internal/explorer`)
// and embedded, so the node binary serves them with no build step a user
// could forget and no Go toolchain at run time. TestEmbeddedVerifier
// fails when verify/ changed since the last generate (and, with the same
// Go version, when a fresh build differs from these bytes).
//
//go:generate go run wasmgen.go
var (
	//go:embed web/wasm/verify.wasm.gz
	verifierGz []byte
	//go:embed web/wasm/wasm_exec.js
	wasmExecJS []byte
	//go:embed web/wasm/verifier.js
	verifierJS []byte
	// verifierSource is wasmgen's record of the build; its wasm-sha256
	// versions the verifier's URL.
	//go:embed web/wasm/SOURCE
	verifierSource string
)

// Verifier is the embedded provenance verifier, as a program outside
// the browser runs it: `hemi bench provenance` measures these bytes, the
// ones the explorer serves, so it needs neither the source tree nor a
// Go toolchain and its figures are those of the page's verifier.
type Verifier struct {
	// Wasm is the .wasm, inflated; GzipBytes the size of the gzipped
	// file the explorer serves.
	Wasm      []byte
	GzipBytes int
	// WasmExecJS is Go's JavaScript glue of the toolchain that built
	// Wasm (the glue of another Go version may not run it).
	WasmExecJS []byte
	// VerifierJS is verify/wasm/verifier.js, the verifier's JavaScript
	// face (installVerifyBundle), as the explorer serves it.
	VerifierJS []byte
	// SHA256 is Wasm's digest in hex, checked against SOURCE's
	// wasm-sha256; GoVersion is SOURCE's Go version.
	SHA256, GoVersion string
}

// EmbeddedVerifier inflates the embedded verifier and checks it is the
// build SOURCE records (a damaged or half-regenerated web/wasm is an
// error, not a benchmark of other bytes).
func EmbeddedVerifier() (Verifier, error) {
	return inflateVerifier(verifierGz, wasmExecJS, verifierJS, verifierSource)
}

func inflateVerifier(gz, glue, face []byte, source string) (Verifier, error) {
	v := Verifier{GzipBytes: len(gz), WasmExecJS: glue, VerifierJS: face}
	var want string
	for _, l := range strings.Split(source, "\n") {
		if s, ok := strings.CutPrefix(l, "wasm-sha256 "); ok {
			want = s
		}
		if s, ok := strings.CutPrefix(l, "go "); ok {
			v.GoVersion = s
		}
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return v, fmt.Errorf("explorer: the embedded verifier: %w", err)
	}
	if v.Wasm, err = io.ReadAll(zr); err != nil {
		return v, fmt.Errorf("explorer: the embedded verifier: %w", err)
	}
	sum := sha256.Sum256(v.Wasm)
	if v.SHA256 = hex.EncodeToString(sum[:]); v.SHA256 != want {
		return v, fmt.Errorf("explorer: the embedded verifier's SHA-256 is %s, web/wasm/SOURCE says %q (run go generate ./internal/explorer)", v.SHA256, want)
	}
	return v, nil
}

// asset is one file under /static, kept both plain and gzipped.
type asset struct {
	ctype string
	// version is the first 16 hex digits of the plain bytes' SHA-256:
	// pages link "?v=version", which may be cached for good.
	version string
	gz      []byte
	// plain is the uncompressed file; the verifier's is inflated on
	// first use (few clients refuse gzip: its 9 MB are kept for none).
	plainOnce sync.Once
	plain     []byte
	plainErr  error
}

// statics serves /static: every file gzipped when the client accepts it,
// ETags, and a long cache life when the URL carries the file's version.
type statics map[string]*asset

// loadStatics reads web/static and the verifier into memory, compressed
// once at start.
func loadStatics(sub fs.FS) (statics, error) {
	s := statics{}
	names, err := fs.ReadDir(sub, ".")
	if err != nil {
		return nil, err
	}
	for _, d := range names {
		b, err := fs.ReadFile(sub, d.Name())
		if err != nil {
			return nil, err
		}
		s[d.Name()] = newAsset(d.Name(), b)
	}
	s["wasm_exec.js"] = newAsset("wasm_exec.js", wasmExecJS)
	s["verifier.js"] = newAsset("verifier.js", verifierJS)
	wasm := &asset{ctype: "application/wasm", gz: verifierGz}
	for _, l := range strings.Split(verifierSource, "\n") {
		if sum, ok := strings.CutPrefix(l, "wasm-sha256 "); ok && len(sum) == 64 {
			wasm.version = sum[:16]
		}
	}
	if wasm.version == "" {
		return nil, errors.New("explorer: web/wasm/SOURCE names no wasm-sha256 (run go generate ./internal/explorer)")
	}
	s["verify.wasm"] = wasm
	return s, nil
}

func newAsset(name string, b []byte) *asset {
	ctype := mime.TypeByExtension(path.Ext(name))
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	_, _ = zw.Write(b) // a bytes.Buffer does not fail
	_ = zw.Close()
	a := &asset{ctype: ctype, version: version(b), gz: gz.Bytes(), plain: b}
	a.plainOnce.Do(func() {})
	return a
}

func version(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

func (a *asset) plainBytes() ([]byte, error) {
	a.plainOnce.Do(func() {
		zr, err := gzip.NewReader(bytes.NewReader(a.gz))
		if err != nil {
			a.plainErr = err
			return
		}
		a.plain, a.plainErr = io.ReadAll(zr)
	})
	return a.plain, a.plainErr
}

// url is the versioned link a page uses for static file name.
func (s statics) url(name string) string {
	a, ok := s[name]
	if !ok {
		return "/static/" + name
	}
	return "/static/" + name + "?v=" + a.version
}

// acceptsGzip reports whether the request's Accept-Encoding allows gzip
// (q=0 refuses it).
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if c := strings.TrimSpace(coding); c != "gzip" && c != "*" {
			continue
		}
		q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}

func (s statics) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a, ok := s[strings.TrimPrefix(r.URL.Path, "/static/")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Vary", "Accept-Encoding")
	if r.URL.Query().Get("v") == a.version {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		// An unversioned link may change with the next release: revalidate.
		h.Set("Cache-Control", "public, max-age=0, must-revalidate")
	}
	body, etag := a.gz, `"`+a.version+`-gz"`
	if acceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
	} else {
		plain, err := a.plainBytes()
		if err != nil {
			http.Error(w, "explorer: the embedded file is damaged", http.StatusInternalServerError)
			return
		}
		body, etag = plain, `"`+a.version+`"`
	}
	h.Set("ETag", etag)
	if inm := r.Header.Get("If-None-Match"); inm != "" && (inm == etag || inm == "*" || strings.Contains(inm, etag)) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", fmt.Sprint(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(body)
}

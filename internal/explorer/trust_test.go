package explorer

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"

	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/tunnel"
	"github.com/hemi-go/hemi/verify"
)

// fetch GETs path with the given request headers.
func (e *env) fetch(path string, hdr map[string]string) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.url+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	// A Transport that leaves Accept-Encoding alone: the test sets it.
	resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, b
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestStaticAssets: /static serves the verifier (application/wasm, as
// WebAssembly.instantiateStreaming requires), Go's glue and the pages'
// files gzipped to clients that accept it and plain to others, with
// ETags, and for good (immutable) under the versioned URLs pages use.
func TestStaticAssets(t *testing.T) {
	e := newEnv(t)
	x, err := New(Config{Chain: e.chain})
	if err != nil {
		t.Fatal(err)
	}
	wasmURL := x.static.url("verify.wasm")
	resp, gz := e.fetch(wasmURL, map[string]string{"Accept-Encoding": "gzip, deflate, br"})
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/wasm" || resp.Header.Get("Content-Encoding") != "gzip" ||
		!strings.Contains(resp.Header.Get("Cache-Control"), "immutable") || resp.Header.Get("Vary") != "Accept-Encoding" {
		t.Fatalf("GET %s: %d %v", wasmURL, resp.StatusCode, resp.Header)
	}
	plain := gunzip(t, gz)
	if !bytes.HasPrefix(plain, []byte("\x00asm")) {
		t.Fatalf("the verifier is not WebAssembly: % x", plain[:8])
	}
	sum := sha256.Sum256(plain)
	if !strings.Contains(wasmURL, "?v="+hex.EncodeToString(sum[:8])) || !strings.Contains(verifierSource, hex.EncodeToString(sum[:])) {
		t.Fatalf("the verifier's URL %s is not versioned by its SHA-256 %x", wasmURL, sum)
	}
	t.Logf("verify.wasm: %d bytes, %d gzipped", len(plain), len(gz))
	v, err := EmbeddedVerifier()
	if err != nil || !bytes.Equal(v.Wasm, plain) || v.GzipBytes != len(gz) || v.SHA256 != hex.EncodeToString(sum[:]) ||
		!bytes.Equal(v.WasmExecJS, wasmExecJS) || !strings.HasPrefix(v.GoVersion, "go1.") {
		t.Fatalf("EmbeddedVerifier is not the served verifier: %v (%d bytes, %d gzipped, sha256 %s, %q)", err, len(v.Wasm), v.GzipBytes, v.SHA256, v.GoVersion)
	}

	// No gzip: the plain bytes; an unversioned URL revalidates.
	resp, body := e.fetch("/static/verify.wasm", map[string]string{"Accept-Encoding": "identity"})
	if resp.Header.Get("Content-Encoding") != "" || !bytes.Equal(body, plain) || strings.Contains(resp.Header.Get("Cache-Control"), "immutable") {
		t.Fatalf("plain verifier: %v, %d bytes", resp.Header, len(body))
	}
	resp, _ = e.fetch("/static/verify.wasm", map[string]string{"Accept-Encoding": "gzip;q=0"})
	if resp.Header.Get("Content-Encoding") != "" {
		t.Fatalf("gzip;q=0 got %q", resp.Header.Get("Content-Encoding"))
	}
	etag := resp.Header.Get("ETag")
	if resp, body = e.fetch("/static/verify.wasm", map[string]string{"If-None-Match": etag}); resp.StatusCode != http.StatusNotModified || len(body) != 0 {
		t.Fatalf("If-None-Match %s: %d, %d bytes", etag, resp.StatusCode, len(body))
	}

	// Go's glue, and the pages' own files.
	for name, ctype := range map[string]string{"wasm_exec.js": "text/javascript", "verifier.js": "text/javascript", "trust.js": "text/javascript", "explorer.css": "text/css", "explorer.js": "text/javascript"} {
		resp, gz := e.fetch("/static/"+name, map[string]string{"Accept-Encoding": "gzip"})
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), ctype) || resp.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("GET /static/%s: %d %v", name, resp.StatusCode, resp.Header)
		}
		if name == "wasm_exec.js" && !bytes.Equal(gunzip(t, gz), wasmExecJS) {
			t.Fatal("wasm_exec.js is not the embedded glue")
		}
	}
	if resp, _ := e.fetch("/static/nope.js", nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown static file: %d", resp.StatusCode)
	}
}

// TestEmbeddedVerifier: the embedded verifier is the build of verify/ as
// it is today (wasmgen.go -check: the sources' digest, and with the same
// Go version a fresh build byte for byte), so a change to the verifier
// cannot ship without its browser copy.
func TestEmbeddedVerifier(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the verifier for GOOS=js GOARCH=wasm")
	}
	out, err := exec.Command("go", "run", "wasmgen.go", "-check").CombinedOutput()
	if err != nil {
		t.Fatalf("go run wasmgen.go -check: %v\n%s", err, out)
	}
	t.Log(strings.TrimSpace(string(out)))
}

// TestEmbeddedVerifierDamaged: bytes that are not SOURCE's build, or not
// gzip, are an error naming the fix, never another verifier measured.
func TestEmbeddedVerifierDamaged(t *testing.T) {
	other := append(bytes.Clone(verifierGz[:len(verifierGz)-8]), 0, 0, 0, 0, 0, 0, 0, 0)
	for _, c := range []struct {
		name   string
		gz     []byte
		source string
		want   string
	}{
		{"not gzip", []byte("\x00asm"), verifierSource, "embedded verifier"},
		{"truncated", verifierGz[:len(verifierGz)/2], verifierSource, "embedded verifier"},
		{"bad trailer", other, verifierSource, "embedded verifier"},
		{"another build", verifierGz, strings.Replace(verifierSource, "wasm-sha256 ", "wasm-sha256 00", 1), "go generate ./internal/explorer"},
		{"no digest", verifierGz, "go go1.26.8\n", "go generate ./internal/explorer"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := inflateVerifier(c.gz, wasmExecJS, verifierJS, c.source)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error with %q", err, c.want)
			}
		})
	}
}

// TestTrustPages: the chain-of-trust pages list every link the verifier
// checks (the deposit's only for a deposit), say what happens without
// JavaScript, link the bundle and the offline command; bad names are
// not-found pages; a bundle the node cannot build is a not-found page
// with its reason; the tx page links its chain of trust.
func TestTrustPages(t *testing.T) {
	e := newEnv(t)
	a1 := e.addr(1)
	tx := e.send(0, 0, &a1, 1e15, nil, 21_000)
	e.mine(tx)
	txid := strings.Repeat("ab", 32)
	dep := e.page("/provenance/deposit/"+txid+":1", `data-kind="deposit"`, `data-what="`+txid+`:1"`,
		`href="/provenance/deposit/`+txid+`:1/bundle.json"`, "hemi provenance deposit "+txid+":1 --out bundle.json",
		"With JavaScript off nothing is checked here", `href="/deposit/`+txid+`:1"`, `id="bundle-file"`)
	for _, l := range trustLinks {
		if got := strings.Contains(dep, `data-link="`+l.Name+`"`); got == l.TxOnly {
			t.Errorf("the deposit page lists link %s: %v", l.Name, got)
		}
	}
	txPage := e.page("/provenance/tx/"+tx.Hash().Hex(), `data-kind="tx"`, "hemi provenance tx "+tx.Hash().Hex(), `href="/tx/`+tx.Hash().Hex()+`"`)
	for _, l := range trustLinks {
		if got := strings.Contains(txPage, `data-link="`+l.Name+`"`); got == l.Deposit {
			t.Errorf("the transaction page lists link %s: %v", l.Name, got)
		}
	}
	e.page("/provenance", `id="bundle-file"`, "Verify a bundle file")
	e.page("/tx/"+tx.Hash().Hex(), `href="/provenance/tx/`+tx.Hash().Hex()+`"`)
	for _, p := range []string{"/provenance/deposit/" + txid, "/provenance/deposit/" + txid + ":x", "/provenance/deposit/zz:1",
		"/provenance/deposit/" + txid + ":4294967296", "/provenance/tx/0x12", "/provenance/tx/" + txid + "zz", "/provenance/tx/0x12/bundle.json",
		"/genesis.json"} {
		if code, body, _ := e.get(p); code != http.StatusNotFound || !strings.Contains(body, "<html") {
			t.Errorf("GET %s: %d, want the not-found page", p, code)
		}
	}
	// This node builds no bundles: the download says why.
	if code, body, _ := e.get("/provenance/tx/" + tx.Hash().Hex() + "/bundle.json"); code != http.StatusNotFound || !strings.Contains(body, "builds no provenance bundles") {
		t.Errorf("bundle download without provenance: %d\n%s", code, body)
	}
}

// TestTrustPageWeight: the chain-of-trust page with everything it loads
// but the verifier stays under the 150 KB page budget.
func TestTrustPageWeight(t *testing.T) {
	e := newEnv(t)
	_, html, _ := e.get("/provenance/deposit/" + strings.Repeat("ab", 32) + ":0")
	total := len(html)
	for _, name := range []string{"explorer.css", "explorer.js", "wasm_exec.js", "verifier.js", "trust.js"} {
		_, body := e.fetch("/static/"+name, nil)
		total += len(body)
	}
	if total > 150<<10 {
		t.Fatalf("the chain-of-trust page weighs %d bytes without the verifier, over 150 KB", total)
	}
	t.Logf("chain-of-trust page: %d bytes with its scripts and styles, uncompressed, without the verifier", total)
}

// TestMintLinksItsDeposit: a mint system transaction links its
// deposit's chain of trust; a refund or record of the same deposit does
// not (it has no minted[] record to prove).
func TestMintLinksItsDeposit(t *testing.T) {
	op := wire.OutPoint{Hash: chainhash.Hash{1, 2, 3}, Index: 7}
	ta := genesis.DefaultTunnelAddress
	mint := decodeSystem(&block.SystemTx{To: &ta, Data: tunnel.MintCalldata(op, common.Address{9}, 150_000_000)})
	if !mint.Minted() || ProvenanceDepositPath(op.Hash, op.Index) != "/provenance/deposit/"+mint.Deposit {
		t.Fatalf("mint %+v", mint)
	}
	for name, data := range map[string][]byte{"refund": tunnel.RefundDepositCalldata(op, common.Address{}, []byte{0x51}, 1, 0),
		"record": tunnel.RecordDepositCalldata(op, common.Address{}, 1, 1), "cut mint": tunnel.MintCalldata(op, common.Address{9}, 1)[:40]} {
		if c := decodeSystem(&block.SystemTx{To: &ta, Data: data}); c.Minted() {
			t.Errorf("%s links a chain of trust: %+v", name, c)
		}
	}
}

// TestTrustLinksAreVerifys: the page lists exactly verify's links (but
// the reorg check, which needs current headers) in verify's order, so a
// link verify adds cannot go unshown.
func TestTrustLinksAreVerifys(t *testing.T) {
	src, err := os.ReadFile("../../verify/verify.go")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, l := range strings.Split(string(src), "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && strings.HasPrefix(f[0], "Link") && f[1] == "=" && f[0] != "LinkReorg" {
			want = append(want, strings.Trim(f[2], `"`))
		}
	}
	var got []string
	for _, l := range trustLinks {
		got = append(got, l.Name)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("page links %v, verify's %v", got, want)
	}
	_ = verify.LinkReorg
}

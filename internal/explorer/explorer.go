package explorer

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/common/lru"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/tunnel"
)

//go:embed web/*.html web/static/*
var webFS embed.FS

// Config configures an Explorer. It is not modified after New.
type Config struct {
	Chain Chain
	// Finality, Index, Bitcoin and Caller are optional (see their
	// interfaces); a page leaves out what it cannot show and says so.
	Finality Finality
	Index    Index
	Bitcoin  Bitcoin
	Caller   Caller
	// RPC is the fallback for requests that are not pages (a WebSocket
	// upgrade at "/"): rpc.Server.RPCHandler.
	RPC http.Handler
	// HBTC is the tunnel's hBTC token when the genesis has one (nil: the
	// network has no tunnel; with Tunnel set, its HBTCAddress).
	HBTC *common.Address
	// Tunnel is the genesis's tunnel section (nil: no tunnel): its
	// predeploy's events list the deposits, its queue the withdrawals,
	// and its vault (derived with Bitcoin's network) marks deposits and
	// payouts on the Bitcoin pages.
	Tunnel *genesis.TunnelConfig
	// Name is the network's name (default "Hemi devnet").
	Name string
	// PublicRPC and PublicExplorer are the URLs "Add to wallet" and
	// /chain.json give (empty: this request's own origin).
	PublicRPC, PublicExplorer string
	// Genesis is the network's genesis file as the node loaded it,
	// served at /genesis.json: the chain-of-trust page offers it as the
	// verifier's network identity (nil: the verifier's pins or the
	// user's own file only).
	Genesis []byte
	// Logger defaults to slog.Default() with subsystem=explorer.
	Logger *slog.Logger
}

// Explorer serves the block explorer's pages (package doc).
type Explorer struct {
	cfg     Config
	log     *slog.Logger
	chainID *big.Int
	pages   map[string]*template.Template
	static  statics
	// tunnelAddr and vaultScript are the tunnel's (nil without one;
	// vaultScript also without Bitcoin).
	tunnelAddr  *common.Address
	vaultScript []byte
	// summaries remembers the home page's block rows (cache.go).
	summaries *lru.Cache[common.Hash, blockSummary]
	// keystoneLists and tokenMetas are memos per head (cache.go).
	keystoneLists *lru.Cache[common.Hash, []keystoneRow]
	tokenMetas    *lru.Cache[tokenKey, tokenMeta]
	accounts      *lru.Cache[accountKey, account]
}

// New parses the templates.
func New(cfg Config) (*Explorer, error) {
	if cfg.Chain == nil {
		return nil, errors.New("explorer: Config needs Chain")
	}
	if cfg.Name == "" {
		cfg.Name = "Hemi devnet"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default().With("subsystem", "explorer")
	}
	e := &Explorer{cfg: cfg, log: cfg.Logger, chainID: cfg.Chain.Processor().ChainConfig().ChainID, pages: map[string]*template.Template{},
		summaries:     lru.NewCache[common.Hash, blockSummary](summaryCacheSize),
		keystoneLists: lru.NewCache[common.Hash, []keystoneRow](headCacheSize),
		tokenMetas:    lru.NewCache[tokenKey, tokenMeta](64),
		accounts:      lru.NewCache[accountKey, account](accountCacheSize)}
	if t := cfg.Tunnel; t != nil {
		ta, hb := t.TunnelAddress, t.HBTCAddress
		e.tunnelAddr = &ta
		if e.cfg.HBTC == nil {
			e.cfg.HBTC = &hb
		}
		if cfg.Bitcoin != nil {
			v, err := tunnel.NewVault(t, cfg.Bitcoin.Params())
			if err != nil {
				return nil, fmt.Errorf("explorer: tunnel vault: %w", err)
			}
			e.vaultScript = v.PkScript()
		}
	}
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(webFS, "web/layout.html")
	if err != nil {
		return nil, fmt.Errorf("explorer: templates: %w", err)
	}
	names, err := fs.Glob(webFS, "web/*.html")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "web/"), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(webFS, n)
		if err != nil {
			return nil, fmt.Errorf("explorer: template %s: %w", name, err)
		}
		e.pages[name] = t
	}
	sub, err := fs.Sub(webFS, "web/static")
	if err != nil {
		return nil, err
	}
	if e.static, err = loadStatics(sub); err != nil {
		return nil, err
	}
	return e, nil
}

// Mounter is where the pages go: rpc.Server.Mount.
type Mounter interface {
	Mount(pattern string, h http.Handler)
}

// Mount serves the pages on m: GET only (POST and WebSocket stay
// JSON-RPC's), EIP-3091 routes included.
func (e *Explorer) Mount(m Mounter) {
	for pattern, h := range map[string]http.HandlerFunc{
		"GET /{$}":                                       e.home,
		"GET /block/{id}":                                e.block,
		"GET /tx/{hash}":                                 e.tx,
		"GET /tx/{hash}/trace":                           e.txTrace,
		"GET /address/{addr}":                            e.address,
		"GET /address/{addr}/csv":                        e.addressCSV,
		"GET /token/{addr}":                              e.token,
		"GET /keystones":                                 e.keystones,
		"GET /btc/block/{hash}":                          e.btcBlock,
		"GET /btc/tx/{txid}":                             e.btcTx,
		"GET /deposits":                                  e.deposits,
		"GET /deposit/{outpoint}":                        e.deposit,
		"GET /withdrawals":                               e.withdrawals,
		"GET /withdrawal/{id}":                           e.withdrawalPage,
		"GET /search":                                    e.search,
		"GET /chain.json":                                e.chainJSON,
		"GET /static/":                                   e.static.ServeHTTP,
		"GET /explorer/not-found":                        e.notFoundPage,
		"GET /explorer/keystone/{id}":                    e.keystone,
		"GET /provenance":                                e.trustForm,
		"GET /provenance/deposit/{outpoint}":             e.trust,
		"GET /provenance/deposit/{outpoint}/bundle.json": e.trustBundle,
		"GET /provenance/tx/{hash}":                      e.trust,
		"GET /provenance/tx/{hash}/bundle.json":          e.trustBundle,
		"GET /genesis.json":                              e.genesisFile,
	} {
		m.Mount(pattern, h)
	}
}

// funcs are the templates' helpers.
var funcs = template.FuncMap{
	"short": func(s fmt.Stringer) string {
		v := s.String()
		if len(v) <= 14 {
			return v
		}
		return v[:8] + "…" + v[len(v)-6:]
	},
	"iso":   func(t uint64) string { return time.Unix(int64(t), 0).UTC().Format(time.RFC3339) },
	"utc":   func(t uint64) string { return time.Unix(int64(t), 0).UTC().Format("2006-01-02 15:04:05 UTC") },
	"ether": formatEther,
	"add":   func(a, b int) int { return a + b },
	"add32": func(a int32, b int) int32 { return a + int32(b) },
	"deref": func(v *uint64) uint64 {
		if v == nil {
			return 0
		}
		return *v
	},
	// uint64 prints an RPC quantity in decimal.
	"uint64": func(v any) uint64 {
		switch x := v.(type) {
		case hexutil.Uint64:
			return uint64(x)
		case *hexutil.Uint64:
			if x != nil {
				return uint64(*x)
			}
		}
		return 0
	},
	"txtable": txTableHTML,
}

// formatEther shows wei as ether with up to 18 decimals, trailing zeros
// cut.
func formatEther(wei *big.Int) string {
	if wei == nil {
		return "0"
	}
	return formatUnits(wei, 18)
}

func formatUnits(v *big.Int, decimals int) string {
	neg := v.Sign() < 0
	s := new(big.Int).Abs(v).String()
	if decimals > 0 {
		if len(s) <= decimals {
			s = strings.Repeat("0", decimals-len(s)+1) + s
		}
		s = s[:len(s)-decimals] + "." + s[len(s)-decimals:]
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if neg {
		s = "-" + s
	}
	return s
}

// page is what every template gets.
type page struct {
	Title   string
	Network string
	ChainID uint64
	Wallet  walletInfo
	Data    any
}

// walletInfo is what "Add to wallet" hands to wallet_addEthereumChain
// (EIP-3085).
type walletInfo struct {
	ChainIDHex string
	Name       string
	RPC        string
	Explorer   string
}

func (e *Explorer) wallet(r *http.Request) walletInfo {
	origin := "http://" + r.Host
	if r.TLS != nil {
		origin = "https://" + r.Host
	}
	w := walletInfo{ChainIDHex: "0x" + e.chainID.Text(16), Name: e.cfg.Name, RPC: e.cfg.PublicRPC, Explorer: e.cfg.PublicExplorer}
	if w.RPC == "" {
		w.RPC = origin
	}
	if w.Explorer == "" {
		w.Explorer = origin
	}
	return w
}

// render writes template name with data; a template failure is a 500
// with a short message (logged), never a half page.
func (e *Explorer) render(w http.ResponseWriter, r *http.Request, status int, name, title string, data any) {
	t, ok := e.pages[name]
	if !ok {
		e.log.Error("explorer: no template", "name", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	buf := renderBufs.Get().(*bytes.Buffer)
	defer putRenderBuf(buf)
	p := page{Title: title, Network: e.cfg.Name, ChainID: e.chainID.Uint64(), Wallet: e.wallet(r), Data: data}
	if err := t.ExecuteTemplate(buf, "layout.html", p); err != nil {
		e.log.Warn("explorer: render", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// renderBufs keeps render's page buffers: a page of 10-20 KB otherwise
// grows a fresh buffer through five doublings, copying each time.
var renderBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBuf is the largest buffer kept (a rare big page is not held
// for ever).
const maxPooledBuf = 256 << 10

func putRenderBuf(b *bytes.Buffer) {
	if b.Cap() > maxPooledBuf {
		return
	}
	b.Reset()
	renderBufs.Put(b)
}

// notFound is the clear "not found" page of bad or unknown input.
func (e *Explorer) notFound(w http.ResponseWriter, r *http.Request, what string) {
	e.render(w, r, http.StatusNotFound, "notfound", "Not found", what)
}

func (e *Explorer) notFoundPage(w http.ResponseWriter, r *http.Request) {
	e.notFound(w, r, "That page does not exist.")
}

// fail answers an internal failure (a database error): 500, logged.
func (e *Explorer) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, chain.ErrNotFound) {
		e.notFound(w, r, err.Error())
		return
	}
	e.log.Warn("explorer: page failed", "path", r.URL.Path, "err", err)
	e.render(w, r, http.StatusInternalServerError, "notfound", "Error", "The node could not read this: "+err.Error())
}

// parseNumber reads a block number in decimal or 0x-hex.
func parseNumber(s string) (uint64, bool) {
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		n, err := strconv.ParseUint(s[2:], 16, 64)
		return n, err == nil && len(s) > 2
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}

// parseHash reads a 32-byte hash, 0x optional.
func parseHash(s string) (common.Hash, bool) {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	if len(s) != 64 {
		return common.Hash{}, false
	}
	b := common.FromHex(s)
	if len(b) != 32 {
		return common.Hash{}, false
	}
	return common.BytesToHash(b), true
}

// parseAddress reads a 20-byte address, 0x optional.
func parseAddress(s string) (common.Address, bool) {
	if !common.IsHexAddress(s) {
		return common.Address{}, false
	}
	return common.HexToAddress(s), true
}

// gwei formats a gas price.
func gwei(v *big.Int) string {
	if v == nil {
		return "0"
	}
	return formatUnits(v, 9)
}

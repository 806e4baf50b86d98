package explorer

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/explorer/addrindex"
	"github.com/hemi-go/hemi/internal/tunnel"
)

// csvMaxRows bounds one CSV export (newest first).
const csvMaxRows = 10_000

type addressData struct {
	Address   common.Address
	Hex       string // Address checksummed once (the page shows it four times)
	Balance   *big.Int
	Nonce     uint64
	Contract  bool
	CodeSize  int
	HBTC      *tokenAmount // nil: the network has no tunnel
	Txs       []txRow
	Indexed   bool
	Before    uint64
	More      bool
	NextFrom  uint64
	IsToken   bool
	TokenName string
}

type tokenAmount struct {
	Address common.Address
	Amount  string
}

// historyRows loads one page of addr's history (entries newest first).
// A row comes from the index's record of its transaction; only a system
// transaction's row reads its block, to name its kind.
func (e *Explorer) historyRows(addr common.Address, before uint64, size int, mask byte) ([]txRow, addrindex.Page, error) {
	p, err := e.cfg.Index.Before(addr, before, size, mask)
	if err != nil {
		return nil, p, err
	}
	out := make([]txRow, 0, len(p.Entries))
	blocks := map[common.Hash]*chain.Block{}
	for _, en := range p.Entries {
		t := en.Tx
		row := txRow{Index: int(en.Index), Hash: t.Hash, Block: en.Number, Time: en.Time, Kind: "user",
			From: t.From, To: t.To, Value: t.Value, Status: "failed", Flags: flagNames(en.Flags)}
		if t.Success {
			row.Status = "success"
		}
		if t.System {
			b, ok := blocks[en.BlockHash]
			if !ok {
				if b, err = e.cfg.Chain.BlockByHash(en.BlockHash); err != nil {
					return nil, p, err
				}
				blocks[en.BlockHash] = b
			}
			if int(en.Index) >= len(b.Body.SystemTxs) {
				return nil, p, fmt.Errorf("indexed system transaction %d of block %d: %w", en.Index, en.Number, chain.ErrCorrupt)
			}
			sc := decodeSystem(b.Body.SystemTxs[en.Index])
			row.Kind, row.Sys = sc.Kind, sc
		}
		out = append(out, row)
	}
	return out, p, nil
}

func flagNames(f byte) string {
	var s []string
	for _, n := range []struct {
		f    byte
		name string
	}{{addrindex.FlagFrom, "out"}, {addrindex.FlagTo, "in"}, {addrindex.FlagTokenOut, "token out"},
		{addrindex.FlagTokenIn, "token in"}, {addrindex.FlagTokenEmit, "token"}} {
		if f&n.f != 0 {
			s = append(s, n.name)
		}
	}
	return strings.Join(s, ", ")
}

func (e *Explorer) address(w http.ResponseWriter, r *http.Request) {
	addr, ok := parseAddress(r.PathValue("addr"))
	if !ok {
		e.notFound(w, r, fmt.Sprintf("%q is not an address (20 bytes of hex).", r.PathValue("addr")))
		return
	}
	acct, err := e.accountAt(e.cfg.Chain.Head(), addr)
	if err != nil {
		e.fail(w, r, err)
		return
	}
	d := addressData{Address: addr, Hex: addr.Hex(), Balance: acct.balance, Nonce: acct.nonce, CodeSize: acct.codeSize}
	d.Contract = d.CodeSize > 0
	if e.cfg.HBTC != nil {
		d.HBTC = &tokenAmount{Address: *e.cfg.HBTC, Amount: formatUnits(acct.hbtc, 8)}
	}
	if e.cfg.Index != nil {
		d.Indexed = true
		before, _ := strconv.ParseUint(r.URL.Query().Get("before"), 10, 64)
		d.Before = before
		rows, p, err := e.historyRows(addr, before, txPageSize, 0)
		if err != nil {
			e.fail(w, r, err)
			return
		}
		d.Txs, d.More = rows, p.More
		if len(p.Entries) > 0 {
			d.NextFrom = p.Entries[len(p.Entries)-1].Number
		}
	}
	e.render(w, r, http.StatusOK, "address", "Address "+addr.Hex(), d)
}

// addressCSV exports addr's history, newest first, at most csvMaxRows.
func (e *Explorer) addressCSV(w http.ResponseWriter, r *http.Request) {
	addr, ok := parseAddress(r.PathValue("addr"))
	if !ok {
		e.notFound(w, r, fmt.Sprintf("%q is not an address.", r.PathValue("addr")))
		return
	}
	if e.cfg.Index == nil {
		e.notFound(w, r, "This node keeps no address index, so it has no history to export.")
		return
	}
	var rows []txRow
	before := uint64(0)
	for len(rows) < csvMaxRows {
		page, p, err := e.historyRows(addr, before, addrindex.MaxPageSize, 0)
		if err != nil {
			e.fail(w, r, err)
			return
		}
		rows = append(rows, page...)
		if !p.More || len(p.Entries) == 0 {
			break
		}
		before = p.Entries[len(p.Entries)-1].Number
	}
	if len(rows) > csvMaxRows {
		rows = rows[:csvMaxRows]
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", strings.ToLower(addr.Hex())+".csv"))
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"block", "time_utc", "tx_hash", "position", "kind", "from", "to", "value_wei", "status", "role"})
	for _, row := range rows {
		to := ""
		if row.To != nil {
			to = row.To.Hex()
		}
		v := "0"
		if row.Value != nil {
			v = row.Value.String()
		}
		_ = cw.Write([]string{strconv.FormatUint(row.Block, 10), time.Unix(int64(row.Time), 0).UTC().Format(time.RFC3339),
			row.Hash.Hex(), strconv.Itoa(row.Index), row.Kind, row.From.Hex(), to, v, row.Status, row.Flags})
	}
	cw.Flush()
}

// call makes an eth_call at the head through the node's own RPC.
func (e *Explorer) call(ctx context.Context, to common.Address, data []byte) ([]byte, error) {
	return e.callOn(ctx, to, data, "latest")
}

// callAt makes an eth_call at block hash.
func (e *Explorer) callAt(ctx context.Context, to common.Address, data []byte, block common.Hash) ([]byte, error) {
	return e.callOn(ctx, to, data, map[string]any{"blockHash": block})
}

func (e *Explorer) callOn(ctx context.Context, to common.Address, data []byte, block any) ([]byte, error) {
	if e.cfg.Caller == nil {
		return nil, errors.New("no in-process RPC")
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var out hexutil.Bytes
	err := e.cfg.Caller.CallContext(ctx, &out, "eth_call", map[string]any{"to": to, "data": hexutil.Bytes(data)}, block)
	return out, err
}

// ERC-20 selectors.
var (
	selTotalSupply = common.FromHex("0x18160ddd")
	selDecimals    = common.FromHex("0x313ce567")
	selSymbol      = common.FromHex("0x95d89b41")
	selName        = common.FromHex("0x06fdde03")
)

// abiString decodes an ABI string return (or a bytes32 one).
func abiString(out []byte) string {
	if len(out) >= 96 {
		off := new(big.Int).SetBytes(out[:32])
		if off.IsUint64() && off.Uint64()+32 <= uint64(len(out)) {
			o := off.Uint64()
			n := new(big.Int).SetBytes(out[o : o+32])
			if n.IsUint64() && o+32+n.Uint64() <= uint64(len(out)) {
				return string(out[o+32 : o+32+n.Uint64()])
			}
		}
	}
	if len(out) == 32 {
		return strings.TrimRight(string(out), "\x00")
	}
	return ""
}

type tokenData struct {
	Address   common.Address
	Name      string
	Symbol    string
	Decimals  int
	Supply    string
	IsHBTC    bool
	NoTunnel  bool
	HBTCPage  bool // /token/hbtc on a network without a tunnel
	Transfers []txRow
	Indexed   bool
	Error     string
	// Holders (hBTC only) are the addresses with a balance among those
	// in the newest holderScan Transfer logs, largest first; Scanned
	// says how many logs were read and Complete whether that was all.
	Holders  []holder
	Scanned  int
	Complete bool
}

type holder struct {
	Address common.Address
	Amount  string
	Share   string
}

func (e *Explorer) token(w http.ResponseWriter, r *http.Request) {
	p := r.PathValue("addr")
	if strings.EqualFold(p, "hbtc") {
		if e.cfg.HBTC == nil {
			e.render(w, r, http.StatusOK, "token", "hBTC", tokenData{NoTunnel: true, HBTCPage: true})
			return
		}
		http.Redirect(w, r, "/token/"+e.cfg.HBTC.Hex(), http.StatusFound)
		return
	}
	addr, ok := parseAddress(p)
	if !ok {
		e.notFound(w, r, fmt.Sprintf("%q is not a token address.", p))
		return
	}
	d := tokenData{Address: addr, IsHBTC: e.cfg.HBTC != nil && *e.cfg.HBTC == addr, NoTunnel: e.cfg.HBTC == nil}
	m := e.tokenMetaAt(r.Context(), addr, e.cfg.Chain.Head().Hash())
	d.Name, d.Symbol, d.Decimals, d.Supply, d.Error = m.Name, m.Symbol, m.Decimals, m.Supply, m.Error
	if d.IsHBTC {
		if err := e.hbtcHolders(r.Context(), &d); err != nil {
			e.fail(w, r, err)
			return
		}
	}
	if e.cfg.Index != nil {
		d.Indexed = true
		rows, _, err := e.historyRows(addr, 0, txPageSize, addrindex.FlagTokenEmit)
		if err != nil {
			e.fail(w, r, err)
			return
		}
		d.Transfers = rows
	}
	e.render(w, r, http.StatusOK, "token", "Token "+addr.Hex(), d)
}

// Holder list bounds: the Transfer logs read (newest first) and the
// holders shown.
const (
	holderScan  = 2_000
	holderShown = 25
)

// hbtcHolders fills d.Holders: every address the newest holderScan hBTC
// Transfer logs name, with its balance read from the head's state (hBTC's
// documented balanceOf slot), the non-zero ones largest first. Bounded:
// the logs of at most logWindows windows, one state read per address.
func (e *Explorer) hbtcHolders(ctx context.Context, d *tokenData) error {
	hbtc := *e.cfg.HBTC
	head := e.cfg.Chain.Head()
	logs, next, more, err := e.logsBack(ctx, hbtc, [][]common.Hash{{transferTopic}}, head.Number.Uint64()+1, holderScan)
	if err != nil {
		return err
	}
	st, err := e.cfg.Chain.StateAt(head.Root)
	if err != nil {
		return err
	}
	supply := tunnel.HBTCSupply(st, hbtc)
	seen := map[common.Address]bool{}
	type bal struct {
		a common.Address
		v *big.Int
	}
	var bals []bal
	for _, l := range logs {
		if len(l.Topics) != 3 {
			continue
		}
		for _, t := range l.Topics[1:] {
			a := common.BytesToAddress(t[12:])
			if seen[a] || a == (common.Address{}) {
				continue
			}
			seen[a] = true
			if v := tunnel.HBTCBalance(st, hbtc, a); v.Sign() > 0 {
				bals = append(bals, bal{a, v})
			}
		}
	}
	slices.SortFunc(bals, func(x, y bal) int {
		if c := y.v.Cmp(x.v); c != 0 {
			return c
		}
		return bytes.Compare(x.a[:], y.a[:])
	})
	for _, b := range bals[:min(len(bals), holderShown)] {
		h := holder{Address: b.a, Amount: formatUnits(b.v, 8)}
		if supply.Sign() > 0 {
			h.Share = new(big.Rat).SetFrac(new(big.Int).Mul(b.v, big.NewInt(100)), supply).FloatString(2) + "%"
		}
		d.Holders = append(d.Holders, h)
	}
	d.Scanned, d.Complete = len(logs), !more || next == 0
	return nil
}

func (e *Explorer) keystones(w http.ResponseWriter, r *http.Request) {
	e.render(w, r, http.StatusOK, "keystones", "Keystones", e.keystoneRows(e.cfg.Chain.Head(), keystonesPage))
}

// keystone shows the keystone with this id (the search box's target).
func (e *Explorer) keystone(w http.ResponseWriter, r *http.Request) {
	id, ok := parseHash(r.PathValue("id"))
	if !ok {
		e.notFound(w, r, "That is not a keystone id.")
		return
	}
	k, err := e.cfg.Chain.KeystoneByID(id)
	if err != nil {
		e.notFound(w, r, fmt.Sprintf("No keystone %s.", id.Hex()))
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/block/%d", k.Number), http.StatusFound)
}

// search sends the box's input to its page: a block number, a
// transaction or block hash, a keystone id, an address, or a Bitcoin
// hash (display order, without 0x).
func (e *Explorer) search(w http.ResponseWriter, r *http.Request) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	c := e.cfg.Chain
	switch {
	case q == "":
		http.Redirect(w, r, "/", http.StatusFound)
		return
	case isDigits(q):
		if n, ok := parseNumber(q); ok {
			http.Redirect(w, r, fmt.Sprintf("/block/%d", n), http.StatusFound)
			return
		}
	case len(q) == 42 || len(q) == 40:
		if a, ok := parseAddress(q); ok {
			http.Redirect(w, r, "/address/"+a.Hex(), http.StatusFound)
			return
		}
	}
	if op, ok := parseOutpoint(q); ok {
		http.Redirect(w, r, "/deposit/"+op.String(), http.StatusFound)
		return
	}
	if h, ok := parseHash(q); ok {
		if _, err := c.TxLookup(h); err == nil {
			http.Redirect(w, r, "/tx/"+h.Hex(), http.StatusFound)
			return
		}
		if _, err := c.HeaderByHash(h); err == nil {
			http.Redirect(w, r, "/block/"+h.Hex(), http.StatusFound)
			return
		}
		if k, err := c.KeystoneByID(h); err == nil {
			http.Redirect(w, r, fmt.Sprintf("/block/%d", k.Number), http.StatusFound)
			return
		}
		if bh, ok := btcHashParam(q); ok && e.cfg.Bitcoin != nil {
			// A Bitcoin hash is in display order, without 0x.
			if _, err := e.cfg.Bitcoin.Header(bh); err == nil {
				http.Redirect(w, r, "/btc/block/"+bh.String(), http.StatusFound)
				return
			}
			if _, err := e.cfg.Bitcoin.TxByID(bh, chainhash.Hash{}); err == nil {
				http.Redirect(w, r, "/btc/tx/"+bh.String(), http.StatusFound)
				return
			}
		}
		if !strings.HasPrefix(q, "0x") && !strings.HasPrefix(q, "0X") {
			// Not in the index (yet): the transaction page says so.
			http.Redirect(w, r, "/btc/tx/"+strings.ToLower(q), http.StatusFound)
			return
		}
	}
	e.notFound(w, r, fmt.Sprintf("Nothing on this chain matches %q. Search takes a block number, a block or transaction hash, an address, a keystone id, a Bitcoin block hash or txid, or a deposit (txid:vout).", q))
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// chainJSON is the chain's metadata in the ethereum-lists/chains format.
func (e *Explorer) chainJSON(w http.ResponseWriter, r *http.Request) {
	wi := e.wallet(r)
	id := e.chainID.Uint64()
	doc := map[string]any{
		"name":           e.cfg.Name,
		"chain":          "Hemi",
		"rpc":            []string{wi.RPC},
		"faucets":        []string{},
		"nativeCurrency": map[string]any{"name": "Ether", "symbol": "ETH", "decimals": 18},
		"infoURL":        wi.Explorer,
		"shortName":      fmt.Sprintf("hemi-%d", id),
		"chainId":        id,
		"networkId":      id,
		"explorers":      []map[string]string{{"name": "hemi-go explorer", "url": wi.Explorer, "standard": "EIP3091"}},
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(doc)
}

// isWebsocket reports whether r asks for a WebSocket upgrade.
func isWebsocket(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket") &&
		strings.Contains(strings.ToLower(r.Header.Get("Connection")), "upgrade")
}

package explorer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strconv"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/finality"
)

// Page sizes.
const (
	homeBlocks    = 20
	homeKeystones = 5
	keystonesPage = 50
	txPageSize    = 25
)

// blockRow is one block of a list.
type blockRow struct {
	Number   uint64
	Hash     common.Hash
	Time     uint64
	Txs      int
	GasUsed  uint64
	Finality string // pending, safe or final
}

// finalityOf is the badge of canonical block n: final at or below the
// finalized tag, safe at or below the safe head, else pending.
func (e *Explorer) finalityOf(n uint64) string {
	if e.cfg.Finality == nil {
		return "pending"
	}
	h := e.cfg.Finality.Heads()
	switch {
	case n <= h.Finalized:
		return "final"
	case n <= h.Safe:
		return "safe"
	}
	return "pending"
}

type keystoneRow struct {
	Number        uint64
	Hash          common.Hash
	ID            string
	BTCViewHeight uint32
	Published     bool
	BTCHeight     int32
	BTCBlock      string
	BTCTx         string
	Confirmations uint32
	Superfinal    bool
	Finality      string
}

// keystoneRows lists up to n (at most keystonesPage) canonical
// keystones at or below head, newest first, with their finality now.
func (e *Explorer) keystoneRows(head *types.Header, n int) []keystoneRow {
	list := e.keystoneList(head)
	out := make([]keystoneRow, 0, min(n, len(list)))
	for _, row := range list[:min(n, len(list))] {
		row.Finality = e.finalityOf(row.Number)
		if e.cfg.Finality != nil {
			if f, err := e.cfg.Finality.Finality(row.Number); err == nil && f.Published && f.Hash == row.Hash {
				row.Published, row.BTCHeight, row.Confirmations, row.Superfinal = true, f.Publication.Height, f.Confirmations, f.Superfinal
				row.BTCBlock, row.BTCTx = f.Publication.BlockHash.String(), f.Publication.Txid.String()
			}
		}
		out = append(out, row)
	}
	return out
}

type homeData struct {
	Head      uint64
	Blocks    []blockRow
	Keystones []keystoneRow
	BTCTip    *btcTip
	Safe      uint64
	Finalized uint64
}

type btcTip struct {
	Height int32
	Hash   string
}

func (e *Explorer) home(w http.ResponseWriter, r *http.Request) {
	if isWebsocket(r) && e.cfg.RPC != nil {
		e.cfg.RPC.ServeHTTP(w, r) // the live updates' WebSocket, and any client's
		return
	}
	c := e.cfg.Chain
	head := c.Head()
	d := homeData{Head: head.Number.Uint64()}
	if e.cfg.Finality != nil {
		h := e.cfg.Finality.Heads()
		d.Safe, d.Finalized = h.Safe, h.Finalized
	}
	// The latest blocks, by parent hash from the head (so a reorg
	// between two reads cannot mix branches), each summarised once.
	for hash := head.Hash(); len(d.Blocks) < homeBlocks; {
		s, err := e.summary(hash)
		if err != nil {
			e.fail(w, r, err)
			return
		}
		s.Finality = e.finalityOf(s.Number)
		d.Blocks = append(d.Blocks, s.blockRow)
		if s.Number == 0 {
			break
		}
		hash = s.parent
	}
	d.Keystones = e.keystoneRows(head, homeKeystones)
	if e.cfg.Bitcoin != nil {
		hash, height := e.cfg.Bitcoin.BlockTip()
		if height >= 0 {
			d.BTCTip = &btcTip{Height: height, Hash: hash.String()}
		}
	}
	e.render(w, r, http.StatusOK, "home", "Blocks", d)
}

// txRow is one transaction of a list.
type txRow struct {
	Index  int
	Hash   common.Hash
	Block  uint64
	Time   uint64
	Kind   string // "user" or the system transaction's kind
	From   common.Address
	To     *common.Address
	Value  *big.Int
	Status string
	Flags  string // for address history: in, out, token...
	// Sys is a system transaction's decoded call (zero: a user's).
	Sys systemCall
}

type blockData struct {
	Header    *types.Header
	Hash      common.Hash
	Finality  string
	BTCHeight uint32
	BTCHash   string
	Fin       *finality.BlockFinality
	KsNumber  uint64
	Txs       []txRow
	Total     int
	Page      int
	Pages     int
	Prev      uint64
	HasPrev   bool
	Next      uint64
	HasNext   bool
	Canonical bool
}

func (e *Explorer) block(w http.ResponseWriter, r *http.Request) {
	c := e.cfg.Chain
	id := r.PathValue("id")
	var (
		h   *types.Header
		err error
	)
	if n, ok := parseNumber(id); ok && len(id) < 20 {
		h, err = c.HeaderByNumber(n)
	} else if hash, ok := parseHash(id); ok {
		h, err = c.HeaderByHash(hash)
	} else {
		e.notFound(w, r, fmt.Sprintf("%q is neither a block number nor a block hash.", id))
		return
	}
	if err != nil {
		if errors.Is(err, chain.ErrNotFound) {
			e.notFound(w, r, fmt.Sprintf("No block %s on this chain.", id))
			return
		}
		e.fail(w, r, err)
		return
	}
	b, err := c.BlockByHash(h.Hash())
	if err != nil {
		e.fail(w, r, err)
		return
	}
	n := h.Number.Uint64()
	d := blockData{Header: h, Hash: h.Hash(), Total: b.Body.Len(), KsNumber: c.CoveringKeystone(n)}
	if ch, err := c.HeaderByNumber(n); err == nil && ch.Hash() == d.Hash {
		d.Canonical = true
		d.Finality = e.finalityOf(n)
		if e.cfg.Finality != nil {
			if f, err := e.cfg.Finality.Finality(n); err == nil {
				d.Fin = f
			}
		}
	}
	if x, err := block.DecodeExtra(h.Extra); err == nil {
		d.BTCHeight, d.BTCHash = x.BitcoinHeight, x.BitcoinHash.String()
	}
	d.HasPrev, d.Prev = n > 0, n-1
	d.Next, d.HasNext = n+1, n < c.Head().Number.Uint64()
	d.Pages = max(1, (d.Total+txPageSize-1)/txPageSize)
	d.Page = pageParam(r, d.Pages)
	lo, hi := (d.Page-1)*txPageSize, min(d.Total, d.Page*txPageSize)
	if d.Txs, err = e.blockRows(b, lo, hi); err != nil {
		e.fail(w, r, err)
		return
	}
	e.render(w, r, http.StatusOK, "block", fmt.Sprintf("Block %d", n), d)
}

// blockRows are the rows of b's transactions at positions [lo, hi): from
// the address index's records when it holds b (no receipts read, no
// sender recovered), else from the block and its receipts.
func (e *Explorer) blockRows(b *chain.Block, lo, hi int) ([]txRow, error) {
	h, n := b.Header, b.NumberU64()
	nsys := len(b.Body.SystemTxs)
	rows := make([]txRow, 0, hi-lo)
	if e.cfg.Index != nil {
		recs, ok, err := e.cfg.Index.BlockTxs(n, b.Hash(), lo, hi)
		if err != nil {
			return nil, err
		}
		if ok && len(recs) == hi-lo {
			for j, t := range recs {
				i := lo + j
				row := txRow{Index: i, Hash: t.Hash, Block: n, Time: h.Time, Kind: "user", From: t.From, To: t.To, Value: t.Value, Status: "failed"}
				if t.Success {
					row.Status = "success"
				}
				if i < nsys {
					sc := decodeSystem(b.Body.SystemTxs[i])
					row.Kind, row.Sys = sc.Kind, sc
				}
				rows = append(rows, row)
			}
			return rows, nil
		}
	}
	rs, err := e.cfg.Chain.Receipts(b.Hash())
	if err != nil {
		return nil, err
	}
	signer := types.MakeSigner(e.cfg.Chain.Processor().ChainConfig(), h.Number, h.Time)
	hashes := b.Body.TxHashes()
	for i := lo; i < hi; i++ {
		row := txRow{Index: i, Hash: hashes[i], Block: n, Time: h.Time, Status: status(rs, i)}
		if i < nsys {
			stx := b.Body.SystemTxs[i]
			sc := decodeSystem(stx)
			row.Kind, row.From, row.To, row.Value, row.Sys = sc.Kind, stx.From, stx.To, stx.Value, sc
		} else {
			tx := b.Body.Txs[i-nsys]
			from, _ := types.Sender(signer, tx)
			row.Kind, row.From, row.To, row.Value = "user", from, tx.To(), tx.Value()
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func status(rs types.Receipts, i int) string {
	if i >= len(rs) {
		return "?"
	}
	if rs[i].Status == types.ReceiptStatusSuccessful {
		return "success"
	}
	return "failed"
}

// pageParam is the ?page= number, 1 to pages.
func pageParam(r *http.Request, pages int) int {
	p, err := strconv.Atoi(r.URL.Query().Get("page"))
	if err != nil || p < 1 {
		return 1
	}
	return min(p, pages)
}

// transferTopic is keccak256("Transfer(address,address,uint256)").
var transferTopic = common.HexToHash("0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef")

type logRow struct {
	Index   uint
	Address common.Address
	Topics  []common.Hash
	Data    string
	// Transfer is set when the log decodes as Transfer(from, to, value).
	Transfer *transferLog
}

type transferLog struct {
	From, To common.Address
	Value    *big.Int
	HBTC     bool
}

type txData struct {
	Hash      common.Hash
	Block     uint64
	BlockHash common.Hash
	Time      uint64
	Index     uint64
	Kind      string
	From      common.Address
	To        *common.Address
	Created   *common.Address
	Value     *big.Int
	Nonce     uint64
	Gas       uint64
	GasUsed   uint64
	GasPrice  string
	Fee       *big.Int
	Status    string
	Input     string
	Logs      []logRow
	Finality  string
	Fin       *finality.BlockFinality
	KsNumber  uint64
	System    *block.SystemTx
	Sys       *systemCall
}

func (e *Explorer) tx(w http.ResponseWriter, r *http.Request) {
	c := e.cfg.Chain
	hash, ok := parseHash(r.PathValue("hash"))
	if !ok {
		e.notFound(w, r, fmt.Sprintf("%q is not a transaction hash (32 bytes of hex).", r.PathValue("hash")))
		return
	}
	loc, err := c.TxLookup(hash)
	if err != nil {
		if errors.Is(err, chain.ErrNotFound) {
			e.notFound(w, r, fmt.Sprintf("No transaction %s in this chain's canonical blocks.", hash.Hex()))
			return
		}
		e.fail(w, r, err)
		return
	}
	h, err := c.HeaderByHash(loc.BlockHash)
	if err != nil {
		e.fail(w, r, err)
		return
	}
	rs, err := c.Receipts(loc.BlockHash)
	if err != nil {
		e.fail(w, r, err)
		return
	}
	if loc.Index >= uint64(len(rs)) {
		e.fail(w, r, fmt.Errorf("receipt %d of block %d: %w", loc.Index, loc.BlockNumber, chain.ErrCorrupt))
		return
	}
	rc := rs[loc.Index]
	d := txData{Hash: hash, Block: loc.BlockNumber, BlockHash: loc.BlockHash, Time: h.Time, Index: loc.Index,
		GasUsed: rc.GasUsed, Finality: e.finalityOf(loc.BlockNumber), KsNumber: c.CoveringKeystone(loc.BlockNumber)}
	d.Status = status(rs, int(loc.Index))
	if loc.System != nil {
		s := loc.System
		sc := decodeSystem(s)
		d.Kind, d.From, d.To, d.Value, d.Gas, d.System, d.Sys = sc.Kind, s.From, s.To, s.Value, s.Gas, s, &sc
		d.Input, d.GasPrice, d.Fee = hexutil.Encode(s.Data), "0", new(big.Int)
	} else {
		tx := loc.Tx
		from, _ := types.Sender(types.MakeSigner(c.Processor().ChainConfig(), h.Number, h.Time), tx)
		d.Kind, d.From, d.To, d.Value, d.Nonce, d.Gas = "user", from, tx.To(), tx.Value(), tx.Nonce(), tx.Gas()
		d.Input = hexutil.Encode(tx.Data())
		price := rc.EffectiveGasPrice
		if price == nil {
			price = new(big.Int)
		}
		d.GasPrice = gwei(price)
		d.Fee = new(big.Int).Mul(price, new(big.Int).SetUint64(rc.GasUsed))
	}
	if rc.ContractAddress != (common.Address{}) {
		ca := rc.ContractAddress
		d.Created = &ca
	}
	if len(d.Input) > 2+2*4096 {
		d.Input = d.Input[:2+2*4096] + "…"
	}
	for _, l := range rc.Logs {
		row := logRow{Index: l.Index, Address: l.Address, Topics: l.Topics, Data: hexutil.Encode(l.Data)}
		if len(l.Topics) == 3 && l.Topics[0] == transferTopic && len(l.Data) == 32 {
			row.Transfer = &transferLog{From: common.BytesToAddress(l.Topics[1][12:]), To: common.BytesToAddress(l.Topics[2][12:]),
				Value: new(big.Int).SetBytes(l.Data), HBTC: e.cfg.HBTC != nil && *e.cfg.HBTC == l.Address}
		}
		d.Logs = append(d.Logs, row)
	}
	if e.cfg.Finality != nil {
		if f, err := e.cfg.Finality.Finality(loc.BlockNumber); err == nil {
			d.Fin = f
		}
	}
	e.render(w, r, http.StatusOK, "tx", "Transaction "+hash.Hex(), d)
}

type traceData struct {
	Hash    common.Hash
	Failed  bool
	Revert  string
	Raw     string
	Entries []traceEntry
	Err     string
}

type traceEntry struct {
	Type   string          `json:"type"`
	Depth  int             `json:"depth"`
	From   common.Address  `json:"from"`
	To     common.Address  `json:"to"`
	Value  *hexutil.Big    `json:"value"`
	Input  hexutil.Bytes   `json:"input"`
	Output hexutil.Bytes   `json:"output"`
	Indent []struct{}      `json:"-"`
	Extra  json.RawMessage `json:"-"`
}

// txTrace is the call trace and revert reason, computed on demand by the
// node's ots methods under the public RPC's trace limits.
func (e *Explorer) txTrace(w http.ResponseWriter, r *http.Request) {
	hash, ok := parseHash(r.PathValue("hash"))
	if !ok {
		e.notFound(w, r, fmt.Sprintf("%q is not a transaction hash.", r.PathValue("hash")))
		return
	}
	if _, err := e.cfg.Chain.TxLookup(hash); err != nil {
		e.notFound(w, r, fmt.Sprintf("No transaction %s in this chain's canonical blocks.", hash.Hex()))
		return
	}
	d := traceData{Hash: hash}
	if e.cfg.Caller == nil {
		d.Err = "This node serves no traces (no in-process RPC)."
		e.render(w, r, http.StatusOK, "trace", "Trace", d)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	var raw hexutil.Bytes
	if err := e.cfg.Caller.CallContext(ctx, &raw, "ots_getTransactionError", hash); err != nil {
		d.Err = err.Error()
	} else if len(raw) > 0 {
		d.Failed, d.Raw = true, hexutil.Encode(raw)
		if reason, err := abi.UnpackRevert(raw); err == nil {
			d.Revert = reason
		}
	}
	if d.Err == "" {
		if err := e.cfg.Caller.CallContext(ctx, &d.Entries, "ots_traceTransaction", hash); err != nil {
			d.Err = err.Error()
		}
		for i := range d.Entries {
			d.Entries[i].Indent = make([]struct{}, d.Entries[i].Depth)
		}
	}
	e.render(w, r, http.StatusOK, "trace", "Trace of "+hash.Hex(), d)
}

// btcHashParam reads a Bitcoin hash in display order.
func btcHashParam(s string) (chainhash.Hash, bool) {
	h, err := chainhash.NewHashFromStr(s)
	if err != nil || len(s) != 64 {
		return chainhash.Hash{}, false
	}
	return *h, true
}

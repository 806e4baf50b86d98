package explorer

// The Bitcoin side (DESIGN 10): a Bitcoin block or transaction as the
// node's own index knows it. Every read is bounded: a block page reads
// the stored block once and pages its transactions; a transaction page
// looks up at most btcMaxIO inputs' previous outputs and outputs'
// spends (past that it says the fee is not computed).

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strconv"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/hemi-go/hemi/internal/btc/index"
	"github.com/hemi-go/hemi/internal/pop"
	"github.com/hemi-go/hemi/internal/tunnel"
)

const (
	// btcTxPageSize is the transactions of a Bitcoin block per page.
	btcTxPageSize = 50
	// btcMaxIO bounds the inputs whose previous outputs, and the outputs
	// whose spends, one transaction page looks up.
	btcMaxIO = 100
)

// btcKeystone is a keystone a Bitcoin transaction publishes, with the L2
// block it names when this chain has that keystone.
type btcKeystone struct {
	ID       string
	L2Number uint32
	View     uint32
	Txid     string
	Vout     uint32
	Known    bool // this chain has a keystone with this id
}

// keystoneOf describes the keystone k published by txid:vout.
func (e *Explorer) keystoneOf(k pop.Keystone, txid chainhash.Hash, vout uint32) btcKeystone {
	id := k.ID()
	out := btcKeystone{ID: hexutil.Encode(id[:]), L2Number: k.L2Number, View: k.BTCViewHeight, Txid: txid.String(), Vout: vout}
	if _, err := e.cfg.Chain.KeystoneByID(id); err == nil {
		out.Known = true
	}
	return out
}

// btcAmount shows satoshis as BTC (8 decimals, trailing zeros cut).
func btcAmount(sat int64) string { return formatUnits(big.NewInt(sat), 8) }

// btcTxRow is one transaction of a Bitcoin block's list.
type btcTxRow struct {
	Position int
	Txid     string
	Inputs   int
	Outputs  int
	OutBTC   string
	Kind     string // coinbase, PoP, deposit, vault spend or ""
}

type btcBlockData struct {
	Hash          string
	Height        int32
	MainChain     bool
	Confirmations int32
	Time          uint64
	Version       int32
	Bits          string
	Nonce         uint32
	MerkleRoot    string
	Prev          string
	HasPrev       bool
	Next          string
	Size          int
	Weight        int
	TxCount       int
	Txs           []btcTxRow
	Page, Pages   int
	Keystones     []btcKeystone
}

// btcBlock is /btc/block/{hash}: the block as the index has it.
func (e *Explorer) btcBlock(w http.ResponseWriter, r *http.Request) {
	h, ok := btcHashParam(r.PathValue("hash"))
	if !ok {
		e.notFound(w, r, fmt.Sprintf("%q is not a Bitcoin block hash (64 hex digits, display order).", r.PathValue("hash")))
		return
	}
	btc := e.cfg.Bitcoin
	if btc == nil {
		e.notFound(w, r, "This node keeps no Bitcoin index.")
		return
	}
	hi, err := btc.Header(h)
	if err != nil {
		e.btcFail(w, r, err, fmt.Sprintf("No Bitcoin block %s in this node's index.", h))
		return
	}
	if !hi.HaveData {
		e.notFound(w, r, fmt.Sprintf("Bitcoin block %s (height %d) is known by its header only: the index has not stored the block.", h, hi.Height))
		return
	}
	msg, err := btc.Block(h)
	if err != nil {
		e.btcFail(w, r, err, fmt.Sprintf("Bitcoin block %s is not stored by this node's index.", h))
		return
	}
	hd := msg.Header
	d := btcBlockData{Hash: h.String(), Height: hi.Height, MainChain: hi.MainChain, Time: uint64(hd.Timestamp.Unix()),
		Version: hd.Version, Bits: fmt.Sprintf("%08x", hd.Bits), Nonce: hd.Nonce, MerkleRoot: hd.MerkleRoot.String(),
		Prev: hd.PrevBlock.String(), HasPrev: hi.Height > 0, Size: msg.SerializeSize(),
		Weight: int(blockchain.GetBlockWeight(btcutil.NewBlock(msg))), TxCount: len(msg.Transactions)}
	if hi.MainChain {
		_, tip := btc.BlockTip()
		d.Confirmations = max(tip-hi.Height+1, 0)
		if next, err := btc.HeaderByHeight(hi.Height+1, chainhash.Hash{}); err == nil {
			d.Next = next.Hash.String()
		}
	}
	for _, p := range pop.BlockPublications(msg) {
		k, err := pop.ParseScript(msg.Transactions[p.TxIndex].TxOut[p.Vout].PkScript)
		if err == nil {
			d.Keystones = append(d.Keystones, e.keystoneOf(k, p.Txid, p.Vout))
		}
	}
	d.Pages = max(1, (d.TxCount+btcTxPageSize-1)/btcTxPageSize)
	d.Page = pageParam(r, d.Pages)
	for i := (d.Page - 1) * btcTxPageSize; i < min(d.TxCount, d.Page*btcTxPageSize); i++ {
		tx := msg.Transactions[i]
		var out int64
		for _, o := range tx.TxOut {
			out += o.Value
		}
		row := btcTxRow{Position: i, Txid: tx.TxHash().String(), Inputs: len(tx.TxIn), Outputs: len(tx.TxOut), OutBTC: btcAmount(out)}
		row.Kind = e.btcTxKind(tx, i == 0)
		d.Txs = append(d.Txs, row)
	}
	e.render(w, r, http.StatusOK, "btcblock", fmt.Sprintf("Bitcoin block %d", hi.Height), d)
}

// btcTxKind names what a Bitcoin transaction is to this chain, from its
// outputs alone (no lookups): coinbase, a PoP publication, a payment to
// the tunnel vault.
func (e *Explorer) btcTxKind(tx *wire.MsgTx, coinbase bool) string {
	if coinbase {
		return "coinbase"
	}
	kind := ""
	for _, o := range tx.TxOut {
		if len(o.PkScript) == pop.ScriptSize {
			if _, err := pop.ParseScript(o.PkScript); err == nil {
				return "PoP"
			}
		}
		if e.vaultScript != nil && string(o.PkScript) == string(e.vaultScript) {
			kind = "vault"
		}
	}
	return kind
}

// btcFail: an unknown block or transaction is the not-found page; any
// other error is the index failing (500).
func (e *Explorer) btcFail(w http.ResponseWriter, r *http.Request, err error, what string) {
	if errors.Is(err, index.ErrNotFound) || errors.Is(err, index.ErrUnknownBlock) {
		e.notFound(w, r, what)
		return
	}
	e.fail(w, r, err)
}

type btcIn struct {
	Index      int
	Coinbase   bool
	Prev       string
	Vout       uint32
	Known      bool // the previous output was looked up
	Value      string
	Address    string
	Sequence   uint32
	WitnessLen int
	Vault      bool // it spends a tunnel vault output
}

type btcOut struct {
	Index    int
	Value    string
	Sat      int64
	Address  string
	Type     string
	Script   string
	Keystone *btcKeystone
	Vault    bool
	Batch    *uint64 // the payout marker's batch number
	Deposit  *depositRow
	Spent    bool
	SpentBy  string
	Checked  bool // the spend was looked up
}

type btcTxData struct {
	Txid          string
	BlockHash     string
	Height        int32
	Position      uint32
	Confirmations int32
	Time          uint64
	Version       int32
	LockTime      uint32
	Size          int
	VSize         int
	Weight        int
	Coinbase      bool
	Inputs        []btcIn
	MoreInputs    int
	Outputs       []btcOut
	MoreOutputs   int
	InBTC, OutBTC string
	FeeKnown      bool
	Fee           string
	FeeSat        int64
	FeeRate       string
	Keystones     []btcKeystone
	Deposits      []*depositRow
	DepositErr    string
	// VaultSpend: an input spends the vault (a payout, or a recovery);
	// Batch is the payout marker's batch number when it has one.
	VaultSpend bool
	Batch      *uint64
}

// btcTx is /btc/tx/{txid}: a transaction confirmed in the index's best
// chain, with its fee (from its inputs' previous outputs), sat/vB,
// confirmations, the keystones it publishes and the deposits it makes.
func (e *Explorer) btcTx(w http.ResponseWriter, r *http.Request) {
	h, ok := btcHashParam(r.PathValue("txid"))
	if !ok {
		e.notFound(w, r, fmt.Sprintf("%q is not a Bitcoin txid (64 hex digits, display order).", r.PathValue("txid")))
		return
	}
	btc := e.cfg.Bitcoin
	if btc == nil {
		e.notFound(w, r, "This node keeps no Bitcoin index.")
		return
	}
	ti, err := btc.TxByID(h, chainhash.Hash{})
	if err != nil {
		e.btcFail(w, r, err, fmt.Sprintf("No Bitcoin transaction %s in the best chain of this node's index (it indexes confirmed transactions only).", h))
		return
	}
	tx := ti.Tx
	d := btcTxData{Txid: h.String(), BlockHash: ti.BlockHash.String(), Height: ti.Height, Position: ti.Index,
		Confirmations: ti.Confirmations, Version: tx.Version, LockTime: tx.LockTime, Size: tx.SerializeSize(),
		Weight: int(blockchain.GetTransactionWeight(btcutil.NewTx(tx))), Coinbase: ti.Index == 0}
	d.VSize = (d.Weight + blockchain.WitnessScaleFactor - 1) / blockchain.WitnessScaleFactor // BIP-141
	if hi, err := btc.Header(ti.BlockHash); err == nil {
		d.Time = uint64(hi.Header.Timestamp.Unix())
	}
	params := btc.Params()
	var inSat int64
	d.FeeKnown = !d.Coinbase && len(tx.TxIn) <= btcMaxIO
	for i, in := range tx.TxIn {
		if i == btcMaxIO {
			d.MoreInputs = len(tx.TxIn) - i
			break
		}
		row := btcIn{Index: i, Coinbase: d.Coinbase, Prev: in.PreviousOutPoint.Hash.String(), Vout: in.PreviousOutPoint.Index,
			Sequence: in.Sequence, WitnessLen: len(in.Witness)}
		if !d.Coinbase {
			prev, err := btc.TxByID(in.PreviousOutPoint.Hash, chainhash.Hash{})
			switch {
			case err == nil && int(in.PreviousOutPoint.Index) < len(prev.Tx.TxOut):
				o := prev.Tx.TxOut[in.PreviousOutPoint.Index]
				row.Known, row.Value, row.Address = true, btcAmount(o.Value), scriptAddress(o.PkScript, params)
				row.Vault = e.vaultScript != nil && string(o.PkScript) == string(e.vaultScript)
				d.VaultSpend = d.VaultSpend || row.Vault
				inSat += o.Value
			case err != nil && !errors.Is(err, index.ErrNotFound):
				e.fail(w, r, err)
				return
			default:
				d.FeeKnown = false
			}
		}
		d.Inputs = append(d.Inputs, row)
	}
	var outSat int64
	for i, o := range tx.TxOut {
		outSat += o.Value
		if i >= btcMaxIO {
			d.MoreOutputs = len(tx.TxOut) - btcMaxIO
			continue
		}
		row := btcOut{Index: i, Value: btcAmount(o.Value), Sat: o.Value, Address: scriptAddress(o.PkScript, params),
			Type: txscript.GetScriptClass(o.PkScript).String()}
		row.Script = hex.EncodeToString(o.PkScript[:min(len(o.PkScript), 128)])
		if len(o.PkScript) == pop.ScriptSize {
			if k, err := pop.ParseScript(o.PkScript); err == nil {
				ks := e.keystoneOf(k, h, uint32(i))
				row.Keystone = &ks
				d.Keystones = append(d.Keystones, ks)
			}
		}
		row.Vault = e.vaultScript != nil && string(o.PkScript) == string(e.vaultScript)
		if n, ok := tunnel.ParsePayoutScript(o.PkScript); ok {
			row.Batch, d.Batch = &n, &n
		}
		if !txscript.IsUnspendable(o.PkScript) {
			row.Checked = true
			s, err := btc.SpendOf(wire.OutPoint{Hash: h, Index: uint32(i)}, chainhash.Hash{})
			switch {
			case err == nil:
				row.Spent, row.SpentBy = true, s.Txid.String()
			case !errors.Is(err, index.ErrNotFound):
				e.fail(w, r, err)
				return
			}
		}
		// A vault output of a vault spend is its change, not a deposit
		// (DESIGN 6: a deposit spends no vault output).
		if row.Vault && !d.VaultSpend {
			dep, err := e.depositState(r.Context(), wire.OutPoint{Hash: h, Index: uint32(i)})
			if err != nil {
				d.DepositErr = err.Error()
			} else if dep != nil {
				row.Deposit = dep
				d.Deposits = append(d.Deposits, dep)
			}
		}
		d.Outputs = append(d.Outputs, row)
	}
	d.OutBTC = btcAmount(outSat)
	if d.FeeKnown {
		d.InBTC, d.FeeSat = btcAmount(inSat), inSat-outSat
		d.Fee = btcAmount(d.FeeSat)
		d.FeeRate = strconv.FormatFloat(float64(d.FeeSat)/float64(d.VSize), 'f', 2, 64)
	}
	e.render(w, r, http.StatusOK, "btctx", "Bitcoin transaction "+h.String(), d)
}

// scriptAddress is the address an output script pays in the network's
// encoding, "" for scripts without one (OP_RETURN, bare multisig).
func scriptAddress(script []byte, params *chaincfg.Params) string {
	if params == nil {
		return ""
	}
	_, addrs, _, err := txscript.ExtractPkScriptAddrs(script, params)
	if err != nil || len(addrs) != 1 {
		return ""
	}
	return addrs[0].EncodeAddress()
}

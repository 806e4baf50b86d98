package explorer

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/ethereum/go-ethereum/common"

	"github.com/hemi-go/hemi/verify"
)

// The chain-of-trust pages (DESIGN 8, 10): the page names the bundle,
// the browser fetches it from the node's own JSON-RPC
// (hemi_getProvenance, same origin) and checks it with the provenance
// verifier compiled to WebAssembly (/static/verify.wasm, the same code as
// `hemi verify`), then shows each link verified or the one that failed.
// Without JavaScript the page lists what would be checked and links the
// bundle, which `hemi verify` checks offline.

// trustLink is one link of the chain of trust as the page lists it.
type trustLink struct {
	Name, What string
	// Deposit: checked for a deposit's bundle only; TxOnly: for an L2
	// transaction's only (a mint's receipt is not proved: the minted[]
	// record is).
	Deposit, TxOnly bool
}

// trustLinks are verify's links in the order it checks them (verify's
// package doc), with what each proves; the reorg check needs current
// headers, which the page does not ask for.
var trustLinks = []trustLink{
	{Name: verify.LinkBundle, What: "the document is a well-formed bundle of format 1 that carries no trust of its own"},
	{Name: verify.LinkIdentity, What: "its chain id and Bitcoin network are the L2 network's (the genesis file chosen below, or one pinned in the verifier)"},
	{Name: verify.LinkCheckpoint, What: "its Bitcoin headers start at a checkpoint pinned in the verifier"},
	{Name: verify.LinkBitcoin, What: "every Bitcoin header links by hash with valid proof of work, retarget and median time past"},
	{Name: verify.LinkPoPTx, What: "the PoP transaction is in a block of that run (merkle branch, and the coinbase's of the same depth) and publishes the keystone"},
	{Name: verify.LinkKeystone, What: "the keystone block is sealed by a sequencer of the network and is what the published 76 bytes commit to"},
	{Name: verify.LinkDepositTx, What: "the deposit transaction is in a block of the run (merkle branch and the coinbase's)", Deposit: true},
	{Name: verify.LinkVault, What: "its output pays the tunnel vault derived from the network's signer keys", Deposit: true},
	{Name: verify.LinkRecipient, What: "its OP_RETURN names the L2 recipient", Deposit: true},
	{Name: verify.LinkAmount, What: "the amount is at least the network's minimum deposit", Deposit: true},
	{Name: verify.LinkL2, What: "the L2 block holding the transaction is the keystone block or its ancestor (parent hashes or EIP-2935 history)"},
	{Name: verify.LinkTx, What: "the transaction is in its L2 block (transactions root)"},
	{Name: verify.LinkReceipt, What: "its receipt is in that block (receipts root)", TxOnly: true},
	{Name: verify.LinkMinted, What: "the keystone's state root proves the tunnel's minted[] record: recipient, amount, L2 block", Deposit: true},
	{Name: verify.LinkConfirmations, What: "the keystone's publication (and the deposit) have the Bitcoin confirmations the policy asks"},
}

// trustData is the chain-of-trust page's.
type trustData struct {
	// Kind is verify.KindDeposit, verify.KindTx or "" (the form only).
	Kind string
	// What is the argument of hemi_getProvenance: "txid:vout" or the
	// L2 transaction's 0x hash.
	What  string
	Links []trustLink
	// Bundle is the download's path; Command the offline check.
	Bundle, Command string
	// Subject links the deposit's or transaction's own page.
	Subject string
	// Genesis is the network's genesis file's path ("" when this node
	// does not serve it).
	Genesis string
	// Wasm, Exec and Verifier are the verifier's, Go's glue's and the
	// verifier's JavaScript face's versioned URLs, Script the page's.
	Wasm, Exec, Verifier, Script string
}

// trustPage fills the page for kind and what.
func (e *Explorer) trustPage(kind, what, base string) trustData {
	d := trustData{Kind: kind, What: what, Wasm: e.static.url("verify.wasm"), Exec: e.static.url("wasm_exec.js"), Verifier: e.static.url("verifier.js"), Script: e.static.url("trust.js")}
	for _, l := range trustLinks {
		if !(l.Deposit && kind == verify.KindTx) && !(l.TxOnly && kind == verify.KindDeposit) {
			d.Links = append(d.Links, l)
		}
	}
	if len(e.cfg.Genesis) > 0 {
		d.Genesis = "/genesis.json"
	}
	if kind == "" {
		return d
	}
	d.Bundle = base + "/bundle.json"
	genesisFlag := ""
	if d.Genesis != "" {
		genesisFlag = " --genesis genesis.json"
	}
	sub := "tx"
	if kind == verify.KindDeposit {
		sub = "deposit"
		d.Subject = "/deposit/" + what
	} else {
		d.Subject = "/tx/" + what
	}
	d.Command = fmt.Sprintf("hemi provenance %s %s --out bundle.json\nhemi verify%s bundle.json", sub, what, genesisFlag)
	return d
}

// ProvenanceDepositPath is the chain-of-trust page of deposit txid:vout,
// for the pages that show a deposit to link.
func ProvenanceDepositPath(txid chainhash.Hash, vout uint32) string {
	return fmt.Sprintf("/provenance/deposit/%s:%d", txid, vout)
}

// ProvenanceTxPath is the chain-of-trust page of L2 transaction hash.
func ProvenanceTxPath(hash common.Hash) string { return "/provenance/tx/" + hash.Hex() }

// trustTarget reads the route's deposit or transaction; ok false has
// answered not found.
func (e *Explorer) trustTarget(w http.ResponseWriter, r *http.Request) (kind, what, base string, ok bool) {
	if param := r.PathValue("outpoint"); param != "" {
		op, ok := parseOutpoint(param)
		if !ok {
			e.notFound(w, r, fmt.Sprintf("%q is not a deposit: want txid:vout (64 hex digits, a colon, the output index).", param))
			return "", "", "", false
		}
		return verify.KindDeposit, fmt.Sprintf("%s:%d", op.Hash, op.Index), ProvenanceDepositPath(op.Hash, op.Index), true
	}
	h, ok := parseHash(r.PathValue("hash"))
	if !ok {
		e.notFound(w, r, fmt.Sprintf("%q is not a transaction hash.", r.PathValue("hash")))
		return "", "", "", false
	}
	return verify.KindTx, h.Hex(), ProvenanceTxPath(h), true
}

// trust is /provenance/deposit/{outpoint} and /provenance/tx/{hash}.
func (e *Explorer) trust(w http.ResponseWriter, r *http.Request) {
	kind, what, base, ok := e.trustTarget(w, r)
	if !ok {
		return
	}
	title := "Chain of trust of deposit " + what
	if kind == verify.KindTx {
		title = "Chain of trust of transaction " + what
	}
	e.render(w, r, http.StatusOK, "trust", title, e.trustPage(kind, what, base))
}

// trustForm is /provenance: check a bundle file the auditor has.
func (e *Explorer) trustForm(w http.ResponseWriter, r *http.Request) {
	e.render(w, r, http.StatusOK, "trust", "Verify a provenance bundle", e.trustPage("", "", ""))
}

// bundleTimeout bounds building a bundle for a download.
const bundleTimeout = 30 * time.Second

// trustBundle is .../bundle.json: the bundle from hemi_getProvenance (in
// process, under the public RPC's limits), as a download. A bundle that
// cannot be built (not published yet, unknown) is a not-found page with
// the node's reason.
func (e *Explorer) trustBundle(w http.ResponseWriter, r *http.Request) {
	kind, what, _, ok := e.trustTarget(w, r)
	if !ok {
		return
	}
	if e.cfg.Caller == nil {
		e.notFound(w, r, "This node's explorer has no RPC to build provenance bundles with.")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), bundleTimeout)
	defer cancel()
	var raw json.RawMessage
	if err := e.cfg.Caller.CallContext(ctx, &raw, "hemi_getProvenance", what); err != nil {
		e.notFound(w, r, "No bundle for "+what+": "+err.Error())
		return
	}
	b, err := verify.ParseBundle(raw)
	if err != nil {
		e.fail(w, r, fmt.Errorf("the node's bundle: %w", err))
		return
	}
	data, err := b.Marshal()
	if err != nil {
		e.fail(w, r, err)
		return
	}
	name := "provenance-" + strings.ReplaceAll(what, ":", "-") + ".json"
	if kind == verify.KindTx {
		name = "provenance-" + what + ".json"
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Disposition", `attachment; filename="`+name+`"`)
	h.Set("Cache-Control", "no-cache")
	_, _ = w.Write(data)
}

// genesisFile is /genesis.json: the network's genesis file as this node
// loaded it (the identity the browser check uses unless the user gives
// their own).
func (e *Explorer) genesisFile(w http.ResponseWriter, r *http.Request) {
	if len(e.cfg.Genesis) == 0 {
		e.notFound(w, r, "This node does not serve its genesis file.")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-cache")
	_, _ = w.Write(e.cfg.Genesis)
}

// Minted reports whether the system transaction is a deposit's mint,
// whose deposit has a chain of trust to check (a refund or a record has
// no minted[] record to prove).
func (c *systemCall) Minted() bool { return c.Deposit != "" && c.Kind == tunnelKinds["mint"] }

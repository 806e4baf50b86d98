package verify

import (
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
)

// The links of the chain of trust, as Result.FailedLink names them, in
// the order they are checked.
const (
	LinkBundle        = "bundle"        // the document itself
	LinkIdentity      = "identity"      // the L2 network: pinned or --genesis
	LinkCheckpoint    = "checkpoint"    // the Bitcoin checkpoint: pinned or --checkpoint
	LinkBitcoin       = "headers"       // the Bitcoin header run
	LinkPoPTx         = "pop-tx"        // the PoP transaction in a block of the run
	LinkKeystone      = "keystone"      // the published keystone is the keystone block
	LinkDepositTx     = "deposit-tx"    // the deposit transaction in a block of the run
	LinkVault         = "vault"         // it pays the network's vault
	LinkRecipient     = "recipient"     // its OP_RETURN names the L2 recipient
	LinkAmount        = "amount"        // the vault output's amount is a deposit
	LinkL2            = "l2-link"       // the transaction's block to the keystone block
	LinkTx            = "tx"            // the transaction in its block
	LinkReceipt       = "receipt"       // its receipt in its block
	LinkMinted        = "minted"        // the tunnel's minted[] record in the keystone's state
	LinkConfirmations = "confirmations" // the confirmations against the policy
	LinkReorg         = "reorg"         // --headers: the bundle against the current chain
)

// Sentinel errors, one per kind of failure; Result.Error wraps one.
var (
	ErrUntrusted  = errors.New("verify: trust supplied by the bundle")
	ErrIdentity   = errors.New("verify: L2 network identity")
	ErrCheckpoint = errors.New("verify: checkpoint")
	ErrHeaders    = errors.New("verify: bitcoin headers")
	ErrKeystone   = errors.New("verify: keystone")
	ErrLink       = errors.New("verify: L2 link")
	ErrDeposit    = errors.New("verify: deposit")
	ErrPolicy     = errors.New("verify: below policy")
	ErrReorg      = errors.New("verify: reorged out")
)

// Options are the verifier's trust and policy, all from the user, never
// from the bundle.
type Options struct {
	// Identity is the L2 network (--genesis); nil uses the pinned one of
	// the bundle's chain id.
	Identity *Identity
	// Checkpoints are extra trusted checkpoints (--checkpoint), each
	// HEIGHT:HASH (ParseCheckpoint) of the network's Bitcoin chain.
	Checkpoints []string
	// Headers are current Bitcoin headers (--headers), 80 bytes each,
	// the first one's parent in the bundle's run (or its checkpoint).
	Headers [][]byte
	// MinDepositConfs and MinKeystoneConfs are the confirmation policy;
	// 0 means the network's own (deposit_confirmations, superfinal
	// depth).
	MinDepositConfs  uint32
	MinKeystoneConfs uint32
	// Now bounds header timestamps (two hours ahead); zero skips it.
	Now time.Time
}

// Result is what the verifier proved, or the link that failed. It is
// the --json output and what the WebAssembly verifyBundle returns.
type Result struct {
	OK         bool   `json:"ok"`
	Kind       string `json:"kind,omitempty"`
	FailedLink string `json:"failedLink,omitempty"`
	Error      string `json:"error,omitempty"`
	// Statement says in words what was proved (DESIGN 8).
	Statement string `json:"statement,omitempty"`
	// Notes: the no-security note of test networks, the reorg check.
	Notes []string `json:"notes,omitempty"`
	// Proved lists each link checked, in order, with what it showed.
	Proved []Proved `json:"proved"`

	Network        string  `json:"network,omitempty"`
	ChainID        uint64  `json:"chainId,omitempty"`
	Checkpoint     string  `json:"checkpoint,omitempty"`
	BitcoinTip     int32   `json:"bitcoinTip,omitempty"`
	TxHash         string  `json:"txHash,omitempty"`
	TxStatus       *uint64 `json:"txStatus,omitempty"`
	L2Block        uint64  `json:"l2Block,omitempty"`
	L2BlockHash    string  `json:"l2BlockHash,omitempty"`
	KeystoneNumber uint64  `json:"keystoneNumber,omitempty"`
	KeystoneID     string  `json:"keystoneId,omitempty"`
	PoPTxid        string  `json:"popTxid,omitempty"`
	PoPHeight      int32   `json:"popHeight,omitempty"`
	KeystoneConfs  uint32  `json:"keystoneConfirmations,omitempty"`
	WorkAbovePoP   string  `json:"workAbovePoP,omitempty"`
	Deposit        string  `json:"deposit,omitempty"`
	DepositSat     int64   `json:"depositSat,omitempty"`
	DepositHeight  int32   `json:"depositHeight,omitempty"`
	DepositConfs   uint32  `json:"depositConfirmations,omitempty"`
	Recipient      string  `json:"recipient,omitempty"`
	StillHolds     *bool   `json:"stillHolds,omitempty"`
}

// Proved is one checked link.
type Proved struct {
	Link string `json:"link"`
	What string `json:"what"`
}

// failure is a failed link with its error.
type failure struct {
	link string
	err  error
}

func (f *failure) Error() string { return f.link + ": " + f.err.Error() }
func (f *failure) Unwrap() error { return f.err }

func fail(link string, err error) error { return &failure{link, err} }

func failf(link string, sentinel error, format string, args ...any) error {
	return &failure{link, fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))}
}

// VerifyJSON parses and verifies a bundle document.
func VerifyJSON(data []byte, opts Options) *Result {
	b, err := ParseBundle(data)
	if err != nil {
		return failed(&Result{}, LinkBundle, err)
	}
	return Verify(b, opts)
}

func failed(r *Result, link string, err error) *Result {
	r.OK, r.FailedLink, r.Error = false, link, err.Error()
	if r.Proved == nil {
		r.Proved = []Proved{}
	}
	return r
}

// Verify checks the bundle against opts and says what it proved or which
// link failed. It never trusts the bundle: the identity and checkpoint
// come from opts or the pins.
func Verify(b *Bundle, opts Options) *Result {
	v := &verifier{b: b, opts: opts, r: &Result{Kind: b.Kind, Proved: []Proved{}}}
	if err := v.run(); err != nil {
		var f *failure
		if errors.As(err, &f) {
			return failed(v.r, f.link, f.err)
		}
		return failed(v.r, LinkBundle, err)
	}
	v.r.OK = true
	return v.r
}

type verifier struct {
	b    *Bundle
	opts Options
	r    *Result
	id   *Identity
	cp   *Checkpoint
	btc  *chain
	ks   *keystone
	kh   *l2Header
	pop  struct {
		txid   chainhash.Hash
		height int32
	}
}

func (v *verifier) proved(link, format string, args ...any) {
	v.r.Proved = append(v.r.Proved, Proved{link, fmt.Sprintf(format, args...)})
}

func (v *verifier) run() error {
	if err := v.identity(); err != nil {
		return err
	}
	if err := v.bitcoin(); err != nil {
		return err
	}
	if err := v.keystone(); err != nil {
		return err
	}
	switch v.b.Kind {
	case KindTx:
		if err := v.tx(); err != nil {
			return err
		}
	case KindDeposit:
		if err := v.deposit(); err != nil {
			return err
		}
	}
	if err := v.policy(); err != nil {
		return err
	}
	v.statement()
	return v.reorg()
}

func (v *verifier) identity() error {
	id := v.opts.Identity
	if id == nil {
		id = Identities[v.b.ChainID]
		if id == nil {
			return failf(LinkIdentity, ErrIdentity, "the bundle claims chain id %d, which this verifier does not pin; give the network's genesis file with --genesis", v.b.ChainID)
		}
	}
	if v.b.ChainID != id.ChainID {
		return failf(LinkIdentity, ErrIdentity, "the bundle claims chain id %d, the network %s is %d", v.b.ChainID, id.Name, id.ChainID)
	}
	if v.b.BitcoinNetwork != id.BitcoinNetwork {
		return failf(LinkIdentity, ErrIdentity, "the bundle claims Bitcoin network %q, %s anchors to %q", v.b.BitcoinNetwork, id.Name, id.BitcoinNetwork)
	}
	if _, ok := Networks[id.BitcoinNetwork]; !ok {
		return failf(LinkIdentity, ErrIdentity, "Bitcoin network %q is not one this verifier knows", id.BitcoinNetwork)
	}
	v.id = id
	v.r.Network, v.r.ChainID = id.Name, id.ChainID
	src := "pinned in the verifier"
	if v.opts.Identity != nil {
		src = "from your genesis file"
	}
	v.proved(LinkIdentity, "L2 network %s (chain id %d, %d sequencer(s), on Bitcoin %s), %s", id.Name, id.ChainID, len(id.Sequencers), id.BitcoinNetwork, src)
	return nil
}

func (v *verifier) bitcoin() error {
	var given []Checkpoint
	for _, s := range v.opts.Checkpoints {
		cp, err := ParseCheckpoint(v.id.BitcoinNetwork, s)
		if err != nil {
			return fail(LinkCheckpoint, err)
		}
		given = append(given, cp)
	}
	cp, err := pinnedCheckpoint(v.id.BitcoinNetwork, v.b.Bitcoin.Checkpoint, given)
	if err != nil {
		return fail(LinkCheckpoint, err)
	}
	v.cp = cp
	v.r.Checkpoint = fmt.Sprintf("%d:%v", cp.Height, cp.Hash)
	v.proved(LinkCheckpoint, "Bitcoin %s checkpoint %d %v (%s)", cp.Network, cp.Height, cp.Hash, cp.Source)
	raw := make([][]byte, len(v.b.Bitcoin.Headers))
	for i, h := range v.b.Bitcoin.Headers {
		raw[i] = h
	}
	if len(raw) == 0 {
		return failf(LinkBitcoin, ErrHeaders, "the bundle has no Bitcoin headers")
	}
	c, err := checkHeaders(cp, v.b.Bitcoin.Anchor, Networks[v.id.BitcoinNetwork], raw, v.opts.Now)
	if errors.Is(err, ErrCheckpoint) {
		return fail(LinkCheckpoint, err)
	}
	if err != nil {
		return fail(LinkBitcoin, err)
	}
	v.btc = c
	v.r.BitcoinTip = c.tip.height
	v.proved(LinkBitcoin, "%d Bitcoin headers from %d to %d link by hash, each with valid proof of work, retarget and median time past; %s work on top of the checkpoint", len(raw), cp.Height+1, c.tip.height, c.tip.work)
	return nil
}

// keystone checks the PoP transaction and that its keystone is the
// keystone block's header.
func (v *verifier) keystone() error {
	p := &v.b.PoP
	tx, txid, err := v.btc.txInBlock("PoP transaction", &p.TxInBlock)
	if err != nil {
		return fail(LinkPoPTx, err)
	}
	if int(p.Vout) >= len(tx.TxOut) {
		return failf(LinkPoPTx, ErrKeystone, "output %d of PoP transaction %v does not exist", p.Vout, txid)
	}
	ks, err := parsePoPScript(tx.TxOut[p.Vout].PkScript)
	if err != nil {
		return failf(LinkPoPTx, ErrKeystone, "output %d of %v: %v", p.Vout, txid, err)
	}
	v.pop.txid, v.pop.height, v.ks = txid, p.Height, ks
	v.r.PoPTxid, v.r.PoPHeight = txid.String(), p.Height
	id := ks.id()
	v.proved(LinkPoPTx, "PoP transaction %v is at position %d of Bitcoin block %d (merkle branch and the coinbase's, both of depth %d) and publishes keystone %x in output %d", txid, p.Index, p.Height, len(p.Branch), id, p.Vout)

	kh, err := decodeHeader(v.b.Keystone.Header, v.id)
	if err != nil {
		return failf(LinkKeystone, ErrKeystone, "keystone block header: %v", err)
	}
	n := kh.h.Number.Uint64()
	switch {
	case n != uint64(ks.number):
		return failf(LinkKeystone, ErrKeystone, "the published keystone is of L2 block %d, the header is block %d", ks.number, n)
	case v.id.KeystoneInterval == 0 || n == 0 || n%v.id.KeystoneInterval != 0:
		return failf(LinkKeystone, ErrKeystone, "block %d is not a keystone of %s (interval %d)", n, v.id.Name, v.id.KeystoneInterval)
	case [12]byte(kh.hash[:12]) != ks.blockPrefix:
		return failf(LinkKeystone, ErrKeystone, "the published keystone names a block hash starting %x, the header's hash is %v (a keystone of another chain?)", ks.blockPrefix, kh.hash)
	case common.Hash(ks.stateRoot) != kh.h.Root:
		return failf(LinkKeystone, ErrKeystone, "the published state root %x is not the header's %v", ks.stateRoot, kh.h.Root)
	case [11]byte(kh.h.ParentHash[:11]) != ks.parentPrefix:
		return failf(LinkKeystone, ErrKeystone, "the published parent prefix %x is not the header's parent %v", ks.parentPrefix, kh.h.ParentHash)
	case kh.viewHeight != ks.viewHeight:
		return failf(LinkKeystone, ErrKeystone, "the published Bitcoin view height %d is not the header's %d", ks.viewHeight, kh.viewHeight)
	}
	v.kh = kh
	v.r.KeystoneNumber, v.r.KeystoneID = n, common.Hash(id).Hex()
	v.proved(LinkKeystone, "keystone %x is L2 block %d %v, sealed by sequencer %v, state root %v", id, n, kh.hash, kh.signer, kh.h.Root)
	return nil
}

// l2Link checks that block bh is block kh or an ancestor of it.
func (v *verifier) l2Link(what string, bh *l2Header, l *Link) error {
	kh := v.kh
	bn, kn := bh.h.Number.Uint64(), kh.h.Number.Uint64()
	if bn > kn {
		return failf(LinkL2, ErrLink, "%s block %d is after the keystone block %d: the keystone does not cover it", what, bn, kn)
	}
	switch l.Kind {
	case LinkSame:
		if bh.hash != kh.hash {
			return failf(LinkL2, ErrLink, "%s block %v is not the keystone block %v", what, bh.hash, kh.hash)
		}
		v.proved(LinkL2, "the %s block is the keystone block", what)
	case LinkHeaders:
		if uint64(len(l.Headers)) != kn-bn-1 {
			return failf(LinkL2, ErrLink, "%d linking headers, blocks %d to %d need %d", len(l.Headers), bn+1, kn-1, kn-bn-1)
		}
		prev := bh
		for i, raw := range l.Headers {
			h, err := decodeHeader(raw, nil)
			if err != nil {
				return failf(LinkL2, ErrLink, "linking header %d: %v", i, err)
			}
			if h.h.ParentHash != prev.hash || h.h.Number.Uint64() != prev.h.Number.Uint64()+1 {
				return failf(LinkL2, ErrLink, "linking header %d (block %d) is not the child of block %d %v", i, h.h.Number, prev.h.Number, prev.hash)
			}
			prev = h
		}
		if kh.h.ParentHash != prev.hash {
			return failf(LinkL2, ErrLink, "the keystone block's parent %v is not block %d %v", kh.h.ParentHash, prev.h.Number, prev.hash)
		}
		v.proved(LinkL2, "%d L2 headers chain the %s block %d to the keystone block %d by parent hash", len(l.Headers), what, bn, kn)
	case LinkHistory:
		if bn == kn || kn-bn > historyWindow {
			return failf(LinkL2, ErrLink, "an EIP-2935 proof links blocks 1 to %d below the keystone, block %d is %d below", historyWindow, bn, kn-bn)
		}
		got, err := proveStorage(kh.h.Root, historyAddress, l.AccountProof, historySlot(bn), l.StorageProof)
		if err != nil {
			return fail(LinkL2, fmt.Errorf("%w: EIP-2935 history of block %d: %w", ErrLink, bn, err))
		}
		if got != bh.hash {
			return failf(LinkL2, ErrLink, "the keystone's EIP-2935 history holds %v for block %d, the %s block is %v", got, bn, what, bh.hash)
		}
		v.proved(LinkL2, "the keystone block's state (EIP-2935 history storage, slot %d) holds the hash of the %s block %d", bn%historyWindow, what, bn)
	default:
		return failf(LinkL2, ErrLink, "unknown link kind %q", l.Kind)
	}
	return nil
}

// l2Tx checks a transaction proof: its block (sealed) linked to the
// keystone, the transaction and its receipt in the block's tries. It
// returns the block header, the transaction's encoding and the receipt.
func (v *verifier) l2Tx(what string, t *TxProof) (*l2Header, []byte, *receipt, error) {
	bh, err := decodeHeader(t.Header, nil)
	if err != nil {
		return nil, nil, nil, failf(LinkL2, ErrLink, "%s block header: %v", what, err)
	}
	if err := v.l2Link(what, bh, &t.Link); err != nil {
		return nil, nil, nil, err
	}
	key, _ := rlp.EncodeToBytes(t.Index) // a uint64 always encodes
	enc, err := proveValue(bh.h.TxHash, key, t.TxProof)
	if err != nil {
		return nil, nil, nil, fail(LinkTx, fmt.Errorf("%s %d of block %d against its transactions root: %w", what, t.Index, bh.h.Number, err))
	}
	if got := crypto.Keccak256Hash(enc); got != t.Hash {
		return nil, nil, nil, failf(LinkTx, ErrProof, "position %d of block %d holds transaction %v, not %v", t.Index, bh.h.Number, got, t.Hash)
	}
	if enc[0] != systemTxType {
		var tx types.Transaction
		if err := tx.UnmarshalBinary(enc); err != nil {
			return nil, nil, nil, failf(LinkTx, ErrProof, "transaction %v does not decode: %v", t.Hash, err)
		}
		if tx.Protected() && tx.ChainId().Cmp(new(big.Int).SetUint64(v.id.ChainID)) != 0 {
			return nil, nil, nil, failf(LinkTx, ErrIdentity, "transaction %v is signed for chain id %v, not %d", t.Hash, tx.ChainId(), v.id.ChainID)
		}
	}
	renc, err := proveValue(bh.h.ReceiptHash, key, t.ReceiptProof)
	if err != nil {
		return nil, nil, nil, fail(LinkReceipt, fmt.Errorf("receipt %d of block %d against its receipts root: %w", t.Index, bh.h.Number, err))
	}
	rc, err := decodeReceipt(renc)
	if err != nil {
		return nil, nil, nil, failf(LinkReceipt, ErrProof, "%v", err)
	}
	if rc.Type != typeOf(enc) {
		return nil, nil, nil, failf(LinkReceipt, ErrProof, "receipt type %d for a transaction of type %d", rc.Type, typeOf(enc))
	}
	return bh, enc, rc, nil
}

func typeOf(enc []byte) byte {
	if len(enc) > 0 && enc[0] < 0x80 {
		return enc[0]
	}
	return 0
}

func (v *verifier) tx() error {
	t := v.b.Tx
	bh, _, rc, err := v.l2Tx("transaction", t)
	if err != nil {
		return err
	}
	st := rc.Status
	v.r.TxHash, v.r.TxStatus = t.Hash.Hex(), &st
	v.r.L2Block, v.r.L2BlockHash = bh.h.Number.Uint64(), bh.hash.Hex()
	v.proved(LinkTx, "transaction %v is at position %d of L2 block %d %v, proved against its transactions root", t.Hash, t.Index, bh.h.Number, bh.hash)
	v.proved(LinkReceipt, "its receipt (status %s, %d logs) is proved against the block's receipts root", statusWord(st), len(rc.Logs))
	return nil
}

func statusWord(s uint64) string {
	if s == 1 {
		return "success"
	}
	return "failed"
}

func (v *verifier) policy() error {
	minK := v.opts.MinKeystoneConfs
	if minK == 0 {
		minK = v.id.SuperfinalDepth
	}
	kc := v.btc.confirmations(v.pop.height)
	v.r.KeystoneConfs = kc
	v.r.WorkAbovePoP = v.btc.workFrom(v.pop.height).String()
	if kc < minK {
		return failf(LinkConfirmations, ErrPolicy, "the keystone's publication has %d Bitcoin confirmations, the policy asks for %d", kc, minK)
	}
	what := fmt.Sprintf("the keystone's publication has %d confirmations (policy %d)", kc, minK)
	if v.b.Kind == KindDeposit {
		minD := v.opts.MinDepositConfs
		if minD == 0 {
			minD = v.id.Tunnel.DepositConfirmations
		}
		dc := v.btc.confirmations(v.b.Deposit.Bitcoin.Height)
		v.r.DepositConfs = dc
		if dc < minD {
			return failf(LinkConfirmations, ErrPolicy, "the deposit has %d Bitcoin confirmations, the policy asks for %d", dc, minD)
		}
		what += fmt.Sprintf(", the deposit %d (policy %d)", dc, minD)
	}
	v.proved(LinkConfirmations, "%s", what)
	return nil
}

func (v *verifier) statement() {
	r := v.r
	cp := fmt.Sprintf("checkpoint %d %v", v.cp.Height, v.cp.Hash)
	anchor := fmt.Sprintf("anchored by keystone %d (%s) published in Bitcoin transaction %s at height %d with %d confirmations, %s work on top of it since %s",
		r.KeystoneNumber, short(r.KeystoneID), r.PoPTxid, r.PoPHeight, r.KeystoneConfs, r.WorkAbovePoP, cp)
	switch v.b.Kind {
	case KindTx:
		r.Statement = fmt.Sprintf("L2 transaction %s (%s) is in %s block %d %s, %s.", r.TxHash, statusWord(*r.TxStatus), r.Network, r.L2Block, r.L2BlockHash, anchor)
	case KindDeposit:
		r.Statement = fmt.Sprintf("deposit %s, %s BTC, %d confirmations, minted to %s in %s block %d, %s.",
			r.Deposit, btcAmount(r.DepositSat), r.DepositConfs, r.Recipient, r.Network, r.L2Block, anchor)
	}
	if note, ok := NoSecurity[v.id.BitcoinNetwork]; ok {
		r.Notes = append(r.Notes, note)
	}
}

func short(h string) string {
	if len(h) > 18 {
		return h[:18] + "…"
	}
	return h
}

func btcAmount(sat int64) string {
	return fmt.Sprintf("%d.%08d", sat/1e8, sat%1e8)
}

// reorg checks the bundle against current headers (--headers): the
// blocks it relies on must still be on the chain those headers form,
// with the policy's confirmations.
func (v *verifier) reorg() error {
	if len(v.opts.Headers) == 0 {
		return nil
	}
	hold := false
	v.r.StillHolds = &hold
	first := v.opts.Headers[0]
	if len(first) != wire.MaxBlockHeaderPayload {
		return failf(LinkReorg, ErrHeaders, "the first current header is %d bytes, want 80", len(first))
	}
	var h wire.BlockHeader
	_ = h.Deserialize(bytesReader(first)) // 80 bytes always decode
	var from *hnode
	for _, n := range v.btc.byHeight {
		if n.hash == h.PrevBlock {
			from = n
		}
	}
	if from == nil {
		return failf(LinkReorg, ErrHeaders, "the current headers start on block %v, which is not in the bundle's run: give headers that fork from (or continue) it", h.PrevBlock)
	}
	cur, err := v.btc.extend(from, v.opts.Headers, Networks[v.id.BitcoinNetwork], v.opts.Now)
	if err != nil {
		return fail(LinkReorg, err)
	}
	if cur.tip.work.Cmp(v.btc.tip.work) < 0 {
		return failf(LinkReorg, ErrHeaders, "the current headers (tip %d) have less work than the bundle's run (tip %d): they are not the best chain", cur.tip.height, v.btc.tip.height)
	}
	check := func(what string, height int32, hash chainhash.Hash, min uint32) error {
		n, _, ok := cur.at(height)
		if !ok || n.hash != hash {
			return failf(LinkReorg, ErrReorg, "the %s's Bitcoin block %d %v is no longer on the best chain (tip %d): the bundle no longer holds", what, height, hash, cur.tip.height)
		}
		if c := cur.confirmations(height); c < min {
			return failf(LinkReorg, ErrReorg, "the %s now has %d confirmations, the policy asks for %d", what, c, min)
		}
		return nil
	}
	popNode, _, _ := v.btc.at(v.pop.height)
	minK := v.opts.MinKeystoneConfs
	if minK == 0 {
		minK = v.id.SuperfinalDepth
	}
	if err := check("keystone publication", v.pop.height, popNode.hash, minK); err != nil {
		return err
	}
	if v.b.Kind == KindDeposit {
		dn, _, _ := v.btc.at(v.b.Deposit.Bitcoin.Height)
		minD := v.opts.MinDepositConfs
		if minD == 0 {
			minD = v.id.Tunnel.DepositConfirmations
		}
		if err := check("deposit", v.b.Deposit.Bitcoin.Height, dn.hash, minD); err != nil {
			return err
		}
	}
	hold = true
	v.r.Notes = append(v.r.Notes, fmt.Sprintf("given current headers to height %d, the bundle still holds: its Bitcoin blocks are on the best chain, the keystone publication has %d confirmations", cur.tip.height, cur.confirmations(v.pop.height)))
	v.proved(LinkReorg, "the current headers (tip %d) keep every Bitcoin block the bundle relies on", cur.tip.height)
	return nil
}

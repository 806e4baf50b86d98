package verify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
)

// Version is the only bundle format this package reads and the node
// writes.
const Version = 1

// MaxBundleSize bounds a bundle: a run of 100,000 Bitcoin headers (about
// two years of mainnet from a checkpoint) in hex fits, and nothing larger
// is parsed.
const MaxBundleSize = 32 << 20

// Kinds of bundle.
const (
	// KindTx proves an L2 transaction: its block, receipt and anchoring.
	KindTx = "tx"
	// KindDeposit proves a Bitcoin deposit to the tunnel vault and its mint.
	KindDeposit = "deposit"
)

// Kinds of L2 link from the transaction's block to the keystone block.
const (
	// LinkSame: the transaction's block is the keystone block itself.
	LinkSame = "same"
	// LinkHeaders: the L2 headers after the transaction's block up to
	// the keystone block's parent, each the next's parent.
	LinkHeaders = "headers"
	// LinkHistory: an EIP-2935 history-storage proof against the keystone
	// block's state root: the account proof of the history contract and
	// the storage proof of slot (number % 8191) holding the block's hash.
	LinkHistory = "history"
)

// Bundle is a provenance bundle, format Version (DESIGN 8), as the node
// writes it (internal/provenance) and bundle.schema.json documents it.
// Every field is evidence to check, never trust: the checkpoint it names
// must be one the verifier pins (or the user gives), the L2 identity is
// the verifier's own, and the claims (ChainID, BitcoinNetwork) only say
// which pins to use.
type Bundle struct {
	Version int    `json:"version"`
	Kind    string `json:"kind"`
	// ChainID and BitcoinNetwork name the network the bundle claims; the
	// verifier compares them with its pins, it never adopts them.
	ChainID        uint64        `json:"chainId"`
	BitcoinNetwork string        `json:"bitcoinNetwork"`
	Bitcoin        HeaderRun     `json:"bitcoin"`
	PoP            PoPProof      `json:"pop"`
	Keystone       KeystoneProof `json:"keystone"`
	Tx             *TxProof      `json:"tx,omitempty"`
	Deposit        *DepositProof `json:"deposit,omitempty"`
}

// BlockRef names a Bitcoin block by height and hash (display byte order,
// as explorers print it).
type BlockRef struct {
	Height int32  `json:"height"`
	Hash   string `json:"hash"`
}

// HeaderRun is the Bitcoin headers from a checkpoint to the newest
// confirmation. Headers[0]'s parent is the checkpoint block.
type HeaderRun struct {
	// Checkpoint names which pinned checkpoint the run starts from.
	Checkpoint BlockRef `json:"checkpoint"`
	// Anchor is the checkpoint's own header, after the up to 11 headers
	// before it, oldest first, each the next one's parent: the last must
	// hash to the checkpoint, so the checkpoint's bits and time and the
	// timestamps median time past needs come from headers the pinned hash
	// authenticates, not from trust in the bundle.
	Anchor []hexutil.Bytes `json:"anchor"`
	// Headers are 80-byte serialized headers, heights Checkpoint.Height+1
	// onward, each the next one's parent.
	Headers []hexutil.Bytes `json:"headers"`
}

// TxInBlock is a Bitcoin transaction and its place in a block of the run.
type TxInBlock struct {
	// Tx is the transaction's non-witness serialization (its txid is the
	// double SHA-256 of exactly these bytes).
	Tx hexutil.Bytes `json:"tx"`
	// Height is the height of the block holding it, in the run.
	Height int32 `json:"height"`
	// Index is the transaction's position in the block.
	Index uint32 `json:"index"`
	// Branch is the merkle branch, sibling hashes from the leaf up, in
	// internal (wire) byte order.
	Branch []hexutil.Bytes `json:"branch"`
	// Coinbase is the block's coinbase transaction (non-witness) and
	// CoinbaseBranch its branch: a real transaction at index 0 whose
	// branch has the same length as Branch proves the tree's depth, so
	// an inner node cannot pass as a 64-byte transaction.
	Coinbase       hexutil.Bytes   `json:"coinbase"`
	CoinbaseBranch []hexutil.Bytes `json:"coinbaseBranch"`
}

// PoPProof is the PoP transaction publishing the keystone.
type PoPProof struct {
	TxInBlock
	// Vout is the output carrying the keystone (DESIGN 4's 83-byte script).
	Vout uint32 `json:"vout"`
}

// KeystoneProof is the keystone block whose publication the bundle uses:
// its full header (RLP), whose hash, state root and parent the published
// 76-byte keystone commits to.
type KeystoneProof struct {
	Header hexutil.Bytes `json:"header"`
}

// TxProof proves an L2 transaction in a block linked to the keystone.
type TxProof struct {
	// Hash is the transaction hash.
	Hash common.Hash `json:"hash"`
	// Header is the RLP header of the block holding it.
	Header hexutil.Bytes `json:"header"`
	// Index is its position in the block (system transactions first).
	Index uint64 `json:"index"`
	// TxProof and ReceiptProof are Merkle-Patricia proof nodes against
	// the header's transactionsRoot and receiptsRoot, key RLP(Index).
	TxProof      []hexutil.Bytes `json:"txProof"`
	ReceiptProof []hexutil.Bytes `json:"receiptProof"`
	// Link connects the block to the keystone block.
	Link Link `json:"link"`
}

// Link connects an L2 block to the keystone block (one of the Link kinds).
type Link struct {
	Kind         string          `json:"kind"`
	Headers      []hexutil.Bytes `json:"headers,omitempty"`
	AccountProof []hexutil.Bytes `json:"accountProof,omitempty"`
	StorageProof []hexutil.Bytes `json:"storageProof,omitempty"`
}

// DepositProof proves a deposit: the Bitcoin transaction paying the
// vault, the L2 mint transaction, and the tunnel's minted[] record in the
// keystone's state (EIP-1186 proofs against its state root).
type DepositProof struct {
	Bitcoin TxInBlock `json:"bitcoin"`
	// Vout is the vault output this deposit is.
	Vout uint32 `json:"vout"`
	// Mint is the L2 system transaction that minted it.
	Mint TxProof `json:"mint"`
	// AccountProof is the tunnel predeploy's account proof; StorageProofs
	// prove the two slots of minted[key] (to and amount; L2 block).
	AccountProof  []hexutil.Bytes   `json:"accountProof"`
	StorageProofs [][]hexutil.Bytes `json:"storageProofs"`
}

// trustFields are top-level keys a bundle might use to smuggle trust in;
// they get a refusal that says where trust comes from instead of a bare
// "unknown field".
var trustFields = []string{"genesis", "checkpoints", "sequencers", "identity", "vault", "trust", "pins", "policy"}

// ErrBundle: the document is not a well-formed bundle of this version.
var ErrBundle = errors.New("verify: malformed bundle")

// ParseBundle decodes a bundle strictly: the size bound, known fields
// only (a field that would supply trust is refused by name), this
// version, and nothing after the object.
func ParseBundle(data []byte) (*Bundle, error) {
	if len(data) > MaxBundleSize {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrBundle, len(data), MaxBundleSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var b Bundle
	if err := dec.Decode(&b); err != nil {
		// One pass over the document; a field that would carry trust
		// gets a refusal saying where trust comes from.
		var top map[string]json.RawMessage
		if json.Unmarshal(data, &top) == nil {
			for _, f := range trustFields {
				if _, ok := top[f]; ok {
					return nil, fmt.Errorf("%w: the bundle supplies %q, but the verifier takes no trust from a bundle: checkpoints and the L2 identity are pinned or given with --checkpoint and --genesis", ErrUntrusted, f)
				}
			}
		}
		return nil, fmt.Errorf("%w: %v", ErrBundle, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the bundle object", ErrBundle)
	}
	if b.Version != Version {
		return nil, fmt.Errorf("%w: version %d, this verifier reads version %d", ErrBundle, b.Version, Version)
	}
	switch b.Kind {
	case KindTx:
		if b.Tx == nil || b.Deposit != nil {
			return nil, fmt.Errorf("%w: a %q bundle has \"tx\" and no \"deposit\"", ErrBundle, b.Kind)
		}
	case KindDeposit:
		if b.Deposit == nil || b.Tx != nil {
			return nil, fmt.Errorf("%w: a %q bundle has \"deposit\" and no \"tx\"", ErrBundle, b.Kind)
		}
	default:
		return nil, fmt.Errorf("%w: kind %q, want %q or %q", ErrBundle, b.Kind, KindTx, KindDeposit)
	}
	return &b, nil
}

// Marshal encodes the bundle as indented JSON (the form the node writes).
func (b *Bundle) Marshal() ([]byte, error) {
	out, err := json.MarshalIndent(b, "", " ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

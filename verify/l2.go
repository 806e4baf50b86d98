package verify

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethdb"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/trie"
)

// The L2 formats the verifier reads, restated here so that it imports no
// node package (DESIGN 8); internal/provenance's tests check each against
// the node's own code (internal/chain/block, internal/pop).
const (
	// extraVersion, extraUnsealed, sealSize: the header Extra record
	// (DESIGN 3.2): version 1 | view height u32 | view hash (32, display
	// order) | seal [R || S || V] over keccak256(RLP(header with the
	// record unsealed)).
	extraVersion  = 1
	extraUnsealed = 1 + 4 + 32
	sealSize      = 65
	// keystoneSize and the PoP script (DESIGN 4): OP_RETURN OP_PUSHDATA1
	// 0x50 "HEMI" and the 76-byte keystone.
	keystoneSize = 76
	popScriptLen = 3 + 4 + keystoneSize
	// historyWindow and historyAddress: EIP-2935's ring of block hashes
	// (go-ethereum params.HistoryServeWindow, HistoryStorageAddress).
	historyWindow = 8191
)

var historyAddress = common.HexToAddress("0x0000F90827F1C53a10cb7A02335B175320002935")

// keystone is the 76-byte abbreviated keystone (DESIGN 4).
type keystone struct {
	version      uint8
	viewHeight   uint32
	number       uint32
	parentPrefix [11]byte
	prevKeystone [12]byte
	stateRoot    [32]byte
	blockPrefix  [12]byte
	raw          [keystoneSize]byte
}

// id is the keystone id: double SHA-256 of the 76 bytes, in wire order.
func (k *keystone) id() [32]byte {
	a := sha256.Sum256(k.raw[:])
	return sha256.Sum256(a[:])
}

// parsePoPScript parses DESIGN 4's exact 83-byte PoP output script.
func parsePoPScript(s []byte) (*keystone, error) {
	if len(s) != popScriptLen || s[0] != 0x6a || s[1] != 0x4c || s[2] != 0x50 || string(s[3:7]) != "HEMI" {
		return nil, errors.New("the output is not a PoP publication (OP_RETURN OP_PUSHDATA1 0x50 \"HEMI\" + 76 bytes)")
	}
	b := s[7:]
	k := &keystone{version: b[0], viewHeight: binary.BigEndian.Uint32(b[1:5]), number: binary.BigEndian.Uint32(b[5:9])}
	if k.version != 1 {
		return nil, fmt.Errorf("keystone version %d, want 1", k.version)
	}
	copy(k.parentPrefix[:], b[9:20])
	copy(k.prevKeystone[:], b[20:32])
	copy(k.stateRoot[:], b[32:64])
	copy(k.blockPrefix[:], b[64:76])
	copy(k.raw[:], b)
	return k, nil
}

// l2Header is a decoded, seal-checked L2 header.
type l2Header struct {
	h          *types.Header
	hash       common.Hash
	viewHeight uint32
	viewHash   chainhash.Hash
	signer     common.Address
}

// decodeHeader decodes an RLP header exactly and its Extra record. With
// id, it recovers the sealer, which must be a sequencer of id: the
// keystone block's header is checked so; the headers below it are
// committed to by its hash (parent links, EIP-2935), so their seals add
// nothing and are not recovered (a seal recovery is the costliest step
// in WebAssembly).
func decodeHeader(raw []byte, id *Identity) (*l2Header, error) {
	var h types.Header
	if err := rlp.DecodeBytes(raw, &h); err != nil {
		return nil, fmt.Errorf("header RLP: %v", err)
	}
	if enc, err := rlp.EncodeToBytes(&h); err != nil || !bytes.Equal(enc, raw) {
		return nil, errors.New("header RLP is not canonical")
	}
	e := h.Extra
	if len(e) != extraUnsealed+sealSize || e[0] != extraVersion {
		return nil, fmt.Errorf("header extra is not a sealed version-1 record (%d bytes)", len(e))
	}
	// raw is the header's canonical RLP, so its hash is keccak256(raw):
	// no second encoding (types.Header.Hash) is needed.
	out := &l2Header{h: &h, hash: crypto.Keccak256Hash(raw), viewHeight: binary.BigEndian.Uint32(e[1:5])}
	for i := range chainhash.HashSize {
		out.viewHash[i] = e[5+chainhash.HashSize-1-i]
	}
	if id == nil {
		return out, nil
	}
	sig := e[extraUnsealed:]
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:64])
	if v := sig[64]; v > 1 || !crypto.ValidateSignatureValues(v, r, s, true) {
		return nil, errors.New("seal signature values out of range")
	}
	sh, err := sealHash(raw)
	if err != nil {
		return nil, err
	}
	// Ecrecover's 65-byte key is hashed as it is: no ecdsa.PublicKey
	// (big.Int coordinates, an on-curve check with them) on the way.
	pub, err := crypto.Ecrecover(sh[:], sig)
	if err != nil {
		return nil, fmt.Errorf("seal: %v", err)
	}
	out.signer = common.BytesToAddress(crypto.Keccak256(pub[1:])[12:])
	if !id.isSequencer(out.signer) {
		return nil, fmt.Errorf("block %d %v is sealed by %v, not by a sequencer of %s", h.Number, out.hash, out.signer, id.Name)
	}
	return out, nil
}

// headerExtraField is the index of Extra among an RLP header's fields.
const headerExtraField = 12

// sealHash is the hash the seal signs: keccak256 of the header's RLP with
// the Extra record unsealed (its first extraUnsealed bytes), made from
// raw, a canonical header RLP whose Extra is a sealed record, by
// replacing that one field: what types.Header.Hash of a copy with the
// shorter Extra gives, without decoding and re-encoding every field.
func sealHash(raw []byte) (common.Hash, error) {
	fields, _, err := rlp.SplitList(raw)
	if err != nil {
		return common.Hash{}, fmt.Errorf("header RLP: %v", err)
	}
	rest := fields
	for range headerExtraField {
		if _, _, rest, err = rlp.Split(rest); err != nil {
			return common.Hash{}, fmt.Errorf("header RLP: %v", err)
		}
	}
	_, extra, after, err := rlp.Split(rest)
	if err != nil || len(extra) < extraUnsealed {
		return common.Hash{}, errors.New("header RLP: no sealed extra record")
	}
	kh := crypto.NewKeccakState()
	w := rlp.NewEncoderBuffer(kh)
	l := w.List()
	_, _ = w.Write(fields[:len(fields)-len(rest)])
	w.WriteBytes(extra[:extraUnsealed])
	_, _ = w.Write(after)
	w.ListEnd(l)
	if err := w.Flush(); err != nil {
		return common.Hash{}, err
	}
	var h common.Hash
	_, _ = kh.Read(h[:])
	return h, nil
}

// proofNodes are a proof's nodes by hash, where trie.VerifyProof looks
// them up (ethdb.KeyValueReader). A proof is a handful of nodes, so a
// list searched in order does it without what a memorydb.Database costs
// for each proof (a map, a lock, a copy of every key and node): a
// third of a transfer's allocations went to them.
type proofNodes []proofNode

type proofNode struct {
	hash common.Hash
	node []byte
}

var _ ethdb.KeyValueReader = proofNodes(nil)

func proofDB(nodes []hexBytes) proofNodes {
	out := make(proofNodes, len(nodes))
	for i, n := range nodes {
		out[i] = proofNode{crypto.Keccak256Hash(n), n}
	}
	return out
}

// Get returns the node whose hash is key (trie.VerifyProof copies what
// it decodes, so the bundle's bytes are returned as they are).
func (p proofNodes) Get(key []byte) ([]byte, error) {
	for i := range p {
		if bytes.Equal(p[i].hash[:], key) {
			return p[i].node, nil
		}
	}
	return nil, errProofNodeMissing
}

func (p proofNodes) Has(key []byte) (bool, error) {
	_, err := p.Get(key)
	return err == nil, nil
}

var errProofNodeMissing = errors.New("proof node missing")

// ErrProof: a Merkle-Patricia proof does not prove what it should.
var ErrProof = errors.New("verify: trie proof")

// proveValue verifies a proof of key against root and returns the value
// (which must exist).
func proveValue(root common.Hash, key []byte, nodes []hexBytes) ([]byte, error) {
	if len(nodes) == 0 {
		return nil, fmt.Errorf("%w: no proof nodes", ErrProof)
	}
	v, err := trie.VerifyProof(root, key, proofDB(nodes))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProof, err)
	}
	if len(v) == 0 {
		return nil, fmt.Errorf("%w: the key is absent", ErrProof)
	}
	return v, nil
}

// account is the state trie's account record.
type account struct {
	Nonce    uint64
	Balance  *big.Int
	Root     common.Hash
	CodeHash []byte
}

// proveStorage verifies an account proof against stateRoot and a storage
// proof of slot against the account's storage root, returning the slot's
// value (zero when the proof proves absence of the slot).
func proveStorage(stateRoot common.Hash, addr common.Address, accountProof []hexBytes, slot common.Hash, storageProof []hexBytes) (common.Hash, error) {
	acc, err := proveAccount(stateRoot, addr, accountProof)
	if err != nil {
		return common.Hash{}, err
	}
	return proveSlot(acc, addr, slot, storageProof)
}

// proveAccount verifies an account proof against stateRoot and returns
// the account, whose storage root the slots of proveSlot are proved
// against (once for all of them).
func proveAccount(stateRoot common.Hash, addr common.Address, accountProof []hexBytes) (*account, error) {
	raw, err := proveValue(stateRoot, crypto.Keccak256(addr[:]), accountProof)
	if err != nil {
		return nil, fmt.Errorf("account %v: %w", addr, err)
	}
	var acc account
	if err := rlp.DecodeBytes(raw, &acc); err != nil {
		return nil, fmt.Errorf("%w: account %v: %v", ErrProof, addr, err)
	}
	return &acc, nil
}

// proveSlot verifies a storage proof of slot against the storage root of
// acc (account addr, proved by proveAccount) and returns the slot's
// value (zero when the proof proves the slot absent).
func proveSlot(acc *account, addr common.Address, slot common.Hash, storageProof []hexBytes) (common.Hash, error) {
	if len(storageProof) == 0 {
		return common.Hash{}, fmt.Errorf("%w: no storage proof of slot %v", ErrProof, slot)
	}
	v, err := trie.VerifyProof(acc.Root, crypto.Keccak256(slot[:]), proofDB(storageProof))
	if err != nil {
		return common.Hash{}, fmt.Errorf("%w: slot %v of %v: %v", ErrProof, slot, addr, err)
	}
	if len(v) == 0 {
		return common.Hash{}, nil
	}
	var content []byte
	if err := rlp.DecodeBytes(v, &content); err != nil || len(content) > 32 {
		return common.Hash{}, fmt.Errorf("%w: slot %v of %v holds a malformed value", ErrProof, slot, addr)
	}
	return common.BytesToHash(content), nil
}

// historySlot is EIP-2935's storage slot of block number.
func historySlot(number uint64) common.Hash {
	return common.BigToHash(new(big.Int).SetUint64(number % historyWindow))
}

// receipt is the part of a receipt's consensus encoding the verifier
// reads: the status (post-Byzantium) and the logs.
type receipt struct {
	Type   byte
	Status uint64
	Logs   []*types.Log
}

// systemTxType is the L2 system transaction's type (DESIGN 3.3).
const systemTxType = 0x7E

// decodeReceipt decodes a receipt's consensus encoding: legacy RLP or
// type || RLP([status, cumulativeGas, bloom, logs]) (system receipts are
// the generic typed form, internal/chain/block).
func decodeReceipt(b []byte) (*receipt, error) {
	if len(b) == 0 {
		return nil, errors.New("empty receipt")
	}
	out := &receipt{}
	if b[0] < 0x80 {
		out.Type = b[0]
		b = b[1:]
	}
	var dec struct {
		PostStateOrStatus []byte
		CumulativeGasUsed uint64
		Bloom             types.Bloom
		Logs              []*types.Log
	}
	if err := rlp.DecodeBytes(b, &dec); err != nil {
		return nil, fmt.Errorf("receipt: %v", err)
	}
	switch {
	case bytes.Equal(dec.PostStateOrStatus, []byte{1}):
		out.Status = 1
	case len(dec.PostStateOrStatus) == 0:
		out.Status = 0
	default:
		return nil, fmt.Errorf("receipt status %x", dec.PostStateOrStatus)
	}
	out.Logs = dec.Logs
	return out, nil
}

// sourceHash is a system transaction's source hash (internal/chain/block
// SourceHash, OP's construction): keccak256(uint256(domain) ||
// keccak256(hash || uint256(index))).
func sourceHash(domain uint64, hash [32]byte, index uint64) common.Hash {
	var inner [64]byte
	copy(inner[:32], hash[:])
	new(big.Int).SetUint64(index).FillBytes(inner[32:])
	ih := crypto.Keccak256(inner[:])
	var outer [64]byte
	new(big.Int).SetUint64(domain).FillBytes(outer[:32])
	copy(outer[32:], ih)
	return crypto.Keccak256Hash(outer[:])
}

// DepositSourceHash is the source hash of the system transaction that
// credits deposit txid:vout (txid in wire order).
func DepositSourceHash(txid [32]byte, vout uint32) common.Hash {
	return sourceHash(domainTunnelDeposit, txid, uint64(vout))
}

// domainTunnelDeposit is the source-hash domain of deposit system
// transactions (internal/chain/block DomainTunnelDeposit).
const domainTunnelDeposit = 0x101

// systemTx is the decoded envelope of a type 0x7E transaction.
type systemTx struct {
	SourceHash common.Hash
	From       common.Address
	To         []byte
	Mint       []byte
	Value      *big.Int
	Gas        uint64
	IsSystemTx bool
	Data       []byte
}

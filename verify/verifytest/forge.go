package verifytest

import (
	"bytes"
	"crypto/ecdsa"
	"encoding/binary"
	"fmt"
	"math/big"
	"time"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/trie"
	"github.com/ethereum/go-ethereum/triedb"

	"github.com/hemi-go/hemi/verify"
)

// Spec says what to build. The zero value of each field is the normal,
// valid choice.
type Spec struct {
	// Kind is verify.KindTx or verify.KindDeposit.
	Kind string
	// DepositConfs is the deposit's confirmations at the tip (default 6
	// + KeystoneConfs + 1, so the deposit predates the publication).
	// KeystoneConfs is the publication's (default 10).
	DepositConfs  int
	KeystoneConfs int
	// Distance is the keystone block's number minus the transaction's
	// block number (default 3); Interval is the keystone interval
	// (default 4, raised to fit Distance).
	Distance uint64
	Interval uint64
	// SameBlock puts the transaction in the keystone block itself.
	SameBlock bool
	// HeaderLinkMax: a larger distance is linked by an EIP-2935 proof.
	HeaderLinkMax uint64
	// FillerAccounts are extra accounts in the keystone's state, so its
	// proofs are as deep as a busy chain's.
	FillerAccounts int
	// VaultScript, when set, is the script the deposit pays instead of
	// the vault.
	VaultScript []byte
	// KeystoneKey, when set, seals the keystone block (another chain's
	// sequencer).
	KeystoneKey *ecdsa.PrivateKey
	// DepositSat is the deposit amount (default 100 BTC).
	DepositSat int64
}

// Forged is a built bundle with what the verifier needs to check it.
type Forged struct {
	Bundle   *verify.Bundle
	Identity *verify.Identity
	// Headers are the run's raw headers (80 bytes each), from height 1.
	Headers [][]byte
	// PoPHeight and DepositHeight are the heights of those blocks.
	PoPHeight, DepositHeight int32

	params  *chaincfg.Params
	blocks  []*wire.MsgBlock // height i+1
	seqKey  *ecdsa.PrivateKey
	nowTime time.Time
}

// SequencerKey is the forged network's seal key (deterministic).
func SequencerKey() *ecdsa.PrivateKey { return keyOf("verifytest sequencer") }

func keyOf(seed string) *ecdsa.PrivateKey {
	k, err := crypto.ToECDSA(crypto.Keccak256([]byte(seed)))
	if err != nil {
		panic(err) // a keccak output is a valid key (these seeds are)
	}
	return k
}

func xonly(seed string) [32]byte {
	k := keyOf(seed)
	var out [32]byte
	k.PublicKey.X.FillBytes(out[:])
	return out
}

// TunnelAddress is the forged network's tunnel predeploy.
var TunnelAddress = common.HexToAddress("0x48656d6900000000000000000000000000000002")

// Identity is the forged network: chain id 99, regtest, one sequencer,
// a 2-of-3 committee and 1-of-2 recovery set.
func Identity(interval uint64) *verify.Identity {
	return &verify.Identity{
		Name: "forged", ChainID: 99, BitcoinNetwork: "regtest",
		Sequencers:       []common.Address{crypto.PubkeyToAddress(SequencerKey().PublicKey)},
		KeystoneInterval: interval, SuperfinalDepth: 10,
		Tunnel: &verify.Tunnel{
			Signers: [][32]byte{xonly("signer 1"), xonly("signer 2"), xonly("signer 3")}, K: 2,
			Recovery: [][32]byte{xonly("recovery 1"), xonly("recovery 2")}, M: 1, RecoveryDelay: 144,
			DepositConfirmations: 6, MinDepositSat: 10_000, TunnelAddress: TunnelAddress,
		},
	}
}

// Recipient is the deposit's L2 recipient.
var Recipient = common.HexToAddress("0x00000000000000000000000000000000000d0d05")

// Build builds a bundle as spec says.
func Build(spec Spec) (*Forged, error) {
	if spec.Kind == "" {
		spec.Kind = verify.KindTx
	}
	if spec.KeystoneConfs == 0 {
		spec.KeystoneConfs = 10
	}
	if spec.DepositConfs == 0 {
		spec.DepositConfs = spec.KeystoneConfs + 7
	}
	switch {
	case spec.SameBlock:
		spec.Distance = 0
	case spec.Distance == 0:
		spec.Distance = 3
	}
	if spec.Interval == 0 {
		spec.Interval = 4
	}
	for spec.Interval < spec.Distance+1 {
		spec.Interval *= 2
	}
	if spec.HeaderLinkMax == 0 {
		spec.HeaderLinkMax = 8
	}
	if spec.DepositSat == 0 {
		spec.DepositSat = 100 * 100_000_000
	}
	f := &Forged{params: &chaincfg.RegressionNetParams, seqKey: SequencerKey(), Identity: Identity(spec.Interval)}
	return f, f.build(spec)
}

// ---- Bitcoin ----

// btcChain is the regtest chain under construction.
type btcChain struct {
	params *chaincfg.Params
	tip    chainhash.Hash
	time   time.Time
	height int32
	blocks []*wire.MsgBlock
}

func newBTC(params *chaincfg.Params) *btcChain {
	g := params.GenesisBlock.Header
	return &btcChain{params: params, tip: *params.GenesisHash, time: g.Timestamp}
}

// mine appends a block holding a coinbase and txs, with real regtest
// proof of work.
func (c *btcChain) mine(txs ...*wire.MsgTx) *wire.MsgBlock {
	c.height++
	c.time = c.time.Add(10 * time.Minute)
	cb := wire.NewMsgTx(1)
	script, _ := txscript.NewScriptBuilder().AddInt64(int64(c.height)).AddInt64(0x5ca1ab1e).Script()
	cb.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Index: 0xffffffff}, SignatureScript: script, Sequence: 0xffffffff})
	cb.AddTxOut(&wire.TxOut{Value: 50 * 100_000_000, PkScript: []byte{txscript.OP_TRUE}})
	all := append([]*wire.MsgTx{cb}, txs...)
	ids := make([]chainhash.Hash, len(all))
	for i, tx := range all {
		ids[i] = tx.TxHash()
	}
	root := merkleRoot(ids)
	b := &wire.MsgBlock{Header: wire.BlockHeader{Version: 0x20000000, PrevBlock: c.tip, MerkleRoot: root,
		Timestamp: c.time, Bits: c.params.PowLimitBits}, Transactions: all}
	target := blockchain.CompactToBig(b.Header.Bits)
	for {
		h := b.Header.BlockHash()
		if blockchain.HashToBig(&h).Cmp(target) <= 0 {
			break
		}
		b.Header.Nonce++
	}
	c.tip = b.Header.BlockHash()
	c.blocks = append(c.blocks, b)
	return b
}

func merkleRoot(ids []chainhash.Hash) chainhash.Hash {
	level := append([]chainhash.Hash(nil), ids...)
	for len(level) > 1 {
		if len(level)%2 == 1 {
			level = append(level, level[len(level)-1])
		}
		next := make([]chainhash.Hash, len(level)/2)
		for i := range next {
			next[i] = chainhash.DoubleHashH(append(level[2*i][:], level[2*i+1][:]...))
		}
		level = next
	}
	return level[0]
}

// Branch is the merkle branch of leaf index among ids.
func Branch(ids []chainhash.Hash, index int) []hexutil.Bytes {
	level := append([]chainhash.Hash(nil), ids...)
	out := []hexutil.Bytes{}
	for len(level) > 1 {
		if len(level)%2 == 1 {
			level = append(level, level[len(level)-1])
		}
		out = append(out, append([]byte(nil), level[index^1][:]...))
		next := make([]chainhash.Hash, len(level)/2)
		for i := range next {
			next[i] = chainhash.DoubleHashH(append(level[2*i][:], level[2*i+1][:]...))
		}
		level, index = next, index/2
	}
	return out
}

func serialize(tx *wire.MsgTx) []byte {
	var buf bytes.Buffer
	_ = tx.SerializeNoWitness(&buf) // a bytes.Buffer never fails
	return buf.Bytes()
}

// txInBlock is block b's transaction index as a bundle carries it.
func txInBlock(b *wire.MsgBlock, height int32, index int) verify.TxInBlock {
	ids := make([]chainhash.Hash, len(b.Transactions))
	for i, tx := range b.Transactions {
		ids[i] = tx.TxHash()
	}
	return verify.TxInBlock{Tx: serialize(b.Transactions[index]), Height: height, Index: uint32(index), Branch: Branch(ids, index),
		Coinbase: serialize(b.Transactions[0]), CoinbaseBranch: Branch(ids, 0)}
}

// filler is an ordinary transaction so blocks hold more than the
// coinbase and the interesting transaction.
func filler(n int) *wire.MsgTx {
	tx := wire.NewMsgTx(2)
	tx.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Hash: chainhash.DoubleHashH([]byte(fmt.Sprint("filler", n)))}, Sequence: 0xfffffffd})
	tx.AddTxOut(&wire.TxOut{Value: 1000, PkScript: append([]byte{0x00, 0x14}, make([]byte, 20)...)})
	return tx
}

// Headers serializes the headers of blocks.
func Headers(blocks []*wire.MsgBlock) []hexutil.Bytes {
	out := make([]hexutil.Bytes, len(blocks))
	for i, b := range blocks {
		var buf bytes.Buffer
		_ = b.Header.Serialize(&buf)
		out[i] = buf.Bytes()
	}
	return out
}

// ---- L2 ----

// sealHeader writes the Extra record (view height, view hash) and seals h.
func sealHeader(h *types.Header, viewHeight uint32, viewHash chainhash.Hash, key *ecdsa.PrivateKey) {
	e := make([]byte, 37, 102)
	e[0] = 1
	binary.BigEndian.PutUint32(e[1:5], viewHeight)
	for i := range 32 {
		e[5+i] = viewHash[31-i]
	}
	h.Extra = e
	sh := h.Hash()
	sig, err := crypto.Sign(sh[:], key)
	if err != nil {
		panic(err) // a 32-byte hash and a valid key always sign
	}
	h.Extra = append(e, sig...)
}

// memTrie is a Merkle-Patricia trie in memory.
type memTrie struct{ t *trie.Trie }

func newTrie() *memTrie {
	return &memTrie{trie.NewEmpty(triedb.NewDatabase(rawdb.NewMemoryDatabase(), nil))}
}

func (m *memTrie) put(k, v []byte) {
	if err := m.t.Update(k, v); err != nil {
		panic(err) // an in-memory trie update does not fail
	}
}

func (m *memTrie) prove(k []byte) []hexutil.Bytes {
	var p proof
	if err := m.t.Prove(k, &p); err != nil {
		panic(err)
	}
	return p
}

type proof []hexutil.Bytes

func (p *proof) Put(_, v []byte) error { *p = append(*p, append([]byte(nil), v...)); return nil }
func (p *proof) Delete([]byte) error   { return nil }

// listTrie is a block's transactions or receipts trie (key RLP(index)).
func listTrie(items [][]byte) *memTrie {
	t := newTrie()
	for i, it := range items {
		k, _ := rlp.EncodeToBytes(uint64(i))
		t.put(k, it)
	}
	return t
}

func indexKey(i uint64) []byte {
	k, _ := rlp.EncodeToBytes(i)
	return k
}

// storage is one account's storage trie.
type storage struct {
	t *memTrie
}

func (s *storage) set(slot, value common.Hash) {
	v, _ := rlp.EncodeToBytes(bytes.TrimLeft(value[:], "\x00"))
	s.t.put(crypto.Keccak256(slot[:]), v)
}

func accountRLP(root common.Hash) []byte {
	b, _ := rlp.EncodeToBytes(&struct {
		Nonce    uint64
		Balance  *big.Int
		Root     common.Hash
		CodeHash []byte
	}{1, big.NewInt(0), root, crypto.Keccak256([]byte{0x60})})
	return b
}

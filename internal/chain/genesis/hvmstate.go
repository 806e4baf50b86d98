package genesis

import (
	_ "embed"
	"encoding/binary"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/hvm"
)

// Fixed addresses.
var (
	// SystemAddress is the sender of every system transaction, the OP
	// Stack's L1-attributes depositor. Nobody holds a key for it; only
	// consensus (derived system transactions) acts as it.
	SystemAddress = common.HexToAddress("0xDeaDDEaDDeAdDeAdDEAdDEaddeAddEAdDEAd0001")
	// HVMStateAddress is the "hVM state" predeploy (contracts/HVMState.sol),
	// in Hemi's predeploy namespace 0x48656d69... (ASCII "Hemi").
	HVMStateAddress = common.HexToAddress("0x48656d6900000000000000000000000000000001")
)

// ViewUpdateGas is the gas limit of the Bitcoin view update system
// transaction, OP's L1-attributes deposit gas. setView writes four storage
// slots: at most 4 * 22,100 + 21,000 + calldata, about 115,000.
const ViewUpdateGas = 1_000_000

// hvmStateHex is the runtime bytecode of contracts/HVMState.sol, written by
// scripts/gen-predeploys.sh (solc-js, pinned version, no metadata).
//
//go:embed bytecode/HVMState.hex
var hvmStateHex string

// HVMStateCode returns the predeploy's runtime bytecode.
func HVMStateCode() []byte {
	return common.FromHex(strings.TrimSpace(hvmStateHex))
}

// ABI selectors of HVMState (keccak256 of the signature, first 4 bytes).
var (
	SelectorSetView       = selector("setView(uint32,bytes32,uint32,bytes32,bytes32,uint32,uint32,uint32)")
	SelectorBitcoinHeight = selector("bitcoinHeight()")
	SelectorBitcoinHash   = selector("bitcoinHash()")
	SelectorHeader        = selector("header()")
	SelectorSystem        = selector("SYSTEM()")
	// SelectorNotSystem is the custom error setView reverts with.
	SelectorNotSystem = selector("NotSystem()")
)

func selector(sig string) [4]byte {
	var s [4]byte
	copy(s[:], crypto.Keccak256([]byte(sig)))
	return s
}

// HVMState storage slots (the contract's declaration order; DESIGN-level
// consensus, see contracts/HVMState.sol).
var (
	SlotHash       = common.BigToHash(big.NewInt(0)) // view block hash, display order
	SlotPrevHash   = common.BigToHash(big.NewInt(1)) // its previous block hash, display order
	SlotMerkleRoot = common.BigToHash(big.NewInt(2)) // its merkle root, display order
	// SlotPacked holds height, version, time, bits, nonce (uint32 each)
	// packed from the low-order end of the word: height in bytes 28..31,
	// version 24..27, time 20..23, bits 16..19, nonce 12..15.
	SlotPacked = common.BigToHash(big.NewInt(3))
)

func display(h chainhash.Hash) common.Hash {
	var out common.Hash
	for i := range chainhash.HashSize {
		out[i] = h[chainhash.HashSize-1-i]
	}
	return out
}

func fromDisplay(h common.Hash) chainhash.Hash {
	var out chainhash.Hash
	for i := range chainhash.HashSize {
		out[i] = h[chainhash.HashSize-1-i]
	}
	return out
}

func checkView(v hvm.Header) error {
	if v.Height < 0 {
		return fmt.Errorf("%w: height %d", ErrView, v.Height)
	}
	if t := v.Header.Timestamp.Unix(); t < 0 || t > 0xffffffff {
		return fmt.Errorf("%w: time %v outside u32", ErrView, v.Header.Timestamp)
	}
	return nil
}

// ViewStorage returns the HVMState storage holding view, what setView
// writes. Its keys are SlotHash, SlotPrevHash, SlotMerkleRoot, SlotPacked.
func ViewStorage(v hvm.Header) (map[common.Hash]common.Hash, error) {
	if err := checkView(v); err != nil {
		return nil, err
	}
	var packed common.Hash
	binary.BigEndian.PutUint32(packed[28:], uint32(v.Height))
	binary.BigEndian.PutUint32(packed[24:], uint32(v.Header.Version))
	binary.BigEndian.PutUint32(packed[20:], uint32(v.Header.Timestamp.Unix()))
	binary.BigEndian.PutUint32(packed[16:], v.Header.Bits)
	binary.BigEndian.PutUint32(packed[12:], v.Header.Nonce)
	return map[common.Hash]common.Hash{
		SlotHash:       display(v.Hash),
		SlotPrevHash:   display(v.Header.PrevBlock),
		SlotMerkleRoot: display(v.Header.MerkleRoot),
		SlotPacked:     packed,
	}, nil
}

// StateReader is the part of a state (vm.StateDB, *state.StateDB) ReadView
// needs.
type StateReader interface {
	GetState(addr common.Address, slot common.Hash) common.Hash
}

// ReadView reads the Bitcoin view stored in the HVMState predeploy of st:
// the view of the block whose post-state st is (or of the genesis). The
// header's Timestamp is in UTC.
func ReadView(st StateReader) hvm.Header {
	packed := st.GetState(HVMStateAddress, SlotPacked)
	return hvm.Header{
		Height: int32(binary.BigEndian.Uint32(packed[28:])),
		Hash:   fromDisplay(st.GetState(HVMStateAddress, SlotHash)),
		Header: wire.BlockHeader{
			Version:    int32(binary.BigEndian.Uint32(packed[24:])),
			PrevBlock:  fromDisplay(st.GetState(HVMStateAddress, SlotPrevHash)),
			MerkleRoot: fromDisplay(st.GetState(HVMStateAddress, SlotMerkleRoot)),
			Timestamp:  time.Unix(int64(binary.BigEndian.Uint32(packed[20:])), 0).UTC(),
			Bits:       binary.BigEndian.Uint32(packed[16:]),
			Nonce:      binary.BigEndian.Uint32(packed[12:]),
		},
	}
}

// SetViewCalldata is the calldata of the view update: the ABI encoding of
// setView(height, hash, version, prevHash, merkleRoot, time, bits, nonce),
// 4 + 8*32 = 260 bytes; integers are the uint32 of the 116-byte header
// record of precompile 0x44, hashes in display order. The fields are in
// that record's order.
func SetViewCalldata(v hvm.Header) ([]byte, error) {
	if err := checkView(v); err != nil {
		return nil, err
	}
	out := make([]byte, 4, 4+8*32)
	copy(out, SelectorSetView[:])
	word := func(u uint32) {
		var w [32]byte
		binary.BigEndian.PutUint32(w[28:], u)
		out = append(out, w[:]...)
	}
	hash := func(h chainhash.Hash) {
		d := display(h)
		out = append(out, d[:]...)
	}
	word(uint32(v.Height))
	hash(v.Hash)
	word(uint32(v.Header.Version))
	hash(v.Header.PrevBlock)
	hash(v.Header.MerkleRoot)
	word(uint32(v.Header.Timestamp.Unix()))
	word(v.Header.Bits)
	word(v.Header.Nonce)
	return out, nil
}

// DeriveViewUpdate is the first system transaction of L2 block number: it
// writes view (the block's Bitcoin view, block.HeaderExtra's height and
// hash) into HVMState. Deterministic: From SystemAddress, To
// HVMStateAddress, no mint, no value, Gas ViewUpdateGas, IsSystemTx false,
// Data SetViewCalldata(view), SourceHash block.SourceHash(
// block.DomainBitcoinView, view.Hash, number). The L2 number is in the
// source hash because several consecutive blocks may share a view and
// every transaction hash must be unique.
func DeriveViewUpdate(view hvm.Header, number uint64) (*block.SystemTx, error) {
	data, err := SetViewCalldata(view)
	if err != nil {
		return nil, err
	}
	to := HVMStateAddress
	return &block.SystemTx{
		SourceHash: block.SourceHash(block.DomainBitcoinView, view.Hash, number),
		From:       SystemAddress,
		To:         &to,
		Value:      new(big.Int),
		Gas:        ViewUpdateGas,
		Data:       data,
	}, nil
}

package rpc

import (
	"context"
	"errors"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
)

// maxProofKeys bounds eth_getProof's storage keys (go-ethereum's 1024).
const maxProofKeys = 1024

// accountResult is eth_getProof's answer (EIP-1186).
type accountResult struct {
	Address      common.Address  `json:"address"`
	AccountProof []string        `json:"accountProof"`
	Balance      *hexutil.Big    `json:"balance"`
	CodeHash     common.Hash     `json:"codeHash"`
	Nonce        hexutil.Uint64  `json:"nonce"`
	StorageHash  common.Hash     `json:"storageHash"`
	StorageProof []storageResult `json:"storageProof"`
}

type storageResult struct {
	Key   string       `json:"key"`
	Value *hexutil.Big `json:"value"`
	Proof []string     `json:"proof"`
}

// proofList collects trie proof nodes as hex (an ethdb.KeyValueWriter).
type proofList []string

func (l *proofList) Put(_, value []byte) error {
	*l = append(*l, hexutil.Encode(value))
	return nil
}

func (l *proofList) Delete([]byte) error { return errors.New("proof list: delete not supported") }

// GetProof is eth_getProof (EIP-1186): the account's Merkle-Patricia
// proof against the block's state root and its storage proofs. Keys
// given as 32-byte hex come back as such, shorter ones as quantities,
// as go-ethereum answers.
func (api *ethAPI) GetProof(ctx context.Context, addr common.Address, keys []string, bnh *gethrpc.BlockNumberOrHash) (*accountResult, error) {
	s := api.s
	if len(keys) > maxProofKeys {
		return nil, invalidParams("too many storage keys requested (max %d, got %d)", maxProofKeys, len(keys))
	}
	slots := make([]common.Hash, len(keys))
	for i, k := range keys {
		h, err := decodeSlot(k)
		if err != nil {
			return nil, invalidParams("invalid storage key %q: %v", k, err)
		}
		slots[i] = h
	}
	h, err := s.stateHeader(bnh)
	if err != nil {
		return nil, err
	}
	st, err := s.chain.StateAt(h.Root)
	if err != nil {
		return nil, err
	}
	storageRoot := st.GetStorageRoot(addr)
	res := &accountResult{
		Address:      addr,
		Balance:      (*hexutil.Big)(st.GetBalance(addr).ToBig()),
		CodeHash:     st.GetCodeHash(addr),
		Nonce:        hexutil.Uint64(st.GetNonce(addr)),
		StorageHash:  storageRoot,
		StorageProof: make([]storageResult, len(slots)),
	}
	if res.CodeHash == (common.Hash{}) {
		res.CodeHash = types.EmptyCodeHash // an absent account
	}
	if res.StorageHash == (common.Hash{}) {
		res.StorageHash = types.EmptyRootHash
	}
	var storageTrie state.Trie
	if len(slots) > 0 && storageRoot != types.EmptyRootHash && storageRoot != (common.Hash{}) {
		if storageTrie, err = st.Database().OpenStorageTrie(h.Root, addr, storageRoot, nil); err != nil {
			return nil, err
		}
	}
	for i, slot := range slots {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		key := hexutil.EncodeBig(slot.Big())
		if len(keys[i]) == 66 || (len(keys[i]) == 64 && keys[i][:2] != "0x") {
			key = slot.Hex()
		}
		r := storageResult{Key: key, Value: (*hexutil.Big)(st.GetState(addr, slot).Big()), Proof: []string{}}
		if storageTrie != nil {
			var proof proofList
			if err := storageTrie.Prove(crypto.Keccak256(slot.Bytes()), &proof); err != nil {
				return nil, err
			}
			r.Proof = proof
		}
		res.StorageProof[i] = r
	}
	tr, err := st.Database().OpenTrie(h.Root)
	if err != nil {
		return nil, err
	}
	var proof proofList
	if err := tr.Prove(crypto.Keccak256(addr.Bytes()), &proof); err != nil {
		return nil, err
	}
	res.AccountProof = proof
	return res, st.Error()
}

package rpc

import (
	"bytes"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethdb/memorydb"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/trie"
)

// TestGetProof: account and storage proofs verify against the block's
// state root.
func TestGetProof(t *testing.T) {
	e := newEnv(t, Config{})
	contract, deploy := e.deploy(0)
	e.mine(deploy)
	b := e.mine(e.sign(1, &types.LegacyTx{Nonce: 0, GasPrice: big.NewInt(10 * params.GWei), Gas: 100_000, To: &contract}))

	var res struct {
		AccountProof []hexutil.Bytes
		Balance      *hexutil.Big
		CodeHash     common.Hash
		Nonce        hexutil.Uint64
		StorageHash  common.Hash
		StorageProof []struct {
			Key   string
			Value *hexutil.Big
			Proof []hexutil.Bytes
		}
	}
	if err := e.rc.Call(&res, "eth_getProof", contract, []string{"0x0", common.Hash{}.Hex(), "0x5"}, "latest"); err != nil {
		t.Fatal(err)
	}
	verify := func(root common.Hash, key []byte, nodes []hexutil.Bytes) []byte {
		t.Helper()
		db := memorydb.New()
		for _, n := range nodes {
			if err := db.Put(crypto.Keccak256(n), n); err != nil {
				t.Fatal(err)
			}
		}
		v, err := trie.VerifyProof(root, crypto.Keccak256(key), db)
		if err != nil {
			t.Fatalf("proof of %x: %v", key, err)
		}
		return v
	}
	acc := verify(b.Header.Root, contract.Bytes(), res.AccountProof)
	var sa types.StateAccount
	if err := rlp.DecodeBytes(acc, &sa); err != nil {
		t.Fatal(err)
	}
	if sa.Root != res.StorageHash || !bytes.Equal(sa.CodeHash, res.CodeHash[:]) || sa.Nonce != uint64(res.Nonce) ||
		res.CodeHash != crypto.Keccak256Hash(testRuntime) {
		t.Fatalf("account %+v vs answer %+v", sa, res)
	}
	if len(res.StorageProof) != 3 || res.StorageProof[0].Key != "0x0" || res.StorageProof[1].Key != (common.Hash{}).Hex() {
		t.Fatalf("storage keys %+v", res.StorageProof)
	}
	v := verify(res.StorageHash, common.Hash{}.Bytes(), res.StorageProof[0].Proof)
	var slot []byte
	if err := rlp.DecodeBytes(v, &slot); err != nil || new(big.Int).SetBytes(slot).Uint64() != 2 || res.StorageProof[0].Value.ToInt().Uint64() != 2 {
		t.Fatalf("slot 0 = %x (%v), answer %v", slot, err, res.StorageProof[0].Value)
	}
	if v := verify(res.StorageHash, common.BigToHash(big.NewInt(5)).Bytes(), res.StorageProof[2].Proof); v != nil {
		t.Fatalf("absent slot proved %x", v)
	}
	// An absent account: empty hashes, an exclusion proof.
	if err := e.rc.Call(&res, "eth_getProof", common.Address{0xee}, []string{"0x1"}, "latest"); err != nil {
		t.Fatal(err)
	}
	if res.CodeHash != types.EmptyCodeHash || res.StorageHash != types.EmptyRootHash || verify(b.Header.Root, common.Address{0xee}.Bytes(), res.AccountProof) != nil {
		t.Fatalf("absent account %+v", res)
	}
	if code, _, _ := rpcErr(t, e.rc.Call(&res, "eth_getProof", contract, []string{"0xzz"}, "latest")); code != codeInvalidParams {
		t.Fatalf("bad key code %d", code)
	}
}

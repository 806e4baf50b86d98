package netp2p

import (
	"crypto/ecdsa"
	"math/big"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/block"
)

// testBlock is a block sealed by key at number with one system
// transaction and n user transactions; its header is well formed for
// the gate (seal, transactions root) but carries no state.
func testBlock(t testing.TB, key *ecdsa.PrivateKey, number uint64, parent common.Hash, n int) *chain.Block {
	t.Helper()
	to := common.Address{0xaa}
	body := &block.Body{SystemTxs: []*block.SystemTx{{
		SourceHash: block.SourceHash(block.DomainBitcoinView, [32]byte{byte(number)}, number),
		From:       common.Address{0xde, 0xad}, To: &to, Value: new(big.Int), Gas: 1_000_000,
	}}}
	sender, _ := crypto.ToECDSA(crypto.Keccak256([]byte("netp2p test sender")))
	signer := types.LatestSignerForChainID(big.NewInt(7431337))
	for i := range n {
		tx, err := types.SignNewTx(sender, signer, &types.DynamicFeeTx{ChainID: big.NewInt(7431337), Nonce: uint64(i),
			GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(2_000_000_000), Gas: 21000, To: &to, Value: big.NewInt(int64(i + 1))})
		if err != nil {
			t.Fatal(err)
		}
		body.Txs = append(body.Txs, tx)
	}
	extra := block.Extra{BitcoinHeight: 100, BitcoinHash: chainhash.Hash{1, 2, 3}}
	enc, err := extra.Encode()
	if err != nil {
		t.Fatal(err)
	}
	h := &types.Header{ParentHash: parent, Number: new(big.Int).SetUint64(number), GasLimit: 30_000_000, Time: 1_700_000_000 + number,
		Extra: enc, BaseFee: big.NewInt(1), Difficulty: new(big.Int), UncleHash: types.EmptyUncleHash, TxHash: block.TxRoot(body)}
	if err := block.Seal(h, key); err != nil {
		t.Fatal(err)
	}
	return &chain.Block{Header: h, Body: body}
}

func testKey(seed string) *ecdsa.PrivateKey {
	k, err := crypto.ToECDSA(crypto.Keccak256([]byte(seed)))
	if err != nil {
		panic(err)
	}
	return k
}

func encode(t testing.TB, b *chain.Block) []byte {
	t.Helper()
	data, err := EncodeBlock(b)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

package devnettest

import (
	"context"
	"log/slog"
	"math/big"
	"path/filepath"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/params"

	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/devnet"
	"github.com/hemi-go/hemi/internal/node"
)

// TestL2EndToEnd runs the devnet's stack in process — the embedded
// regtest Bitcoin, the indexer syncing from it over P2P, the L2 chain,
// mempool, sequencer and JSON-RPC — submits signed transfers from a dev
// account over JSON-RPC, and checks that they land in sequenced blocks,
// that balances move, that the Bitcoin view follows newly mined Bitcoin
// blocks, and that a second chain instance fed the sequencer's blocks
// through InsertBlock re-executes them to the same state roots.
func TestL2EndToEnd(t *testing.T) {
	ctx := context.Background()
	s, err := StartStack(ctx, StackConfig{L2BlockTime: time.Second, RPC: true, PoPM: devnet.PoPMConfig{Off: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer closeStack(t, s)
	l2 := s.L2

	ec, err := ethclient.DialContext(ctx, s.RPCURL)
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	chainID, err := ec.ChainID(ctx)
	if err != nil || chainID.Uint64() != l2.Spec.Config.ChainID {
		t.Fatalf("eth_chainId %v %v, want %d", chainID, err, l2.Spec.Config.ChainID)
	}
	signer := types.LatestSignerForChainID(chainID)
	to := common.HexToAddress("0x000000000000000000000000000000000000b0b0")
	from := l2.Accounts[0]
	var hashes []common.Hash
	const n = 5
	for nonce := range uint64(n) {
		tx, err := types.SignNewTx(from.Key, signer, &types.DynamicFeeTx{ChainID: chainID, Nonce: nonce,
			GasTipCap: big.NewInt(params.GWei), GasFeeCap: big.NewInt(10 * params.GWei), Gas: params.TxGas,
			To: &to, Value: big.NewInt(params.Ether)})
		if err != nil {
			t.Fatal(err)
		}
		if err := ec.SendTransaction(ctx, tx); err != nil {
			t.Fatalf("send nonce %d: %v", nonce, err)
		}
		hashes = append(hashes, tx.Hash())
		if nonce == 2 {
			// Bitcoin moves on while transactions flow.
			if _, err := s.MineBTC(ctx, 3); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.WaitFor(ctx, "the transfers to be included", func() bool {
		for _, h := range hashes {
			if r, err := ec.TransactionReceipt(ctx, h); err != nil || r.Status != types.ReceiptStatusSuccessful {
				return false
			}
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	bal, err := ec.BalanceAt(ctx, to, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := new(big.Int).Mul(big.NewInt(n), big.NewInt(params.Ether)); bal.Cmp(want) != 0 {
		t.Fatalf("recipient balance %v, want %v", bal, want)
	}
	// The view reaches the new Bitcoin tip minus the lag.
	_, tip := s.BTC.Tip()
	if err := s.WaitFor(ctx, "the Bitcoin view to follow the tip", func() bool {
		e, err := block.DecodeExtra(l2.Chain.Head().Extra)
		return err == nil && e.BitcoinHeight == uint32(tip)-l2.Spec.Config.ViewLag
	}); err != nil {
		t.Fatal(err)
	}

	// A follower re-executes every block to the same state.
	fol, err := node.OpenChain(l2.Spec, node.NewBitcoin(s.TBC.Index()), node.ChainOptions{Dir: filepath.Join(t.TempDir(), "follower"),
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer fol.Close()
	head := l2.Chain.Head().Number.Uint64()
	for i := uint64(1); i <= head; i++ {
		b, err := l2.Chain.BlockByNumber(i)
		if err != nil {
			t.Fatal(err)
		}
		if err := fol.InsertBlock(b); err != nil {
			t.Fatalf("follower rejects block %d: %v", i, err)
		}
		if fh := fol.Head(); fh.Hash() != b.Hash() || fh.Root != b.Header.Root {
			t.Fatalf("block %d: follower %s root %s, sequencer %s root %s", i, fh.Hash(), fh.Root, b.Hash(), b.Header.Root)
		}
	}
	st, err := fol.StateAt(fol.Head().Root)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.GetBalance(to).ToBig(); got.Cmp(bal) != 0 {
		t.Fatalf("follower balance %v, sequencer %v", got, bal)
	}
	if st.GetNonce(from.Address) != n {
		t.Fatalf("follower nonce %d, want %d", st.GetNonce(from.Address), n)
	}
}

package devnettest

import (
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"

	"github.com/hemi-go/hemi/internal/btc/txgen"
	"github.com/hemi-go/hemi/internal/devnet"
	"github.com/hemi-go/hemi/internal/tunnel"
)

// Vault is the devnet's tunnel vault on regtest, as its genesis defines
// it; an error if the genesis has no tunnel.
func (s *Stack) Vault() (*tunnel.Vault, error) {
	tc := s.L2.File.Config.Tunnel
	if tc == nil {
		return nil, errors.New("devnet: the genesis has no tunnel")
	}
	return tunnel.NewVault(tc, &chaincfg.RegressionNetParams)
}

// DepositFromCoinbase makes a tunnel deposit the way a user's wallet
// would: a transaction spending the dev miner's coinbase of block height
// (mature once StackInitialBlocks are mined; block 1's funds the PoP
// miner, so tests take 2 and up, one each), with one output paying the
// devnet's vault per amount in sats, then the OP_RETURN naming
// recipient, change to the miner at 2 sat/vB. It hands the transaction
// to the regtest node's mempool and returns it; the caller mines it.
func (s *Stack) DepositFromCoinbase(height int32, recipient common.Address, sats ...int64) (*wire.MsgTx, error) {
	return s.payVault(height, &recipient, sats)
}

// FundVaultFromCoinbase is DepositFromCoinbase without the OP_RETURN:
// vault outputs that name no recipient, so nothing is minted for them
// (the tunnel queues them for a refund). The refresh tests use one as
// the vault output that ages towards the recovery delay.
func (s *Stack) FundVaultFromCoinbase(height int32, sats ...int64) (*wire.MsgTx, error) {
	return s.payVault(height, nil, sats)
}

// payVault builds, signs and hands to the mempool the transaction of
// DepositFromCoinbase (recipient nil: no OP_RETURN).
func (s *Stack) payVault(height int32, recipient *common.Address, sats []int64) (*wire.MsgTx, error) {
	if len(sats) == 0 {
		return nil, errors.New("devnet: a deposit pays at least one vault output")
	}
	v, err := s.Vault()
	if err != nil {
		return nil, err
	}
	key, _, err := devnet.MinerKey()
	if err != nil {
		return nil, err
	}
	h, ok := s.BTC.HashAt(height)
	if !ok {
		return nil, fmt.Errorf("devnet: the regtest node has no block %d", height)
	}
	b, err := s.BTC.Block(h)
	if err != nil {
		return nil, err
	}
	cb := b.Transactions[0]
	change, err := key.PkScript(txgen.P2WPKH)
	if err != nil {
		return nil, err
	}
	sp := txgen.Spend{
		Inputs: []txgen.UTXO{{OutPoint: wire.OutPoint{Hash: cb.TxHash()}, Value: cb.TxOut[0].Value, Key: key, Kind: txgen.P2WPKH}},
		Change: change, FeeRate: 2,
	}
	for _, sat := range sats {
		sp.Outputs = append(sp.Outputs, wire.NewTxOut(sat, v.PkScript()))
	}
	if recipient != nil {
		sp.Outputs = append(sp.Outputs, wire.NewTxOut(0, tunnel.RecipientScript(*recipient)))
	}
	dep, _, _, err := sp.Build()
	if err != nil {
		return nil, err
	}
	if err := txgen.Sign(dep, sp.Inputs); err != nil {
		return nil, err
	}
	if err := s.BTC.AcceptTx(dep); err != nil {
		return nil, fmt.Errorf("devnet: the regtest node refuses the deposit: %w", err)
	}
	return dep, nil
}

package devnet

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"path/filepath"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/tyler-smith/go-bip39"

	"github.com/hemi-go/hemi/internal/btc/regtest"
	"github.com/hemi-go/hemi/internal/btc/txgen"
	"github.com/hemi-go/hemi/internal/node"
	"github.com/hemi-go/hemi/internal/node/indexadapt"
	"github.com/hemi-go/hemi/internal/popm"
	"github.com/hemi-go/hemi/internal/tbc"
)

// PoPMSeed derives the devnet PoP miner's mnemonic (PoPMMnemonic). It is
// public: devnet coins are for development only.
const PoPMSeed = "hemi devnet pop miner"

// PoPM funding: PoPMOutputs outputs of PoPMOutputValue satoshis each, so
// the miner has spare coins besides its chain of change.
const (
	PoPMOutputs     = 4
	PoPMOutputValue = 25_000_000 // 0.25 BTC
)

// PoPMMnemonic is the devnet PoP miner's BIP-39 mnemonic: 128 bits of
// SHA-256(PoPMSeed).
func PoPMMnemonic() string {
	sum := sha256.Sum256([]byte(PoPMSeed))
	m, err := bip39.NewMnemonic(sum[:16])
	if err != nil {
		// 16 bytes is a valid entropy size; this cannot happen.
		panic("devnet: pop miner mnemonic: " + err.Error())
	}
	return m
}

// PoPMWallet is the devnet PoP miner's wallet: BIP-84 on regtest from
// PoPMMnemonic.
func PoPMWallet() (*popm.Wallet, error) {
	return popm.ParseSecret(PoPMMnemonic(), popm.P2WPKH, &chaincfg.RegressionNetParams)
}

// FundPoPM pays the PoP miner's wallet from the dev miner's first
// coinbase (mature once the initial 101 blocks are mined), mines the
// payment and waits for the index to see it.
func FundPoPM(ctx context.Context, btc *regtest.Node, svc *tbc.Service, miner *txgen.Key, w *popm.Wallet) error {
	_, height := btc.Tip()
	if height < 101 {
		return fmt.Errorf("devnet: pop miner: no mature coinbase at height %d (mine at least 101 initial blocks)", height)
	}
	h, _ := btc.HashAt(1)
	b, err := btc.Block(h)
	if err != nil {
		return fmt.Errorf("devnet: pop miner funding: %w", err)
	}
	cb := b.Transactions[0]
	change, err := miner.PkScript(txgen.P2WPKH)
	if err != nil {
		return err
	}
	sp := txgen.Spend{
		Inputs:  []txgen.UTXO{{OutPoint: wire.OutPoint{Hash: cb.TxHash()}, Value: cb.TxOut[0].Value, Key: miner, Kind: txgen.P2WPKH}},
		Change:  change,
		FeeRate: 2,
	}
	for range PoPMOutputs {
		sp.Outputs = append(sp.Outputs, wire.NewTxOut(PoPMOutputValue, w.Script()))
	}
	tx, _, _, err := sp.Build()
	if err != nil {
		return fmt.Errorf("devnet: pop miner funding: %w", err)
	}
	if err := txgen.Sign(tx, sp.Inputs); err != nil {
		return fmt.Errorf("devnet: pop miner funding: %w", err)
	}
	if err := btc.SubmitTx(tx); err != nil {
		return fmt.Errorf("devnet: pop miner funding: %w", err)
	}
	addr, err := miner.Address(txgen.P2WPKH, &chaincfg.RegressionNetParams)
	if err != nil {
		return err
	}
	if _, err := btc.Mine(1, addr); err != nil {
		return fmt.Errorf("devnet: mine the pop miner funding: %w", err)
	}
	return node.WaitIndexed(ctx, svc.Index(), height+1, nil)
}

// newPoPM builds the devnet's in-process PoP miner on the L2 chain and
// the Bitcoin layer.
func newPoPM(cfg Config, svc *tbc.Service, l2 *L2, w *popm.Wallet) (*popm.Miner, error) {
	return popm.New(popm.Config{
		Wallet:     w,
		Keystones:  node.Keystones{Chain: l2.Chain, Logger: cfg.Logger},
		Bitcoin:    indexadapt.PoPMiner{Index: svc.Index(), Peers: svc, Fees: svc},
		DataDir:    filepath.Join(cfg.DataDir, "popm"),
		MaxFeeRate: cfg.PoPM.MaxFeeRate,
		BumpBlocks: cfg.PoPM.BumpBlocks,
		Logger:     cfg.Logger,
		Registerer: cfg.Registerer,
		OnEvent:    cfg.PoPM.OnEvent,
	})
}

// PoPMConfig configures the devnet's PoP miner.
type PoPMConfig struct {
	// Off turns the PoP miner off.
	Off bool
	// MaxFeeRate and BumpBlocks: popm.Config's (0: its defaults).
	MaxFeeRate int64
	BumpBlocks int32
	// OnEvent receives the miner's publication events (popm.Config.OnEvent).
	OnEvent func(popm.Event)
}

func printPoPMBanner(out io.Writer, w *popm.Wallet, api, rpcAddr string) {
	src, path := w.Source()
	fmt.Fprintf(out, `PoP miner (publishes every keystone in a Bitcoin transaction; logs "keystone published"
and "keystone publication mined" with the txid, vsize, fee and Bitcoin block)
  wallet       %s   (funded with %d x %.2f BTC)
  key          %s at %s: %q
               (PUBLIC devnet key, regtest coins only)
  L2 rewards   %s
`, w.Address().EncodeAddress(), PoPMOutputs, float64(PoPMOutputValue)/1e8, src, path, PoPMMnemonic(), w.RewardAddress().Hex())
	if api != "" && rpcAddr != "" {
		fmt.Fprintf(out, `  another one  with your own key (never this one: two miners on one wallet spend the same coins):
               HEMI_POPM_KEY='<mnemonic>' hemi popm address --network regtest   (then fund it)
               HEMI_POPM_KEY='<mnemonic>' hemi popm --network regtest --api %s --l2-url ws://%s
`, api, rpcAddr)
	}
	fmt.Fprintln(out)
}

package node

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hemi-go/hemi/internal/btc/index"
	"github.com/hemi-go/hemi/internal/btc/network"
	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/metrics"
	"github.com/hemi-go/hemi/internal/node/indexadapt"
	"github.com/hemi-go/hemi/internal/rpc"
	"github.com/hemi-go/hemi/internal/tunnel"
)

// withdrawalDeriver is the tunnel's withdrawal deriver of spec (DESIGN 6:
// batches, paid markers, vault-spend and shortfall flags) and its vault,
// nil when the genesis has no tunnel.
func withdrawalDeriver(spec *genesis.Spec) (*tunnel.Withdrawals, *tunnel.Vault, error) {
	tc := spec.Config.Tunnel
	if tc == nil {
		return nil, nil, nil
	}
	net, err := network.Params(spec.Config.BitcoinNetwork)
	if err != nil {
		return nil, nil, err
	}
	v, err := tunnel.NewVault(tc, net)
	if err != nil {
		return nil, nil, fmt.Errorf("node: tunnel vault: %w", err)
	}
	w, err := tunnel.NewWithdrawals(tunnel.WithdrawalConfig{Tunnel: tc, Vault: v,
		SuperfinalDepth: spec.Config.PoP.SuperfinalDepth, KeystoneInterval: spec.Config.KeystoneInterval})
	return w, v, err
}

// rpcWithdrawals attaches hemi_getWithdrawal to the RPC server.
func (n *Node) rpcWithdrawals(ix *index.Index) *rpc.Withdrawals {
	net, _ := network.Params(n.Spec.Config.BitcoinNetwork) // checked by withdrawalDeriver
	return &rpc.Withdrawals{Tunnel: n.Spec.Config.Tunnel, Vault: n.vault.vault, Net: net, Index: indexadapt.NewWithdrawals(ix)}
}

// vaultWatch turns the withdrawal deriver's flags into metrics and Error
// logs, and exports the vault's balance sheet and its oldest output's
// age, for every canonical block (the deriver itself is pure: it only
// writes the flags into the chain).
type vaultWatch struct {
	chain vaultChain
	btc   tunnel.VaultBitcoin
	w     *tunnel.Withdrawals
	vault tunnel.VaultScripts
	log   *slog.Logger

	spendFlags, shortfallFlags              prometheus.Counter
	vaultSat, owedSat, shortfallSat, oldest prometheus.Gauge
}

// vaultChain is what the vault watch reads of the chain (*chain.Chain).
type vaultChain interface {
	Head() *types.Header
	Subscribe(ctx context.Context, from uint64) <-chan *types.Header
	Recent(hash common.Hash) (*chain.Block, types.Receipts, bool)
	Receipts(hash common.Hash) (types.Receipts, error)
	StateAt(root common.Hash) (*state.StateDB, error)
}

var _ vaultChain = (*chain.Chain)(nil)

func newVaultWatch(c vaultChain, btc tunnel.VaultBitcoin, w *tunnel.Withdrawals, v tunnel.VaultScripts, log *slog.Logger, r prometheus.Registerer) *vaultWatch {
	const sub = "tunnel"
	return &vaultWatch{chain: c, btc: btc, w: w, vault: v, log: log,
		spendFlags:     metrics.Counter(r, sub, "vault_spend_flags_total", "Vault spends that match no payout batch, flagged by a system transaction."),
		shortfallFlags: metrics.Counter(r, sub, "shortfall_flags_total", "Shortfall flags (the vault's BTC below what it owes, or back to covering it)."),
		vaultSat:       metrics.Gauge(r, sub, "vault_sat", "Unspent vault outputs in the head's Bitcoin view, satoshis."),
		owedSat:        metrics.Gauge(r, sub, "owed_sat", "What the vault owes: hBTC supply + confirming deposits + pending withdrawals and refunds + recorded deposits, satoshis."),
		shortfallSat:   metrics.Gauge(r, sub, "shortfall_sat", "Owed minus vault when positive, satoshis (0: covered)."),
		oldest:         metrics.Gauge(r, sub, "oldest_vault_output_age_blocks", "Confirmations of the oldest unspent vault output (refreshed past half the recovery delay)."),
	}
}

// Run follows the canonical chain from the head until ctx is done.
func (v *vaultWatch) Run(ctx context.Context) error {
	for h := range v.chain.Subscribe(ctx, v.chain.Head().Number.Uint64()) {
		v.block(h)
	}
	return nil
}

// block checks one canonical block. Its receipts come from the chain's
// newest blocks in memory (chain.Recent) when it is one, as it is when
// the watch keeps up: reading them back decoded the block's body and
// receipts from the database after every insertion (2-3 % of a
// follower's CPU in `hemi bench net`).
func (v *vaultWatch) block(h *types.Header) {
	_, rs, ok := v.chain.Recent(h.Hash())
	if !ok {
		var err error
		if rs, err = v.chain.Receipts(h.Hash()); err != nil {
			v.log.Warn("vault watch: receipts", "block", h.Number, "err", err)
			return
		}
	}
	for _, r := range rs {
		for _, l := range r.Logs {
			v.flag(h, l)
		}
	}
	st, err := v.chain.StateAt(h.Root)
	if err != nil {
		v.log.Warn("vault watch: state", "block", h.Number, "err", err)
		return
	}
	view := genesis.ReadView(st)
	o, err := v.w.VaultOwed(st, v.btc, h, view.Hash, view.Height)
	if err != nil {
		v.log.Warn("vault watch: balance sheet", "block", h.Number, "err", err)
		return
	}
	v.vaultSat.Set(float64(o.VaultSat))
	v.owedSat.Set(float64(o.OwedSat))
	v.shortfallSat.Set(float64(o.Shortfall()))
	v.oldest.Set(float64(o.OldestAge))
}

// flag counts and logs one flag event of the tunnel predeploy.
func (v *vaultWatch) flag(h *types.Header, l *types.Log) {
	if len(l.Topics) == 0 || l.Address != v.w.Tunnel() {
		return
	}
	ev := tunnel.WithdrawalsABI.Events
	switch l.Topics[0] {
	case ev["VaultSpendFlagged"].ID:
		vals, err := ev["VaultSpendFlagged"].Inputs.NonIndexed().Unpack(l.Data)
		if err != nil || len(l.Topics) < 2 {
			v.log.Error("vault watch: undecodable VaultSpendFlagged", "block", h.Number, "err", err)
			return
		}
		v.spendFlags.Inc()
		v.log.Error("vault spend matching no payout batch: the vault's BTC moved without the committee's batch",
			"block", h.Number, "spender", chainhash.Hash(l.Topics[1]),
			"outpoint", fmt.Sprintf("%s:%d", chainhash.Hash(vals[0].([32]byte)), vals[1].(uint32)),
			"amount_sat", vals[2], "cancelled_batch", vals[3])
	case ev["ShortfallFlagged"].ID:
		vals, err := ev["ShortfallFlagged"].Inputs.Unpack(l.Data)
		if err != nil {
			v.log.Error("vault watch: undecodable ShortfallFlagged", "block", h.Number, "err", err)
			return
		}
		v.shortfallFlags.Inc()
		vault, owed := vals[0].(uint64), vals[1].(uint64)
		if owed > vault {
			v.log.Error("vault shortfall: the vault holds less BTC than hBTC supply plus pending deposits, withdrawals and refunds",
				"block", h.Number, "vault_sat", vault, "owed_sat", owed, "shortfall_sat", owed-vault)
		} else {
			v.log.Info("vault shortfall over", "block", h.Number, "vault_sat", vault, "owed_sat", owed)
		}
	}
}

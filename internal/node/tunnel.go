package node

import (
	"fmt"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/tunnel"
)

// tunnelDerivers are the tunnel's derivers of a genesis with a tunnel
// (DESIGN 3.3 order, between the view update and the PoP rewards): the
// fee-rate record (part of the view update), then the deposits. The
// withdrawal derivers go after them. None for a genesis without a tunnel,
// whose blocks therefore stay exactly what they were.
func tunnelDerivers(spec *genesis.Spec) ([]chain.Deriver, error) {
	t := spec.Config.Tunnel
	if t == nil {
		return nil, nil
	}
	net, err := spec.Config.BitcoinParams()
	if err != nil {
		return nil, err
	}
	v, err := tunnel.NewVault(t, net)
	if err != nil {
		return nil, fmt.Errorf("tunnel vault: %w", err)
	}
	deposits, err := tunnel.NewDeposits(tunnel.DepositConfig{
		Tunnel:               t.TunnelAddress,
		VaultScript:          v.PkScript(),
		DepositConfirmations: t.DepositConfirmations,
		MinDepositSat:        t.MinDepositSat,
		MaxDepositsPerBlock:  t.MaxDepositsPerBlock,
	})
	if err != nil {
		return nil, err
	}
	return []chain.Deriver{&tunnel.FeeRate{Tunnel: t.TunnelAddress}, deposits}, nil
}

// chainSystemTxs serves the system transactions of canonical blocks
// (tunnel.DepositChain) from the chain.
type chainSystemTxs struct{ c *chain.Chain }

func (c chainSystemTxs) SystemTxs(number uint64) ([]*block.SystemTx, error) {
	b, err := c.c.BlockByNumber(number)
	if err != nil {
		return nil, err
	}
	return b.Body.SystemTxs, nil
}

// rpcDeposits is hemi_getDeposit(s)'s query over the chain and the
// index (nil without a tunnel).
func (n *Node) rpcDeposits() (*tunnel.DepositQuery, error) {
	t := n.Spec.Config.Tunnel
	if t == nil {
		return nil, nil
	}
	net, err := n.Spec.Config.BitcoinParams()
	if err != nil {
		return nil, err
	}
	v, err := tunnel.NewVault(t, net)
	if err != nil {
		return nil, err
	}
	return &tunnel.DepositQuery{Tunnel: t.TunnelAddress, VaultScript: v.PkScript(), DepositConfirmations: t.DepositConfirmations,
		MinDepositSat: t.MinDepositSat, Chain: chainSystemTxs{n.Chain}, Bitcoin: n.Bitcoin.Chain}, nil
}

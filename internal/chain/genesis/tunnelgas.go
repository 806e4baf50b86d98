package genesis

import (
	"fmt"
	"math/big"
)

// Gas of the tunnel's system transactions (DESIGN 6, 3.3). Each is the
// most gas its call was measured to use in its costliest state (every
// slot it writes going from zero, the longest loops the derivers allow:
// internal/tunnel TestSystemTxGasBudget runs those cases and fails when
// a constant is below what it measures, or more than the margin above
// it) plus GasMargin, rounded up to 1,000 gas. The margin covers what a
// test cannot enumerate (solc output across compiler versions of the
// same source, a fork's repricing before the constants are revisited);
// without it "a mint cannot revert" would rest on an exact figure. The
// measured figures (go-ethereum v1.17.10, Osaka rules):
//
//	TunnelDepositGas     213,230  refundDeposit, first refund ever, 34-byte
//	                              (P2TR/P2WSH) script; mint 104,270,
//	                              recordDeposit 51,285
//	TunnelCursorGas       24,498  setDepositCursor from a zero word
//	TunnelFeeRateGas       7,063  setFeeRate
//	TunnelBatchGas     5,953,057  openBatch, first batch ever, 100 inputs,
//	                              25 outputs (re-derivation less)
//	TunnelPaidGas      1,433,585  markPaid of 25 outputs that moves the
//	                              queue head over MaxQueueScan (500) items
//	TunnelFlagGas         25,190  flagVaultSpend, no batch cancelled
//	TunnelCancelFlagGas  348,152  flagVaultSpend cancelling a batch of 25
//	TunnelShortfallGas    24,167  flagShortfall from a zero queue head
const (
	TunnelDepositGas    = 235_000
	TunnelCursorGas     = 27_000
	TunnelFeeRateGas    = 8_000
	TunnelBatchGas      = 6_549_000
	TunnelPaidGas       = 1_577_000
	TunnelFlagGas       = 28_000
	TunnelCancelFlagGas = 383_000
	TunnelShortfallGas  = 27_000
	// TunnelMaxFlagsPerBlock bounds the vault-spend flags of one block;
	// more unmatched spends are flagged in the next blocks.
	TunnelMaxFlagsPerBlock = 16
	// GasMargin is the percent added to each measured figure above.
	GasMargin = 10
)

// SystemGasBudget is the most gas the system transactions of one block
// may ask for (the sum of their Gas): half the block gas limit, the
// EIP-1559 gas target. Genesis validation refuses a configuration whose
// worst case (SystemGas) is above it, and the tunnel's derivers cap
// their work by what is left of it, so in every block
//
//   - user transactions have at least half the gas limit, whatever
//     Bitcoin brings (a flood of deposits, a batch, vault-spend flags);
//   - system transactions alone never raise the base fee: their gas
//     used is at most the target, at which EIP-1559 keeps the base fee
//     where it is, so Bitcoin-derived work does not price users out.
func (c *Config) SystemGasBudget() uint64 { return SystemGasBudgetFor(c.GasLimit) }

// SystemGasBudgetFor is the system gas budget of a block whose gas limit
// is gasLimit (SystemGasBudget).
func SystemGasBudgetFor(gasLimit uint64) uint64 { return gasLimit / 2 }

// SystemGas is the worst case of one block's system transactions, in
// the order they come (DESIGN 3.3), each part the sum of the Gas its
// derivers can ask for.
type SystemGas struct {
	// View is the Bitcoin view update (ViewUpdateGas).
	View uint64
	// FeeRate is the tunnel's fee-rate record.
	FeeRate uint64
	// Deposits is the deposit cursor's move and MaxDepositsPerBlock
	// deposits.
	Deposits uint64
	// Withdrawals is the batch call (openBatch, the costlier of it and
	// markPaid, which never share a block), TunnelMaxFlagsPerBlock
	// vault-spend flags and the shortfall flag; a flag that cancels the
	// batch replaces the batch call, so it is the lesser case.
	Withdrawals uint64
	// Rewards is MaxRewarded PoP rewards (0 with rewards off).
	Rewards uint64
}

// Total is the sum of the parts.
func (g SystemGas) Total() uint64 {
	return g.View + g.FeeRate + g.Deposits + g.Withdrawals + g.Rewards
}

// TunnelWithdrawalGas is the withdrawal deriver's worst case in one
// block (SystemGas.Withdrawals).
func TunnelWithdrawalGas() uint64 {
	batch := max(TunnelBatchGas, TunnelPaidGas) + TunnelMaxFlagsPerBlock*TunnelFlagGas
	cancel := TunnelCancelFlagGas + (TunnelMaxFlagsPerBlock-1)*TunnelFlagGas
	return uint64(max(batch, cancel) + TunnelShortfallGas)
}

// SystemGas is c's worst case. The parts are bounded by Validate's
// ranges, so the sums do not overflow for a configuration that passed
// the field checks.
func (c *Config) SystemGas() SystemGas {
	g := SystemGas{View: ViewUpdateGas}
	if c.PoP.RewardsOn() && c.PoP.MaxRewarded > 0 {
		g.Rewards = uint64(c.PoP.MaxRewarded) * RewardGas
	}
	if t := c.Tunnel; t != nil {
		g.FeeRate = TunnelFeeRateGas
		g.Deposits = TunnelCursorGas + uint64(max(t.MaxDepositsPerBlock, 0))*TunnelDepositGas
		g.Withdrawals = TunnelWithdrawalGas()
	}
	return g
}

// validateSystemGas refuses a configuration whose system transactions
// could ask for more than SystemGasBudget in one block, naming the field
// to change and the value that would fit: the tunnel's deposit cap when
// there is a tunnel, else the PoP rewards' cap, else the gas limit.
func (c *Config) validateSystemGas() error {
	g, budget := c.SystemGas(), c.SystemGasBudget()
	if g.Total() <= budget {
		return nil
	}
	why := fmt.Sprintf("the system transactions of one block could ask for %d gas (view update %d, tunnel fee rate %d, deposits %d, withdrawals and flags %d, PoP rewards %d), above the budget of half the gas limit (%d of %d), which leaves the other half to user transactions",
		g.Total(), g.View, g.FeeRate, g.Deposits, g.Withdrawals, g.Rewards, budget, c.GasLimit)
	// The gas limit at which this configuration fits.
	need := new(big.Int).SetUint64(g.Total())
	need.Mul(need, big.NewInt(2))
	if t := c.Tunnel; t != nil {
		g.Deposits = TunnelCursorGas
		if rest := g.Total(); rest+TunnelDepositGas <= budget {
			fit := (budget - rest) / TunnelDepositGas
			return fieldErr(ErrConfig, "tunnel.max_deposits_per_block", "%d: %s; at most %d deposits per block fit (more carry over to the next blocks), or raise gas_limit to %v",
				t.MaxDepositsPerBlock, why, fit, need)
		}
		return fieldErr(ErrConfig, "gas_limit", "%d: %s, even with one deposit per block; raise it to at least %v", c.GasLimit, why, need)
	}
	if g.Rewards > 0 && g.View+RewardGas <= budget {
		return fieldErr(ErrConfig, "pop.max_rewarded", "%d: %s; at most %d rewards per keystone fit, or raise gas_limit to %v",
			c.PoP.MaxRewarded, why, (budget-g.View)/RewardGas, need)
	}
	return fieldErr(ErrConfig, "gas_limit", "%d: %s; raise it to at least %v", c.GasLimit, why, need)
}

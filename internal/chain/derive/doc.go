// Package derive holds the system-transaction derivers of DESIGN 3.3 that
// the assembly installs in the chain (chain.Config.Derivers, the
// rules.Deriver seam), in this order: ViewUpdate (the Bitcoin-view
// update, first in every block), then PoPRewards (DESIGN 4: the
// publishers of the keystone RewardDelay blocks back, paid by the
// schedule of genesis.PoPConfig: RewardedKeystone, ResolvePublishers,
// DeriveRewards in reward.go). The tunnel's derivers (internal/tunnel:
// FeeRate, Deposits, Withdrawals) sit between the two when the genesis
// has a tunnel (internal/node's chainDerivers).
//
// Every deriver is a pure function of its rules.Derivation and of what it
// reads through it as of the block's view, so a sequencer, every
// follower and an offline verifier derive the same list; the package
// imports no storage and not the chain. The reward rules are tested
// here as functions (reward_test.go, reward_fuzz_test.go) and where the
// chain builds and verifies blocks with the derivers (internal/chain's
// reward_chain_test.go and derive_test.go).
//
// Layer: pure rules (DESIGN 3.3, 4).
package derive

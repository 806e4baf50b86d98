// Package genesis is a Hemi chain's consensus configuration and genesis:
// the chain id, block time, gas limit and fee rules, the Ethereum forks
// (all those go-ethereum v1.17.10 runs on mainnet, active from block 0:
// see Config.ChainConfig), the Bitcoin network, view lag and keystone
// interval, the sequencer addresses, the dev accounts, the predeploys, and
// the Bitcoin view update, the system transaction that opens every block.
//
// # Constants
//
//	chain id (devnet)      7431337 (DevnetChainID)
//	block time             2 s
//	gas limit              30,000,000 (constant per block)
//	base fee               1 gwei at genesis, then EIP-1559 as Ethereum
//	bitcoin network        regtest (devnet)
//	view lag               2 Bitcoin blocks
//	keystone interval      25 L2 blocks
//	deposit confirmations  6
//	system address         0xDeaDDEaDDeAdDeAdDEAdDEaddeAddEAdDEAd0001 (no key)
//	HVMState predeploy     0x48656d6900000000000000000000000000000001
//	view update gas        1,000,000
//	dev accounts           10 x 10,000 ether, m/44'/60'/0'/0/i of
//	                       "test test ... junk" (anvil's)
//
// PoP (Config.PoP, DefaultPoPConfig; the rule is in internal/chain's doc):
//
//	superfinal depth       10 Bitcoin confirmations (DefaultSuperfinalDepth);
//	                       devnet 6 (DevnetSuperfinalDepth)
//	fork table             100 100 95 89 80 69 56 40 21 points by delay
//	reward delay           50 L2 blocks after the keystone (0 = no rewards)
//	reward                 1 ether for a publication in the first block
//	reward table           100 100 80 60 40 20 percent by delay
//	max rewarded           10 publishers per keystone
//	reward gas             50,000 per reward transaction (RewardGas)
//
// Validate checks them: superfinal depth >= 1; tables non-increasing,
// the fork table non-empty; with rewards on, a positive reward below
// 2^248, a non-empty reward table within 100 percent, MaxRewarded >= 1
// and the view update plus MaxRewarded rewards within the gas limit. The
// PoP config is not part of the genesis block or state: it is consensus
// (every node must use the same values) but changes no genesis hash.
//
// hBTC's token address and the tunnel vault are Config fields only,
// placeholders until the tunnel exists; the genesis puts nothing at them.
//
// # The genesis state
//
// SystemContracts (EIP-4788, EIP-2935, EIP-7002, EIP-7251 system
// contracts, as go-ethereum's dev genesis), Predeploys (HVMState holding
// the genesis Bitcoin view) and Spec.Alloc. The genesis block has no
// transactions; its header's Extra is the unsealed block.Extra of the
// genesis view.
//
// # HVMState
//
// contracts/HVMState.sol, compiled by scripts/gen-predeploys.sh into
// bytecode/HVMState.hex (embedded; TestPredeployBytecodeMatchesSource
// recompiles and compares). Storage: slot 0 view hash, 1 previous hash,
// 2 merkle root (display byte order), 3 height | version | time | bits |
// nonce packed from the low-order end (ViewStorage, ReadView). setView
// reverts with NotSystem() unless msg.sender is SystemAddress; getters
// bitcoinHeight(), bitcoinHash(), header() are open to all.
//
// The first system transaction of every block is DeriveViewUpdate(view,
// number): SystemAddress calls setView with the view's 116-byte header
// record fields (SetViewCalldata), so after any block HVMState holds that
// block's view.
//
// # Invariants
//
//  1. The same Spec gives the same header and state root on every node
//     and every run (map order never matters; tested).
//  2. After executing a block, ReadView(state) equals the block's view,
//     and HVMState's getters return it (tested on a go-ethereum EVM).
//  3. Config.ChainConfig passes go-ethereum's CheckConfigForkOrder.
//  4. Nothing here panics on input: bad configs, views and mnemonics are
//     errors wrapping this package's sentinels.
//
// Layer: pure rules (DESIGN 3, 9).
package genesis

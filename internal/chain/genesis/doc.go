// Package genesis is a Hemi chain's consensus configuration and genesis:
// the chain id, block time, gas limit and fee rules, the Ethereum forks
// (all those go-ethereum v1.17.10 runs on mainnet, active from block 0:
// see Config.ChainConfig), the Bitcoin network, view lag and keystone
// interval, the sequencer addresses, the fork schedule, the dev accounts,
// the predeploys, the Bitcoin view update (the system transaction that
// opens every block), and the genesis file that defines a network
// (DESIGN 9).
//
// # Genesis file (file.go, filejson.go)
//
// A network is one JSON document, format version 1 (FileVersion), every
// field required unless said otherwise:
//
//	version            1
//	chain_id           EIP-155 chain id, 1 to 2^53-1
//	genesis_time       genesis block time, Unix seconds
//	bitcoin            {network, genesis_height, genesis_hash}: the Bitcoin
//	                   network and the genesis's Bitcoin view, by height
//	                   and hash (display order, 64 hex digits); a node
//	                   waits until its index's most-work chain has that
//	                   hash at that height (internal/node WaitGenesisBlock)
//	sequencers         [{address, name (optional)}]: one seal key each
//	block_time         seconds
//	gas_limit          per block
//	initial_base_fee   wei, decimal string
//	view_lag           Bitcoin blocks
//	keystone_interval  L2 blocks
//	pop                {superfinal_depth, fork_table, reward_delay, reward
//	                   (wei, decimal string), reward_table, max_rewarded}
//	forks              feature -> activation L2 block (KnownFeatures;
//	                   today each must be present, at 0: Config.Active)
//	alloc              address -> {balance (wei, decimal string), nonce,
//	                   code, storage (optional)}
//	tunnel             the BTC tunnel (DESIGN 6), absent or null for none:
//	                   {signers (x-only keys, 64 hex digits), k,
//	                   recovery (x-only keys, leaf order), m,
//	                   recovery_delay, deposit_confirmations,
//	                   withdrawal_confirmations, min_deposit_sat,
//	                   max_deposits_per_block (within the system gas
//	                   budget, see Constants), rederive_blocks,
//	                   tunnel_address, hbtc_address} (tunnel_file.go)
//
// Decode is strict: unknown fields, duplicate keys (at any depth, also an
// address or slot written in two cases), fractions, exponents, negative
// numbers, numbers above 2^53-1 and anything after the object are
// refused; every error is a *FieldError naming the field by its path
// ("pop.superfinal_depth", "sequencers[1].address") and saying what to
// set, or gives the line and column of broken JSON. ErrFile is a file
// that does not parse; ErrConfig a value that does not validate (the
// same rules as Config.Validate, whose errors name the same paths).
//
// Hash is keccak256 of Canonical: the file's fields in normal form
// (hex lowercase, an account's zero nonce, empty code and storage left
// out, "tunnel" null when there is none, so files without a tunnel kept
// their hash when the tunnel came) serialized as RFC 8785 (JCS): keys sorted, no
// whitespace, numbers as decimal integers. For a file Encode wrote it is
// `jq -cjS . FILE | cast keccak`. testdata/genesis_v1_hash.json pins it
// for testdata/genesis_v1.json, whose genesis block is the devnet golden
// genesis (testdata/devnet_genesis.json).
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
//	system address         0xDeaDDEaDDeAdDeAdDEAdDEaddeAddEAdDEAd0001 (no key)
//	HVMState predeploy     0x48656d6900000000000000000000000000000001
//	view update gas        1,000,000
//	system gas budget      half the gas limit (SystemGasBudget): the
//	                       worst case of a block's system transactions
//	                       (SystemGas: view update, PoP rewards, the
//	                       tunnel's, tunnelgas.go) must fit in it, so
//	                       users keep the other half and system work
//	                       alone never raises the base fee
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
// (every node must use the same values) but changes no genesis block
// hash; the genesis file's hash covers it.
//
// # Tunnel (tunnel.go; Config.Tunnel, nil = no tunnel)
//
// The vault's Bitcoin address is not configured: internal/tunnel derives
// it from the keys, thresholds, N and the Bitcoin network, so it cannot
// disagree with them. Defaults (DefaultTunnelConfig):
//
//	recovery delay N          4,032 Bitcoin blocks (devnet 144)
//	deposit confirmations     6
//	withdrawal confirmations  6
//	min deposit               10,000 sat
//	max deposits per block    64 (1 to 1,000)
//	rederive blocks           6
//	tunnel predeploy          0x48656d6900000000000000000000000000000002
//	hBTC predeploy            0x48656d6900000000000000000000000000000003
//
// Validate: 1 to 999 distinct valid x-only keys per set (Bitcoin Core's
// multi_a limit), 1 <= k <= signers, 1 <= m <= recovery keys,
// 2 <= N <= 65,535, confirmations and rederive blocks >= 1, the minimum
// within 1 sat to 21M BTC, two distinct non-zero predeploy addresses
// that no system contract, HVMState or alloc entry uses.
//
// Dev tunnel (DevTunnelConfig, used by internal/devnet): a 2-of-3
// committee at m/86'/1'/0'/0/{0,1,2} and a 2-of-3 recovery set at
// m/86'/1'/1'/0/{0,1,2} of DevMnemonic (public keys pinned in
// testdata/genesis_v1_tunnel_hash.json), N = 144.
//
// # The genesis state
//
// SystemContracts (EIP-4788, EIP-2935, EIP-7002, EIP-7251 system
// contracts, as go-ethereum's dev genesis), Predeploys (HVMState holding
// the genesis Bitcoin view), with a tunnel TunnelPredeploys
// (tunnelpredeploy.go: contracts/Tunnel.sol at TunnelAddress holding the
// hBTC address and the deposit cursor at the genesis view's height, so
// deposits in Bitcoin blocks at or below the genesis view are never
// derived; contracts/HBTC.sol at HBTCAddress holding the Tunnel address
// in slot 3), and Spec.Alloc. The genesis block has no
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
//  4. Nothing here panics on input: bad configs, views, mnemonics and
//     genesis files are errors wrapping this package's sentinels
//     (FuzzDecodeFile).
//  5. Decode(Encode(f)) and Decode(Canonical(f)) give f's hash again.
//
// Layer: pure rules (DESIGN 3, 9).
package genesis

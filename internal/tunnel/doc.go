// Package tunnel is the Bitcoin side of the BTC tunnel (DESIGN 6): the
// Taproot vault every node derives from the genesis, its output
// descriptor, and the parser that turns a Bitcoin transaction into
// deposits. It is pure: no goroutines, clocks or I/O; the derivers in
// internal/chain call it with the Bitcoin view's data.
//
// # Vault (vault.go, descriptor.go)
//
// NewVault(genesis.Config.Tunnel, network): a P2TR output whose internal
// key is BIP-341's NUMS point H = lift_x(SHA256(G)) =
// lift_x(0x50929b74...803ac0), so there is no key path, and two leaves of
// depth 1 (leaf version 0xc0):
//
//	committee  sortedmulti_a(k, signers):
//	           <s_1> OP_CHECKSIG <s_2> OP_CHECKSIGADD ... <k> OP_NUMEQUAL
//	           keys sorted by their 32 bytes
//	recovery   and_v(v:older(N), multi_a(m, recovery)):
//	           <N> OP_CHECKSEQUENCEVERIFY OP_VERIFY
//	           <r_1> OP_CHECKSIG ... <m> OP_NUMEQUAL, keys in genesis order
//
// A spend of the committee leaf carries one witness item per signer, the
// last sorted key's first (the first key's signature ends on top of the
// stack), exactly k of them non-empty BIP-340 signatures (SIGHASH_DEFAULT),
// then the leaf script and ControlBlock(leaf). The recovery leaf needs a
// version-2 transaction whose input's sequence is at least N (BIP-68
// blocks).
//
// The descriptor, with its BIP-380 checksum (Checksum: the spec's
// polymod over its input charset), is
//
//	tr(50929b74...803ac0,{sortedmulti_a(k,S...),and_v(v:older(N),multi_a(m,R...))})#xxxxxxxx
//
// with the signers listed sorted, so it is the same for every order of
// the genesis's signers. Bitcoin Core 26+ imports it into a watch-only
// descriptor wallet (`hemi tunnel vault` prints the commands).
// testdata/vault_dev.json pins the devnet vault: scripts, output and
// checksums computed independently by rust-miniscript, the address by an
// independent bech32m encoder; TestVaultSpends spends both leaves in
// btcd's script engine under the standard flags.
//
// # Deposits (deposit.go)
//
// ParseDeposits(tx, vault pkScript, rules): the recipient is the first
// OP_RETURN output whose script is exactly `6a 14 <20 bytes>`,
// `6a 28 <40 hex digits>` or `6a 2a "0x" <40 hex digits>` (either case;
// the zero address does not count); each output paying the vault is one
// deposit, in output order:
//
//	mint    recipient and amount >= min_deposit_sat
//	refund  reason 1 no recipient, 2 below the minimum; paid to the
//	        first input's previous output script, less its fee
//	record  reason 3 refund script not P2PKH/P2SH/P2WPKH/P2WSH/P2TR,
//	        4 amount - vsize(refund output) x fee rate not above the
//	        script's dust limit (Core's: 546/540/294/330/330),
//	        5 a coinbase (immature 100 blocks, no input to refund)
//
// A transaction that spends a vault output (rules.SpendsVault, which the
// deriver checks against the index) has no deposits. Reason numbers are
// consensus (the predeploy's events carry them). `hemi deposit` writes
// the raw form (RecipientScript). FuzzParseDeposits and
// FuzzParseRecipient check the invariants on any input.
//
// # Gas budget (genesis/tunnelgas.go, gas_test.go)
//
// The tunnel's system transactions come first in a block and must never
// run out of gas (a mint cannot revert), so each has a fixed Gas: its
// worst case measured by TestSystemTxGasBudget (every slot it writes
// going from zero, the longest loops the derivers allow: 100 batch
// inputs, 25 outputs, a paid marker moving the queue head over
// MaxQueueScan items) plus genesis.GasMargin (10%), rounded up to 1,000.
// The test fails when a constant is below what it measures or above the
// margin. A block's worst case (genesis.Config.SystemGas: the view update,
// the fee rate, the cursor and max_deposits_per_block deposits, the
// costlier batch call with MaxFlagsPerBlock flags and the shortfall
// flag, the PoP rewards) must fit in genesis.SystemGasBudget, half the
// block gas limit: users keep at least the other half, and system work
// alone never raises the EIP-1559 base fee (its gas used stays at most
// the target). Genesis validation refuses a tunnel section that does
// not fit, naming the field and the value that would. The derivers also
// cap by rules.Derivation.GasLeft (what is left of the budget after the
// derivers before them, less what the PoP rewards after them reserve),
// in block order: deposits carry over, a batch call, a flag or the
// shortfall flag waits, the same on every node, so a block whose system
// transactions exceed the budget cannot be derived.
//
// # Bounded reads (vaultwatch.go)
//
// The withdrawal deriver runs every block and the vault's history only
// grows, so it never walks it: it reads the vault's oldest
// MaxPayoutInputs unspent outputs and its balance (the index's
// per-script unspent set), the deposits from the deposit cursor on, and
// the vault spends not yet resolved (marked paid or flagged), which a
// memo keyed by (parent block, view) carries from block to block: each
// block reads the spends of the Bitcoin blocks new since its parent's
// view (after a Bitcoin reorg, from the fork point). The memo changes the
// work, never the result (a deriver without it derives the same
// transactions: TestVaultWatchMemoEqualsFullScan, every wdEnv step), so
// it is not consensus state; after a restart the first block reads
// every spend once. TestVaultReadsBounded: the index reads per block
// stay the same as the vault's history grows.
//
// # Invariants
//
//  1. The vault is a function of (signers as a set, k, recovery in order,
//     m, N, network): no address is configured anywhere.
//  2. Nothing here panics on input: a bad configuration is a
//     *genesis.FieldError, an unknown leaf ErrVault, a bad descriptor
//     ErrDescriptor; ParseDeposits answers for any transaction.
//  3. Every vault output of a transaction that does not spend the vault
//     is exactly one of mint, refund, record.
//  4. The system transactions of a block never ask for more than
//     genesis.SystemGasBudget, and each never uses more than its Gas.
//
// The signer set is the genesis set for now; rotating it (epochs, each
// with its own vault, approved by k of the current committee after a
// delay, old vaults migrated by refresh batches) is designed in
// docs/tunnel-rotation.md and built later.
//
// It imports the formats and rules below it (chain/block, chain/genesis,
// chain/rules, finality/tracker) and verify/vault, no store or service.
//
// Layer: pure rules (DESIGN 6).
package tunnel

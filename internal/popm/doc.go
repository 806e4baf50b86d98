// Package popm is the PoP miner: it publishes every new keystone of its L2
// node in a Bitcoin transaction (DESIGN 4), pays and bumps the fees, and
// republishes after Bitcoin reorgs, from its own single-key wallet.
//
// # Shape
//
// Miner (popm.go) is the driver: Config, New, Run. It reads keystones
// from a Keystones source and the Bitcoin chain from a Bitcoin source
// (interface.go), each with an in-process adapter in the assembly
// (internal/node: Keystones over the L2 chain's Subscribe;
// internal/node/indexadapt: PoPMiner over the index plus its P2P client,
// for devnet and tests) and a remote one (remote.go: the node's JSON-RPC WebSocket and
// its Bitcoin query API, for `hemi popm`). Every decision is made by
// Machine (machine.go), a pure state machine: events in (new keystone, a
// Bitcoin snapshot as of a new tip, a broadcast verdict, a fee tick),
// transactions to send and notes out; no goroutines, clocks or I/O.
//
// # Policy
//
//   - Newest only: a keystone commits to every earlier one of its chain,
//     so when several wait (fees above the cap, a backlog, a restart)
//     only the newest is published. A keystone is pending while no live
//     transaction of the miner carries it.
//   - The transaction: one input, output 0 the 83-byte PoP OP_RETURN
//     (pop.Keystone.Script), output 1 the change back to the wallet; the
//     input signals BIP-125 replaceability. P2WPKH: at most 202 vB
//     (10.5 + 68 + 92 + 31 with a 72-byte signature), P2TR 203 vB.
//   - Fee rate: the index's estimate for Config.FeeTarget
//     (index.FeeEstimator: vsize-weighted median rate of each of the last
//     12 blocks, PoP transactions left out so publications never price
//     themselves, the target-th highest), at least 1 sat/vB, paid on the
//     vsize upper bound (PoPVSize). Above Config.MaxFeeRate (default 100 sat/vB) the
//     keystone waits, reported once.
//   - Coins: the change of the newest unconfirmed transaction is spent
//     first (chained change, at most MachineConfig.MaxChain deep), else
//     the smallest confirmed coin large enough. Every coin of the wallet
//     is read (page by page, as of one block); those too small to pay a
//     PoP transaction even at 1 sat/vB are left out of the state. An
//     outpoint spent by any live transaction is never spent again, so
//     the miner never double-spends its own unconfirmed outputs.
//   - Bump: when the oldest unconfirmed transaction has waited
//     Config.BumpBlocks blocks, it and every transaction built on its
//     change are replaced by one transaction spending the same input and
//     carrying the newest keystone. BIP-125: its rate is above every
//     replaced one's (+25%, at least +1 sat/vB) and its fee at least
//     their sum plus 1 sat/vB of its own size. btcd v0.26.2's mempool
//     (the embedded regtest node) enforces exactly these rules
//     (RejectReplacement is false), as Bitcoin Core does. A bump wanted
//     above the cap is made at the cap when that still pays more than the
//     replaced chain (BIP-125), and not at all otherwise: fee spikes never
//     drain the wallet; the most a keystone ever costs is MaxFeeRate x
//     PoPVSize.
//   - Reorgs: every snapshot says where each watched transaction is mined
//     as of the tip; one that was mined and no longer is gets sent again
//     (the same transaction), and bumping restarts from that tip. A
//     transaction is watched until it is Config.KeepDepth deep.
//   - Conflicts: an unconfirmed transaction whose input the chain as of
//     the tip spends otherwise (a double spend by another wallet user, or
//     a reorg that took the input away) is dropped with every transaction
//     built on it, and the newest keystone is published again from
//     another coin (Bitcoin.Spender answers for the watched inputs).
//   - Broadcasts: each transaction is broadcast in its own goroutine and
//     its verdict comes back to the loop as an event, so a broadcast
//     waiting for slow or silent peers holds back neither the next
//     keystone nor the other transactions (after a reorg every orphaned
//     one is re-sent at once); a transaction is never broadcast twice at
//     once. A peer that read the announcement and fetched nothing
//     already has the transaction (p2p's Known: in its chain, or as an
//     orphan, as btcd keeps re-sent transactions right after a reorg):
//     that counts as accepted; if it is in fact stuck, the bump replaces
//     it after BumpBlocks.
//   - Refusals: a refused new transaction is dropped with its chain and
//     its input avoided until the next snapshot; a refused replacement
//     brings the replaced chain back. A replaced transaction mined anyway
//     brings it back too.
//
// # Crash safety
//
// The machine's whole State is one JSON value in pebble, written with a
// synced Set after every step and before any transaction of that step is
// sent. At start, Restart resends every unconfirmed transaction, so a
// crash between persisting and sending loses nothing, and a keystone
// already carried by a persisted transaction is never published twice.
//
// # Rewards
//
// Wallet.RewardAddress is the L2 address PoP rewards go to: the Ethereum
// address of the key signing the first input (P2WPKH: the witness public
// key; P2TR: the taproot output key).
//
// Layer: services (DESIGN 4).
package popm

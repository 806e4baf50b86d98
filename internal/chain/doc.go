// Package chain is the L2 chain (DESIGN 2, 3): it executes blocks with
// go-ethereum's EVM and the hVM precompiles, validates the blocks it is
// given, builds blocks for the sequencer, stores blocks, receipts and
// state on pebble, and answers the queries the RPC layer needs.
//
// # Parts
//
//   - Processor (process.go): executes one block, doing no I/O other than
//     through the StateDB and the BitcoinView it is handed. It builds ONE
//     vm.EVM per block over hvm.WarmingStateDB (0x40-0x49 are warm like
//     Ethereum's precompiles, hvm doc "EIP-2929"), installs
//     hvm.Merge(rules, hvm.Precompiles(view, params)) with SetPrecompiles,
//     and runs: EIP-4788/EIP-2935 pre-execution system calls (beacon root
//     zero), the system transactions, the user transactions
//     (core.ApplyTransactionWithEVM), the EIP-7002/EIP-7251 queues. Then
//     it checks the view's Err() (hvm invariant 3): a view that failed
//     fails the execution with ErrViewFailed, which is not a verdict on
//     the block.
//   - Rules (validate.go): pure header and Bitcoin-view rules.
//   - Derivers (derive.go): a block's system transactions are derived by
//     the ordered list Config.Derivers (the rules.Deriver seam) that the
//     assembly installs (internal/chain/derive: ViewUpdate, then
//     PoPRewards; the tunnel's go between them, DESIGN 3.3), each a pure
//     function of the block's parent, number and view; the chain imports
//     none of them. derive.DeriveSystemTxs is the default list as a pure
//     function of the number, view and the publications of the keystone
//     the block pays (DeriveRewards, ResolvePublishers, pop.PublisherOf).
//   - Chain (chain.go, query.go, build.go): storage, InsertBlock and
//     InsertChain (insert.go: a batch, its senders recovered in the
//     background a few blocks ahead), Prepare (prepare.go: a gossiped
//     block's senders recovered, and the accounts they touch read into
//     a cache its execution then reads, in the background as soon as it
//     is accepted; it judges nothing, so consensus is unchanged),
//     BuildBlock/CommitBuilt (or a Builder: NewBuilder, Add in
//     increments, Finish — the same block BuildBlock builds from all the
//     candidates at once), queries, Subscribe.
//   - SenderCache (sendercache.go, Config.SenderCache): senders this
//     node recovered before their transactions reached a block (netp2p's
//     pending-transaction feed fills it), by transaction hash; Prepare
//     and InsertBlock recover through a signer that answers from it and
//     falls back to the real one. Entries are the node's own recoveries,
//     the hash covers the signature and an entry serves only an equal
//     signer, so the answer is the signer's and consensus is unchanged.
//   - Forks (fork.go): side branches, PoP fork choice through the
//     ForkChoice interface (internal/finality implements it), reorgs,
//     Reconsider, SubscribeReorgs.
//   - Lookups (lookup.go): TxLookup and Receipt read one transaction and
//     one receipt of a block.
//   - Bitcoin (interface.go): what the chain asks of the Bitcoin index;
//     the assembly adapts the index to it (internal/node/indexadapt), so
//     the chain imports no Bitcoin store.
//
// # System transactions (DESIGN 3.3)
//
// A system transaction mints Mint to From, then From calls To (or
// creates, with From's nonce; a call increments From's nonce) with Value
// and Data under Gas, at gas price 0: no signature, fee, intrinsic gas,
// nonce, EOA or balance-for-fee check, no refund. A failing one (revert,
// out of gas, value From cannot pay) still gets a receipt (type 0x7E,
// status 0) and keeps its mint and nonce. Gas: the sum of the block's
// system transactions' Gas must fit in the block gas limit; their used gas
// counts in the receipts' cumulative gas and the header's GasUsed, and
// user transactions get the gas limit minus what the system transactions
// used. The derivers keep the sum within the system gas budget, half the
// gas limit (genesis.SystemGasBudget, validated against the genesis's
// worst case): deriveSystemTxs gives each deriver what is left of it,
// less the MaxGas of the rules.GasBounded derivers after it
// (rules.Derivation.GasLeft), and the tunnel's derivers stop there.
//
// # PoP rewards (issue 4)
//
// Publishers of a keystone are paid by system transactions of a later
// block, on the schedule genesis.PoPConfig sets (a chain parameter; the
// devnet's defaults are in the genesis package doc):
//
//   - When: block n pays keystone K = n - RewardDelay when RewardDelay >
//     0 and K is a positive multiple of KeystoneInterval
//     (derive.RewardedKeystone). K is n's ancestor at that number on n's own
//     branch, so a side branch pays its own keystones, and each keystone
//     of a branch is paid exactly once, by one block.
//   - What counts: the publications of K's id (the index's
//     Publications, pop's exact 83-byte form only; see internal/btc/index
//     doc) as of n's Bitcoin view: the view block and its ancestors, also
//     when the view has since been reorged out of Bitcoin's best chain,
//     so every node, at any time, derives the same list.
//   - Who: the publisher is the Ethereum address of the secp256k1 key
//     that signed the PoP transaction's first input (pop.PublisherOf: P2WPKH,
//     P2PKH, or P2TR key path, whose output key, with even Y, is the
//     address). The publisher's Ethereum key is the same secp256k1
//     secret (for P2TR, the BIP 86 tweaked one). Other spends (script
//     paths, P2SH, multisig, coinbases) are not identified and earn
//     nothing. Publishers are looked up (Bitcoin.Publisher, reading the
//     transaction and the output it spends) only for publications that
//     could be paid (derive.ResolvePublishers: within the reward table's
//     window, until MaxRewarded distinct publishers are known, once per
//     transaction); the rest cannot be paid whoever sent them, so the
//     result is the same and a flood of publications costs no reads.
//   - How much: in Bitcoin order (height, position, output), h0 = the
//     first publication's height; a publication at height h earns
//     Reward * RewardTable[h-h0] / 100, nothing beyond the table; one
//     reward per publisher address (its earliest publication); at most
//     MaxRewarded rewards, the earliest first.
//   - The transaction: From genesis.SystemAddress, To the publisher,
//     Mint = Value = the amount, Gas genesis.RewardGas (50,000), no data,
//     SourceHash block.SourceHash(block.DomainPoPReward, txid, vout). An
//     EOA always receives it. A contract that reverts or needs more gas
//     gets nothing: the receipt has status 0 and the minted amount stays
//     with SystemAddress (system transaction semantics above); the
//     reward is not retried.
//   - Bad input: publications of an id that no keystone of the branch
//     has ("keystones of unknown blocks") are indexed by the Bitcoin
//     index but never asked for, so they pay nothing; duplicates by one
//     publisher pay once; malformed PoP outputs are not indexed at all.
//     A view the index has not indexed makes the derivation fail with
//     ErrViewNotReady (wait), as the view rules do. A block whose rewards
//     differ in any field, order or count is refused with ErrBadSystemTxs.
//
// # Validation order (InsertBlock)
//
// Known block (stored, canonical or not: ErrKnownBlock); parent stored
// (any stored block, else ErrUnknownParent); header rules against the
// parent (number, timestamp > parent's and at most
// MaxFuture ahead of the Clock, gas limit = the configured one and within
// EIP-1559 drift, gas used <= limit, base fee = eip1559.CalcBaseFee,
// fork-dependent fields as shapeHeader sets them, Extra record, MixDigest
// = the view hash, seal by a configured sequencer); body (system txs
// valid, TxRoot); Bitcoin view rules (Rules.CheckIndexedView: indexed, else
// ErrViewNotReady; height as recorded; at least ViewLag below the Bitcoin
// tip, else ErrViewNotReady; same as, a descendant of, or more work than
// the parent's view, else ErrBadView); system transactions equal to the
// ones derived from the parent's branch; execution on the parent's state
// (BLOCKHASH walks the parent's branch); gas used, bloom,
// receipts root, requests hash and state root equal to the header's.
// Every rejection is a kind wrapping ErrInvalidBlock; ErrViewNotReady
// means wait. The view rules use only Bitcoin headers, which the index
// never forgets, so a node syncing old L2 blocks applies them exactly as
// a node at the tip, also to views since reorged out (tested).
//
// # Storage
//
// One pebble database (chaindb: go-ethereum's ethdb interface over pebble,
// with L0 compaction set for a state flush every block) under rawdb: headers,
// header numbers, canonical hashes, bodies' user transactions
// (types.Body), tx lookup entries (system and user hashes -> number),
// head header and head block hashes. Our own keys (store.go):
// "hemi-stx-" number||hash -> the block's system transactions,
// "hemi-rcpt-" number||hash -> receipts (system receipts carry what
// rawdb's storage form drops: type, gas used, created address),
// "hemi-txl-" tx hash -> number||block hash||index (our tx lookups;
// rawdb's are no longer written and only read for older databases),
// "hemi-tip-" hash -> number (the side-branch tips), "hemi-ks-" keystone
// id -> block hash (keystone.go). Every block is stored with its state,
// canonical or not.
//
// # Forks (DESIGN 4)
//
// A valid block whose parent is the head becomes the head. A valid block
// on any other stored block is stored on its side branch; the chain then
// walks that branch back to the canonical chain (the fork point), lists
// the keystones of both branches above it (tracker.KeystoneRef: number and id)
// and asks ForkChoice.Prefer(current, candidate). Only a yes switches; a
// tie, a refusal or no ForkChoice at all keeps the incumbent. ForkChoice
// owns the superfinal rule (it refuses when current[0] is superfinal);
// the chain adds two guards of its own: a branch forking more than
// MaxReorgDepth (default 10,000) blocks below the head is never asked
// about, and when the ForkChoice is also a Finalizer, a yes for a branch
// forking below its Finalized block is refused (logged at Error). Side
// tips are persisted; Reconsider asks again about each (highest first,
// once per call) after Bitcoin publications changed. Side branches are
// never pruned: they cost only their blocks, and show an equivocation.
//
// A reorg is ONE batch (with the new block when a block arrival causes
// it): canonical hashes of the new branch from the fork point's child to
// its tip, deletion of canonical hashes above that tip (a switch to a
// shorter branch), tx lookups of the new branch, the old head as a side
// tip, the head pointers. No state is re-executed: every block's state
// is stored. Tx lookups of the old branch stay and are refused on read
// (their block is not canonical). Subscribe re-delivers from the fork
// point's child (a reader sees a ParentHash that is not its last
// header's hash); SubscribeReorgs delivers each Reorg (fork point, old
// and new blocks).
//
// State: core/state over triedb with the hash scheme (hashdb), every
// block's trie nodes flushed to disk when it is committed. Nothing is
// pruned: the state of every block stays available (StateAt), so a
// reorg of the L2 tip, tracing and eth_call at old blocks need no
// re-execution. The path scheme (pathdb) would keep only 128 diff layers
// in memory and needs its journal and a rewind-and-replay on an unclean
// stop; the hash scheme with a flush per block makes crash safety a
// matter of write order. Cost: disk grows with every block's changed
// nodes; garbage collection of old states (reference counting in hashdb)
// is for later.
//
// # Invariants
//
//  1. Crash safety: a block's state (trie nodes, code; content-addressed,
//     idempotent) is flushed before ONE batch writes the block, its
//     receipts and lookups, its canonical hash and the head pointers; the
//     batch is fsynced unless Config.NoSync. A kill -9 at any moment
//     reopens at the last block whose batch was written, with its state
//     (tested with a child process killed while importing). Pebble's WAL
//     is ordered, so even unsynced writes are lost only as a suffix.
//     With Config.FlushAfter (a follower's chain, lazyflush.go) a block
//     that extends the head is written first and its trie nodes are
//     flushed FlushAfter later, in block order; meanwhile its state is
//     served from the trie database's memory. A kill -9 in between
//     leaves heads whose state root is not on disk: open walks back to
//     the newest block whose root is (flushed nodes are a prefix of the
//     write order, children before parents, so a present root has its
//     whole trie) and executes the stored blocks above it again, each
//     checked against its header's state root, so it reopens at the
//     same head, with its state (tested in-process and with a child
//     process killed while inserting). Side blocks, reorgs, built blocks
//     and Close flush everything waiting first.
//  2. Nothing partial: a block that fails any check writes nothing.
//  3. The head moves, under one mutex, to a valid child of the head or, by
//     a reorg ForkChoice chose, to another stored branch; queries read the
//     database concurrently and see the head before or after an
//     insertion, never in between (the canonical index is written before
//     the in-memory head moves). During a reorg a reader may, for that
//     moment, get a block of the new branch by number below the old head
//     it still sees; Subscribe and the RPC filters check parent links, so
//     they never deliver such a mix.
//  4. Every node derives the same system transactions and executes the
//     same precompiles as of the same Bitcoin view, so every node computes
//     the same state root, also after the view's Bitcoin block was
//     reorged out.
//  5. Subscribe delivers canonical headers in order without gaps; after a
//     reorg it goes on from the fork point's child.
//
// # Not yet
//
// Inserting a long side branch block by block walks it back to the fork
// point for every block (quadratic in its length; side branches are
// rare and bounded by MaxReorgDepth). The Amsterdam fork (two-dimensional gas, block access lists) is not
// supported by the processor.
//
// Layer: stores (DESIGN 2 "L2 chain", 3).
package chain

// Package node is the assembly of one Hemi node (DESIGN 2, "Where the
// wave-2 parts live"): the one place the L2 chain, PoP finality (the
// chain's fork choice), the mempool (internal/txpool), the block
// producer (internal/sequencer) and the JSON-RPC server are built and
// wired over the node's Bitcoin layer (internal/tbc). `hemi node`, `hemi
// devnet` (internal/devnet: node + embedded regtest + PoP miner +
// banner), the end-to-end tests and the benchmarks all build through
// New (or, for a bare chain, OpenChain).
//
// # Parts
//
//   - Config, New, Run, Close (node.go): New opens the chain with the
//     node's system-transaction derivers (chainDerivers, DESIGN 3.3),
//     installs finality as its fork choice, opens the mempool and builds
//     the producer (with a key) and the RPC server (when configured); Run
//     runs them in one errgroup. The Bitcoin layer is started by the
//     caller first: the L2 genesis is read from its index, and the devnet
//     funds its PoP miner from it before the L2 starts.
//   - Adapters (bitcoin.go, indexadapt): package indexadapt adapts the
//     index to what each consumer asks (the chain's chain.Bitcoin, the
//     hVM's hvm.BitcoinView, the in-process PoP miner's popm.Bitcoin);
//     Bitcoin adds the producer's main-chain lookup (sequencer.Bitcoin).
//     The consumers keep only their interfaces, and every adapter and
//     implementation is asserted here at compile time. indexadapt is its
//     own package, importing none of its consumers' services, so the
//     consumers' own tests build on it (a test of package chain cannot
//     import this package, which imports chain). WaitIndexed waits for
//     the index to reach a height.
//   - Keystones (keystones.go) adapts the chain to the PoP miner's
//     popm.Keystones (the devnet's in-process miner).
//   - Genesis (genesis.go): the genesis of a network's genesis file
//     (internal/chain/genesis.File) over the index's most-work chain,
//     once it holds the Bitcoin block the file names (WaitGenesisBlock).
//   - Sequencer group (ha.go): with Config.HA the node is a member of a
//     raft group (internal/ha): the group is the producer's Committer and
//     runs the producer only while this member leads and is caught up;
//     TBCSync adapts the Bitcoin layer to ha.Bitcoin. With the RPC server
//     on, an ha.Relay is its Config.Relay: while another member leads,
//     transactions sent to this one are kept in its pool and relayed to
//     the leader, whose URL each member announces (ha.Config.RPCURL,
//     memberRPCURL by default: rpc.listen, its unspecified host replaced
//     by the raft address's).
//   - L2 networking (node.go newP2P): with Config.P2P listing a listen
//     address or a static peer, New builds internal/netp2p over the chain
//     (identity key in Dir, genesis hash = the genesis file's hash, finality's finalized number, the index's
//     best header) and Run runs it: a follower imports the blocks peers
//     gossip, a node with a key publishes the blocks it seals (in a raft
//     group, only the member that sealed a block publishes it; its
//     producer starts each leadership with a block at once,
//     sequencer.Config.StartAtOnce).
//   - Head records (node.go logHeads): one Info line "new head" per
//     canonical head (number, hash, parent), blocks of a catch-up thinned
//     out; `hemi bench net` reads them for propagation and reorgs.
//   - Address index (node.go): unless Config.NoAddrIndex, New opens the
//     explorer's address index (internal/explorer/addrindex, in
//     Dir/addrindex) over the chain and hands it to the RPC server
//     (Otterscan's ots_search*); Run runs it beside finality.
//   - Settled heads and the window after a block (settle.go,
//     gcpace.go): every node of a network inserts a gossiped block at
//     the same moment, so the work a node does right after its head
//     moves competes with the other nodes' insertions. The readers of
//     heads that can wait (the address index and the vault watch; not
//     finality, whose heads must move with Bitcoin blocks only) read them
//     through chain.SubscribeSettled, Config.HeadSettle (default 200 ms,
//     at most a quarter of the block time) after the head moved; a
//     follower's chain flushes a new head's trie nodes as late
//     (chain.Config.FlushAfter); and, unless Config.NoGCPacing, a
//     garbage collection the runtime would start during the next block
//     runs at the settled head instead (paceGC). The head records,
//     gossip publishing, RPC subscriptions and the mempool (a
//     follower checks what it forwards against it) still follow the
//     head at once.
//
// # Seams for wave 2
//
// The block producer hands each sealed block to a sequencer.Committer
// (alone, the chain's CommitBuilt; in a raft group, ha.Group.Commit,
// which commits to the group first). Derivers are installed here in DESIGN 3.3's order
// (the tunnel's go between the view update and the PoP rewards). L2
// networking (DESIGN 9) and the explorer (DESIGN 10) become services of
// Run beside the RPC server.
//
// Layer: assembly (DESIGN 2).
package node

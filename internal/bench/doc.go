// Package bench holds the benchmarks run by `hemi bench`, which compare our
// code with a reference implementation measured in the same run.
//
// btc-index (RunBTCIndex) generates, or reuses from a cache, a regtest chain
// of realistic transactions (P2WPKH and P2TR spends with 1-3 inputs, two
// outputs, some OP_RETURNs and PoP publications) built with
// internal/btc/txgen, serves it from a loopback P2P peer
// (internal/btc/peerserve) and times two fresh nodes syncing it: ours
// (internal/tbc, run in a child process so its peak RSS is its own) and btcd
// with --txindex --addrindex, and sizes our node's data directory after
// the sync. The last line it prints is, exactly:
//
//	btc-index ours_tx_s=<n> btcd_tx_s=<n> ratio=<ours/btcd> rss_mb=<ours peak> bytes_per_tx=<ours data dir / txs>
//
// RunBTCIndexScale (--scale-txs) syncs our node alone on the normal chain
// and on a larger one and compares them (btcindex_scale.go); RunHVM
// (`hemi bench hvm`) times the hVM address queries on a busy address
// against a quiet one (hvm.go). RunRestart (restart.go; issue 10's
// restart_ratio, for `hemi bench net`) builds once, and caches under the
// cache dir, a node data directory with 1,000 L2 / 100 Bitcoin blocks
// and one with 100,000 / 10,000 (embedded regtest, empty sealed L2
// blocks, finality having followed both), restarts a copy of each in
// process and prints the time to RPC serving the head and to finality
// caught up, and their ratios, big over small.
//
// net (RunNet, net.go; issue 10) runs a raft group and followers as node
// processes (internal/devnet/cluster) under load, kills the leader, and
// reads every figure from the nodes' own JSON logs after they stopped
// (netlog.go: the leader's "block committed" with committed_at, each
// node's "new head", side blocks, gossip evidence; FuzzParseNodeLog);
// then RunNetSync (netsync.go: the follower a child process,
// netsync_child.go, the source chain cached) and RunRestart. Its last
// line is, exactly:
//
//	net propagation_p50_ms=<n> propagation_p99_ms=<n> sync_blocks_s=<n> sync_ratio=<n> failover_p50_ms=<n> failover_max_ms=<n> reorged=<n> equivocations=<n> rss_mb=<n> restart_ratio=<n>
//
// Invariants:
//   - The generated chain is a pure function of its parameters (seed, block
//     and transaction counts, generator version), so a cached file is valid
//     for exactly the key in its name and header.
//   - The chain file decoder (DecodeChainFile) validates every length,
//     offset, count and the header hash chain before anything is served; it
//     never panics on input and is fuzzed.
//   - No timing is asserted in tests; the CI test checks only correctness
//     (both nodes reach the same tip, ours indexed every transaction).
//
// Layer: test support (DESIGN 7).
package bench

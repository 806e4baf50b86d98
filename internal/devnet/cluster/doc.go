// Package cluster runs a local Hemi network of separate node processes:
// the embedded regtest Bitcoin node (internal/btc/regtest) in the calling
// process, mining on an interval, one genesis file (genesis.DevnetFile)
// whose sequencer set is N deterministic dev keys, N `hemi node
// --sequencer` processes forming one raft group (internal/ha) and M
// follower processes, all on free loopback ports.
//
// Why processes and not goroutines: the multi-node tests kill -9 the
// leader, which only a process boundary makes real (raft's files, the
// chain's database and the sockets are left as a crash leaves them).
//
// Each node gets its own directory holding a config file (node.toml), its
// seal key (seal.key, mode 0600: keys never appear on a command line,
// where ps shows them) and its log (node.log, appended across restarts).
// Children are in their own process group and, on Linux, get SIGKILL
// when the parent dies (Pdeathsig), so a crashed test or a Ctrl-C'd
// `hemi devnet` leaves no orphans.
//
// Every node listens for L2 peers (internal/netp2p) on its own port and
// lists every other node as a static peer: the harness writes each
// node's libp2p identity key before the first start, so the peer ids are
// known up front and stay the same across restarts.
//
// Layer: assembly (DESIGN 2).
package cluster

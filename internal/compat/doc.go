// Package compat is the real-client compatibility suite: its tests run the
// clients people use against Hemi — Foundry's forge and cast, ethers v6 and
// viem under node, Solidity compiled by solc-js — as subprocesses against
// the whole devnet in process (devnettest.Stack: embedded regtest Bitcoin, the
// indexer syncing from it over P2P, the L2 chain, mempool, sequencer and
// finality service, the PoP miner, JSON-RPC on a loopback port), and check
// what the clients report against the chain, the Bitcoin index and the
// finality service, never just their exit status.
//
// The stack runs a short PoP schedule (a keystone every 3 blocks,
// superfinal at 2 Bitcoin confirmations) and mines Bitcoin only when a
// test asks, so the safe and finalized tags the clients read are real
// blocks above the genesis that stay put while a client runs.
//
// The tools come from `make test` (scripts/install-tools.sh) through
// HEMI_FORGE, HEMI_CAST and HEMI_ETHERS_DIR, found by internal/testtools
// (else under .tools, else on PATH); each test skips with a clear
// message only when its tool is absent. forge compiles with solc-js through
// testdata/solc.mjs (no native solc is reachable offline), configured in a
// generated foundry.toml with offline = true. Every tool runs with HOME set
// to a temporary directory so nothing is written to the user's home.
//
// The package holds tests only; the Solidity sources, the forge project and
// the JavaScript clients are in testdata.
//
// Layer: test support (DESIGN 7).
package compat

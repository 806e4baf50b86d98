// Package verifytest builds complete, valid provenance bundles in memory
// for the verifier's tests, fuzz targets and benchmark: a regtest Bitcoin
// chain with real proof of work from the regtest genesis, a deposit paying
// a vault derived by verify/vault, an L2 chain of sealed headers whose
// tries (transactions, receipts, state with the tunnel's minted[] record
// and EIP-2935 history) are real go-ethereum Merkle-Patricia tries, and a
// PoP transaction publishing the keystone. Every part can be bent (Spec)
// so that exactly one link of the chain of trust breaks.
//
// It imports nothing of the node (like verify), so the verifier's tests
// stand alone; the node's own bundles are tested against the devnet in
// internal/provenance.
//
// Layer: test support (DESIGN 8).
package verifytest

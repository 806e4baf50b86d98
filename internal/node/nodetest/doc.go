// Package nodetest starts the Bitcoin layer a node test runs over: an
// embedded regtest node with blocks mined and our Bitcoin layer synced
// from it over P2P, as `hemi devnet` runs them, shared by the tests of
// internal/node and internal/ha.
//
// Layer: test support (DESIGN 2).
package nodetest

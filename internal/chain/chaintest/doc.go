// Package chaintest gives other packages' tests an L2 chain's Bitcoin
// without a Bitcoin node: Bitcoin, a linear chain of synthetic regtest
// headers with no transactions, implementing chain.Bitcoin (and the
// explorer's and RPC's BlockTip). It is enough for the view rules
// (DESIGN 3.4) and an hVM view; every transaction read answers "none"
// (no publications, no deposit outputs, no fee statistics), so blocks
// built over it carry only the view update. Tests that need real
// Bitcoin transactions use internal/btc/indextest or a devnet stack.
// It is imported only from _test.go files.
//
// Layer: test support (DESIGN 7).
package chaintest

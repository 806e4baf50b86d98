// Package vault derives the tunnel vault's Bitcoin output script from a
// network's tunnel keys (DESIGN 6): a Taproot output with the BIP-341
// NUMS internal key (no key path) and two leaves, the descriptor
//
//	tr(NUMS,{sortedmulti_a(k,signers...),and_v(v:older(N),multi_a(m,recovery...))})
//
// It is pure (no I/O) and public, imported by the verifier (verify/),
// which must not import the node's internal packages, and meant to be the
// one derivation the node's tunnel uses too, so the vault a deposit pays
// and the vault the verifier expects cannot drift apart.
//
// Leaf scripts (tapscript, leaf version 0xc0), numbers as minimal pushes:
//
//	committee  <key1> OP_CHECKSIG <key2> OP_CHECKSIGADD ... <k> OP_NUMEQUAL
//	           (keys sorted by their 32 bytes: sortedmulti_a)
//	recovery   <N> OP_CHECKSEQUENCEVERIFY OP_VERIFY
//	           <rec1> OP_CHECKSIG <rec2> OP_CHECKSIGADD ... <m> OP_NUMEQUAL
//	           (keys in the given order: multi_a)
//
// The tree is the two leaves under one branch (BIP-341 sorts a branch's
// children by hash, so their order does not change the output key).
//
// Layer: pure rules (DESIGN 6, 8).
package vault

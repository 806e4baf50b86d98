// Package pop holds the Proof-of-Proof wire format shared by the Bitcoin
// indexer, the PoP miner and finality: the 76-byte abbreviated keystone, its
// id, and the 80-byte payload (ASCII "HEMI" followed by the keystone) that a
// PoP transaction carries in one OP_RETURN output (DESIGN section 4). With
// it, the one type of each PoP concept and its pure rules, shared by the
// node and the verifier (it imports no storage): L2Keystone (a keystone
// block), Publication with its Bitcoin order (Compare), BlockPublications
// (a Bitcoin block's PoP outputs) and PublisherOf (who published a PoP
// transaction).
//
// Invariant: Decode(Encode(k)) == k for every keystone, and a script is a
// publication only if it is exactly the 83-byte form
// OP_RETURN OP_PUSHDATA1 0x50 "HEMI" <76 bytes> with version 1.
//
// Layer: formats (DESIGN 4).
package pop

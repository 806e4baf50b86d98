// Package provenance builds provenance bundles (DESIGN 8): for an L2
// transaction (Builder.Tx) or a tunnel deposit (Builder.Deposit), one
// JSON document (verify.Bundle, format 1, documented by
// verify/bundle.schema.json) that lets anyone check offline, with the
// verifier in verify/, the chain of trust of DESIGN 1.
//
// # What a bundle holds
//
//   - The effective publication of the keystone covering the
//     transaction's block (DESIGN 4: the earliest canonical Bitcoin
//     publication of that keystone or of a later one of its branch, as
//     the finality service's tracker computes it): the PoP transaction
//     (non-witness) with its merkle branch and the coinbase's branch of
//     the same length, and the published keystone block's full header.
//   - The Bitcoin headers from the newest pinned checkpoint
//     (verify.Checkpoints) below the publication (and the deposit) to the
//     index's tip.
//   - The transaction's block header, its transaction and receipt proofs
//     (tries rebuilt from the stored block and checked against the
//     header's roots), and the link to the keystone block: the same
//     block, the L2 headers between (up to Config.HeaderLinkMax blocks),
//     or an EIP-2935 storage proof in the keystone's state (farther).
//   - For a deposit: the Bitcoin transaction with its branches, the mint
//     system transaction (found by its source hash in the block the
//     tunnel's minted[] record names), and the EIP-1186 proofs of that
//     record's two slots against the keystone's state root.
//
// A transaction whose keystone does not exist yet, or has no Bitcoin
// publication yet, is refused with ErrNotYet saying when to ask again; a
// deposit not minted yet likewise.
//
// The builder reads the chain, the finality service and the Bitcoin
// index through the narrow interfaces of interface.go; it writes nothing.
//
// Layer: services (DESIGN 8).
package provenance

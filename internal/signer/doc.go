// Package signer is a tunnel committee member (DESIGN 6 "Withdrawal",
// `hemi signer`): it runs against its OWN node, reads the open payout
// batch from that node's L2 state, re-derives the payout transaction
// itself (tunnel.BuildPayout), checks every output against what its own
// node says was burned or queued for refund, signs with its Schnorr key on
// the vault's committee leaf and posts the signatures to the tunnel
// predeploy in an L2 transaction from its own funded account. Every
// signer is also an assembler: it collects the posted signatures (the
// SignaturesPosted events), verifies each set, assembles the witness from
// k good ones and broadcasts the payout through its node's Bitcoin API,
// re-broadcasting every Rebroadcast period until it is mined, and at once
// when a payout it saw mined is reorged out of the best chain (the node
// that mined it may have kept it in its mempool or not: a restarted btcd
// keeps none; hemi_signer_reorged_payouts_total counts these).
//
// Parts: check.go (the pure refusal rules: unknown output, more than
// burned, burn not superfinal, already paid, fee above maxFee), store.go
// (what this signer signed, in pebble), signer.go (the loop), interface.go
// (what it needs of its node) and rpcnode.go (that, over the node's
// JSON-RPC and Bitcoin query API; the posts go to the same node, which
// as a follower forwards them to the sequencer (rpc.sequencer_urls), or
// to another endpoint given SubmitTo, for a follower without it: the
// signer still reads them, and everything it checks, from its own node).
//
// Invariants:
//   - A signer never signs two different transactions for one (batch,
//     attempt): the txid it is about to sign is stored with a synced write
//     BEFORE the signature leaves the process, and a stored txid that
//     differs from a later derivation is refused and logged at Error
//     level; kill -9 at any point leaves either no record (nothing was
//     posted) or the record (the same signatures are posted again).
//   - A refusal names its reason (RefusalError.Kind) and is logged once per
//     (batch, attempt, reason); nothing is signed for a refused batch.
//   - Signatures are posted only for the batch's current attempt; assembly
//     uses only signature sets that verify against the committee key of
//     their signer index, so one bad posted set never stops a payout.
//
// Layer: services (DESIGN 2 "tunnel", internal/signer).
package signer

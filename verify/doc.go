// Package verify is the offline provenance verifier (DESIGN 8): given a
// bundle (bundle.go, documented by bundle.schema.json) it checks, with no
// node and no network, the chain of trust of DESIGN 1 for an L2
// transaction or a tunnel deposit, and says in words what it proved or
// which link failed. It imports nothing of the node's internal/ packages
// (TestNoInternalImports lists its imports transitively), so it can be
// audited alone and compiled to WebAssembly (verify/wasm; its
// JavaScript hands the options over as a frame ParseInputFrame reads,
// inputframe.go).
//
// # Trust
//
// Nothing is trusted from the bundle. The Bitcoin checkpoint the header
// run starts on must be pinned here or given by the user (--checkpoint
// HEIGHT:HASH). The pins (Checkpoints) are blocks on retarget boundaries,
// each with its Source: every network's genesis (btcd's chaincfg), and
// mainnet's 705,600, 901,152 and 959,616, testnet4's 145,152 and signet's
// 300,384, taken from real headers in public test vectors. Their tests
// (pins_internal_test.go) check those headers: each hashes to its pin and
// meets its target; btcd's retarget over the period's first and last
// blocks gives the pin's bits where the vector holds them (testnet4 with
// BIP-94, mainnet 901,152); the verifier's header checks pass a real run
// after the testnet4 and signet pins; mainnet 959,616, whose own header no
// vector found holds, is proved by the real headers built on it. The
// checkpoint's bits, time and the 11 timestamps before it come from the
// bundle's anchor headers, which must hash-chain to the pinned hash, so
// median time past and the first retarget need no further trust.
//
// The L2 network's identity (chain id, sequencer set, keystone interval,
// superfinal depth, tunnel keys) is pinned (Identities: the devnet) or
// read from the user's genesis file
// (--genesis, ParseGenesis). A bundle that carries fields such as
// "genesis" or "checkpoints" is refused outright (ErrUntrusted).
//
// # Links, in the order checked (Result.FailedLink names the failing one)
//
//  1. identity: the bundle's claimed chain id and Bitcoin network are the
//     pinned or given network's.
//  2. checkpoint, headers: the bundle's anchor (the checkpoint's header
//     and the 11 before it) hash-chains to the pinned or given checkpoint
//     hash and supplies its bits, time and median-time-past timestamps;
//     every header of the run links by hash from the checkpoint, has valid
//     proof of work, the bits the retarget rules
//     require (btcd's rules, testnet4's BIP-94 included: the retarget
//     takes the period's first block's bits, and a retarget block may not
//     be dated more than 600 s before its parent), and a timestamp above
//     the median of the 11 before it.
//  3. pop-tx: the PoP transaction (non-witness bytes; 64-byte ones are
//     refused) is in a block of the run by a merkle branch, and the
//     block's coinbase by a branch of the same length, so the tree depth
//     is proved (no 64-byte transaction forgery); its output is DESIGN 4's
//     83-byte PoP script.
//  4. keystone: the keystone block's header is sealed by a sequencer of
//     the network, its number is a keystone's, and its hash, state root,
//     parent and Bitcoin view height are those the 76 published bytes
//     commit to. The blocks below it are committed to by its hash (parent
//     links, EIP-2935), so their seals are not recovered: it would add no
//     assurance and a recovery is the costliest step in WebAssembly.
//  5. for a deposit, deposit-tx (as pop-tx), vault (the output pays the
//     script vault.Derive makes from the network's tunnel keys), recipient
//     (the first parsable OP_RETURN), amount (at least the minimum).
//  6. l2-link: the transaction's block is the keystone block, or its
//     ancestor by a run of headers linked by parent hash, or by an EIP-2935 proof
//     (the keystone's state holds the block's hash in the history
//     contract's slot number % 8191).
//  7. tx, receipt: the transaction and its receipt under the block's
//     transactions and receipts roots (key RLP(index)); a signed
//     transaction's chain id must be the network's; for a deposit the
//     system transaction's source hash is the deposit's.
//  8. minted (deposit): EIP-1186 proofs against the keystone's state root
//     of the tunnel predeploy's minted[keccak256(txid || vout)] =
//     (recipient, amount, the mint's L2 block).
//  9. confirmations: the keystone's publication (and the deposit) have
//     at least the policy's Bitcoin confirmations (defaults: the
//     network's superfinal depth and deposit confirmations).
//  10. reorg (--headers): current headers forking from the run, with at
//     least its work, still hold the PoP (and deposit) block with the
//     policy's confirmations.
//
// The statement names the transaction or deposit, its L2 block, the
// keystone, the publication's confirmations and the work on top of the
// checkpoint; on regtest, signet and testnet4 a note says their proof of
// work is no security claim (NoSecurity).
//
// # Not checked, not yet
//
// A real header run from mainnet's new checkpoints (no public vector
// found holds the 11 headers before 901,152 or 959,616, so only the pins
// themselves are tested on mainnet data); a real bundle on testnet4 or
// signet (the runs are real, the PoP transactions are not: the test stops
// at pop-tx). Signet's block signatures (signet's PoW is reported as no security);
// that the bundle's keystone publication is the earliest one (a later one
// only lowers the confirmations it can prove); that a deposit spends no
// vault output (that needs its inputs' previous outputs).
//
// Layer: pure rules (DESIGN 8).
package verify

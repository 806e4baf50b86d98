// Package block is the shape of a Hemi L2 block beyond go-ethereum's
// types.Header: the system transaction (DESIGN 3.3, the OP Stack deposit
// envelope, type 0x7E), the block body (system transactions, then user
// transactions), the roots the header commits to, and the header's Extra
// record (DESIGN 3.2: the Bitcoin view and the sequencer's seal).
//
// go-ethereum's types.Transaction cannot carry a new transaction type
// without a fork (its TxData interface has unexported methods), so a
// system transaction is this package's SystemTx, and a Body keeps the two
// kinds in separate lists. The header commits to both in block order
// through TxList, a types.DerivableList, hashed by types.DeriveSha over a
// trie.StackTrie: TxRoot is exactly the transactionsRoot an OP Stack block
// with the same deposits and user transactions would have.
//
// # Encodings
//
//	system tx   0x7E || RLP([sourceHash, from, to, mint, value, gas, isSystemTx, data])
//	            (field for field OP's DepositTx; to and mint empty when nil)
//	body        RLP([[systx bytes, ...], [user tx, ...]])
//	header      go-ethereum types.Header; hash = keccak256(RLP(header))
//	extra       version 1 | view height u32 | view hash (32, display order) | seal (65)
//	seal        secp256k1 [R || S || V] over SealHash = keccak256(RLP(header
//	            with Extra = the record without the seal))
//	receipts    a system tx's receipt has Type 0x7E and is encoded 0x7E ||
//	            RLP([status, cumulativeGas, bloom, logs]); ReceiptRoot hashes
//	            it so (types.Receipts would write only the type byte)
//
// # Source hashes
//
// SourceHash(domain, hash, index) = keccak256(uint256(domain) ||
// keccak256(hash || uint256(index))), OP's construction. Domains:
//
//	DomainBitcoinView   0x100  view block hash, L2 block number
//	DomainTunnelDeposit 0x101  deposit txid, vault output index
//	DomainPoPReward     0x102  PoP txid, vout of the publishing output
//
// # Invariants
//
//  1. Decoders (SystemTx.UnmarshalBinary, DecodeBody, DecodeExtra,
//     UnmarshalReceipt) never panic, bound what they allocate by their
//     input (and MaxSystemTxSize), and accept only canonical encodings:
//     whatever decodes re-encodes to the same bytes (fuzzed).
//  2. A system transaction's hash is keccak256 of its encoding; two
//     system transactions are Equal iff their encodings are equal.
//  3. Block order is system transactions then user transactions, in TxRoot,
//     TxHashes, ReceiptRoot and every index derived from them.
//  4. The seal covers every header field and the Bitcoin view; changing
//     any of them changes Signer's answer (tested field by field).
//
// The package is pure: no I/O, no clocks, no goroutines.
//
// Layer: formats (DESIGN 3.2, 3.3).
package block

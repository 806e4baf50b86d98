// Package hvm is the hVM's Bitcoin precompiles: ten contracts at
// 0x40-0x49 through which EVM code reads Bitcoin as of the Bitcoin view of
// the L2 block being executed (DESIGN 3.4 and 5, ABI v0, compatible with
// Hemi's Phase-0 hVM). The block processor builds one set per block with
// Precompiles(view, params), merges it with Ethereum's own set (Merge) and
// installs it with evm.SetPrecompiles, also for eth_call, gas estimation and
// tracing. The view is a BitcoinView; the assembly's indexadapt.View
// (internal/node/indexadapt) adapts the Bitcoin index to it, pinned to the
// view's block hash, so this package imports no store.
//
// # ABI v0
//
// Hashes (txid, block hash) in and out are in Bitcoin's display byte order,
// the reverse of wire order (what block explorers print). Integers are
// big-endian. Addresses are the ASCII bytes of the address string (no
// padding, no length prefix, at most 90 bytes) of one of the five standard
// types — P2PKH, P2SH, P2WPKH, P2WSH, P2TR — of the chain's Bitcoin network;
// anything else (another network, a bare public key, pay-to-anchor, witness
// versions 2-16, mixed-case bech32, ABI-padded strings) is invalid
// (regtest shares testnet's base58 version bytes, so testnet P2PKH and P2SH
// strings are valid regtest addresses). Invalid or unknown input gives EMPTY
// output (Run returns nil, nil): never an error, so a bad call costs its gas
// and returns success with no data, the same on every node.
//
//	addr  input                                output
//	0x40  address                              u64 satoshis of outputs to it unspent as of the view
//	                                           (a valid address never paid: 8 zero bytes)
//	0x41  address, page (u24), page size (u8,  count (u8), then per UTXO: txid (32), vout (u16), value (u64);
//	      0 = 10)                              order: height, position in block, vout; a page past the end: count 0
//	0x42  txid (32), 4 flag bytes (exactly 36) the selected fields, see below; a tx the view does not hold: empty
//	0x43  txid (32, exactly)                   u32 = view height - tx height + 1
//	0x44  ignored                              116-byte header record of the view's block
//	0x45  height (u32, exactly 4 bytes)        the 116-byte record of the view's block at that height;
//	                                           above the view: empty
//	0x46  address                              its output script
//	0x47  txid (32), input index (u16), max    witness element count (u16), value (u64) of the output it
//	      scriptSig size (u16) (exactly 36)    spends, prev txid (32), prev vout (u16), scriptSig length
//	                                           (u16) + bytes cut at the max, sequence (u32)
//	0x48  txid (32), output index (u16), max   value (u64), script length (u16) + bytes cut at the max,
//	      script size (u16) (exactly 36)       spent (u8: 1 if spent as of the view, else 0)
//	0x49  txid (32), input index (u16),        element length (u16) + bytes cut at the max;
//	      element index (u16), max length      no such element: empty
//	      (u16) (exactly 38)
//
// The 116-byte header record: height (u32), hash (32), version (u32), prev
// hash (32), merkle root (32), time (u32), bits (u32), nonce (u32).
//
// 0x42 fields, always in this order, each present only when its flag is set
// (flag byte 1 is input byte 32, flag byte 4 is input byte 35):
//
//	byte 1 bit 6  block hash (32)
//	byte 1 bit 5  version (u32)
//	byte 1 bit 4  size (u32, with witness), vsize (u32, BIP 141 weight/4 rounded up)
//	byte 1 bit 3  locktime (u32)
//	byte 1 bit 2  inputs: total count (u16), then per input up to the max inputs:
//	                value (u64) of the output it spends, as of the view
//	byte 1 bit 1    prev txid (32), prev vout (u16)
//	byte 1 bit 0    scriptSig length (u16) + its bytes cut at the max scriptSig size
//	byte 2 bit 7    sequence (u32)
//	byte 2 bit 6  outputs: count (u16), then per output up to the max outputs: value (u64)
//	byte 2 bit 5    script length (u16) + its bytes cut at the max script size
//	byte 2 bit 2    spent (u8: 1 if spent as of the view, else 0)
//	byte 2 bit 3  include unspendable outputs (see below)
//	byte 3        max inputs = 2^bits5..3, max outputs = 2^bits2..0 (1 to 128)
//	byte 4        max scriptSig size = 2^(4+bits3..2), max script size = 2^(4+bits1..0) (16 to 128)
//
// Reserved bits (byte 1 bit 7, byte 2 bits 4, 1, 0, byte 3 bits 7..6, byte
// 4 bits 7..4) add nothing. Decisions where the table is silent, each
// pinned by a test:
//
//   - Per-input fields (byte 1 bits 1, 0, byte 2 bit 7) need the inputs bit,
//     per-output fields (byte 2 bits 5, 2) the outputs bit; alone they add
//     nothing.
//   - Lengths are the full length (u16) even when the bytes are cut, so a
//     caller sees the cut. Counts are totals even when the entries are
//     limited by the max, so a caller sees the truncation. u16 values above
//     65,535 (counts, a vout, a script length) saturate at 65,535; the
//     coinbase's null prevout reads as txid 0, vout 65,535.
//   - A coinbase input's value is 0; so is the value of an input whose
//     spent output the view does not hold (impossible on a validated chain).
//   - Unspendable means btcd's txscript.IsUnspendable: the script starts
//     with OP_RETURN, is longer than 10,000 bytes or does not parse. With
//     byte 2 bit 3 clear, unspendable outputs are removed first: the count
//     is the number of the other outputs, they take no slot of the max
//     outputs, and, since entries carry no vout, a caller that needs vout
//     numbers sets bit 3 (Hemi's Phase-0 code counts the same way). With
//     bit 3 set, every output is listed with count = all outputs.
//   - All flags clear on a known tx gives an empty answer, like an unknown
//     tx: ask for at least one field.
//
// # 0x47-0x49: one input, one output, one witness element
//
// Hemi's current network serves these three so that a contract can read
// one part of a large transaction without 0x42's per-item limits; their
// inputs and answers follow its byte layout (see the notes at the end).
// Decisions, each pinned by a golden vector:
//
//   - A transaction the view does not hold, an index past the last input
//     or output, or an element index past the input's witness gives an
//     empty answer, like any invalid input. So does an input of any
//     other length than 36 (0x47, 0x48) or 38 (0x49) bytes.
//   - The max is a byte count, 0 to 65,535 (not 0x42's exponent): 0 gives
//     the length alone. Lengths and counts saturate at 65,535, as in 0x42.
//   - 0x47 answers a coinbase input as 0x42 does: witness count (1 when
//     the block commits to witnesses: the 32-byte nonce), value 0, prev
//     txid 0, prev vout 65,535.
//   - 0x48 answers every output, unspendable ones (OP_RETURN) included:
//     its index is the output's own vout. An unspendable output is never
//     spent (0).
//   - 0x49 answers the witness as the view's block stores it (BIP 144
//     serialization); an input without a witness has no element 0.
//
// # Invariants
//
//  1. Every answer is as of the view's block only (BitcoinView): a block
//     re-executed after its view was reorged out gets the same answers,
//     because the index never deletes entries (tested with a reorg built in
//     the index, for a view made before and one made after the reorg).
//  2. Run never returns an error and never panics on input; output sizes
//     are bounded (0x41: 1+255*42 bytes, 0x42: 40,372 bytes, 0x47: 65,585,
//     0x48: 65,546, 0x49: 65,537, others <= 116).
//  3. A failure of the view (I/O, corruption, closed index) is not a miss:
//     the contract answers empty and the view records it; the block
//     processor must check the view's Err after executing and discard the
//     execution (not commit, not gossip) when it is set.
//  4. RequiredGas depends on the input only. The contracts do not implement
//     vm.CacheablePrecompile: go-ethereum's result cache is keyed by input,
//     and our answers depend on the view.
//
// # Gas
//
// A call costs a fixed price per precompile; 0x41 and 0x42 add a price per
// item, computed from the input (the page and the max flags), never from
// the answer. The unit is ReadGas = 2,100, EIP-2929's cold SLOAD: what
// Ethereum charges for one random read of its flat state, which is one
// pebble point read like ours. DESIGN 5 asks that the worst case stay under
// the cost of the equivalent storage reads: each price is at least the
// number of index reads the call makes in the worst case its input allows
// (for 0x40/0x41, less the view-dependent R below), times 2,100, so a block full of hVM calls makes no more random database
// reads per gas than a block full of cold SLOADs. Calls that read nothing
// from disk are priced by CPU against go-ethereum's own precompiles.
//
//	addr  gas                                          reads behind it
//	0x40  4,200                                        stored balance + change-record seek (+ R, below)
//	0x41  4,200 + 2,100 * (page+1) * pageSize          unspent-set seek + change-record seek + one step per UTXO walked (+ R)
//	0x42  4,200 (+ 4,200 * max inputs with inputs bit)  tx seek + block read; per input the spent output's tx
//	      (+ 2,100 * max outputs with outputs+spent)   per output one spend seek; worst case 810,600
//	0x43  4,200                                        tx seek + block read
//	0x44  1,000                                        none: the view's header is held in memory
//	0x45  1,500                                        none: in-memory header tree lookup
//	0x46  600                                          none: base58/bech32 decode (priced like RIPEMD-160's base)
//	0x47  8,400 + 3 * ceil(max/32)                     tx seek + block read; the spent output's tx seek + block read
//	0x48  6,300 + 3 * ceil(max/32)                     tx seek + block read + one spend seek
//	0x49  4,200 + 3 * ceil(max/32)                     tx seek + block read
//
// The 3 gas per 32-byte word of 0x47-0x49's max is go-ethereum's identity
// precompile copy price: their answers carry up to 64 KiB taken from the
// stored transaction, and such an answer must not cost less per byte than
// copying it through 0x04. Worst cases: 14,544, 12,444 and 10,344.
//
// 0x40 and 0x41 read the index's per-script unspent set and balance
// (internal/btc/index, "Per-script unspent set"), stored as of a block T
// (the Bitcoin block tip whenever the index has caught up with the best
// header), so their work does not grow with the address's history.
// The exact bound, counted by index.Reads, for a view V whose highest
// block on the connected chain is F (F = V when V is on it):
//
//	0x40: 1                                  when V = T
//	      2 + R                              otherwise, the first call (1 after)
//	0x41: min((page+1)*pageSize, U+1)        when V = T
//	      at most 2 + 2R + (page+1)*pageSize otherwise, the first call
//
// reads (a point read, an iterator seek or an iterator step each), where
// U is the number of unspent outputs of the address and R the number of
// its change records (one per output to it created, one per output of it
// spent) at heights F+1 to max(height of T, height of V), on any fork.
// The stored set answers for T; a view below it or on a side fork undoes
// the connected blocks above F and replays V's own blocks above F from
// those records. The price covers the seeks and the page
// and is computed from the input alone, as consensus needs; R depends on
// the chain, not the input, and is not charged per call: it is paid once
// per address and view. The index memoizes what an address's records
// above F change (per address, view and stored state, in a size-bounded
// LRU, index.Config.ChangeMemoBytes, default 16 MiB), so every later call
// on that address as of that view reads only its constant part: 0x40 one
// read, 0x41 at most 1 + (page+1)*pageSize for a view of the connected
// chain at or below T (index.Reads counts a memo hit as 0 record reads).
// The hVM calls of a block, which all share the block's view, read the
// change records of the Bitcoin blocks between the view and T at most once
// in total, however many calls they make (each record belongs to one
// address), plus each call's constant; for a view the configured lag
// (default 2) below the tip that is those last Bitcoin blocks, which
// Bitcoin's fees and block size bound. Only an entry evicted from the memo
// (by others larger in total than its bound) is read again. Re-executing
// an old L2 block, whose view is far below today's tip, pays the same gas
// and reads the address's records since then once; nothing reads its
// whole history. The steps are sequential
// reads of one key range (an iterator's Next), far cheaper than the
// random point reads the unit is priced for. 0x41 still charges for the
// UTXOs it skips, because a page is an offset into the ordered set: under
// a 30M block gas limit one call walks at most about 14,000 UTXOs, so ABI
// v0 cannot page to the tail of a larger address.
//
// BenchmarkRun shows every contract, on a cached index, at 250 Mgas/s or
// more against 59 Mgas/s for go-ethereum's ecrecover: priced at least 4x
// more conservatively per unit of CPU.
//
// # EIP-2929
//
// Ethereum's precompiles are warm from the start of every transaction;
// ours are not unless the processor says so: core.ApplyMessage calls
// StateDB.Prepare with vm.ActivePrecompiles(rules) only. Cold, the first
// call to each hVM precompile in a transaction pays 2,600 gas for the
// account access on top of RequiredGas (100 when warm, later calls 100).
// We recommend warming them like Ethereum's: build the EVM over
// NewWarmingStateDB(statedb), which answers for 0x40-0x49 as warm like
// Ethereum's (WarmAddresses gives the full list for other callers). TestEVMCalls measures the
// difference through core.ApplyMessage: exactly 2,500 gas per first call.
// Every node must make the same choice; it is consensus (gas used,
// receipts, state root).
//
// # Compatibility notes against Hemi's Phase-0 code
//
// This package follows DESIGN section 5 where Hemi's op-geth code differs:
// 0x42's prev vout is u16 (Hemi writes u32), its second size is vsize (Hemi
// writes the stripped size), output scripts are byte 2 bit 5 and outputs
// bit 6 (Hemi: bits 4 and 5, with a per-input witness count on byte 1 bit
// 6), 0x43 counts from the view (Hemi: from its upstream tip), counts and
// vouts saturate instead of wrapping, and 0x45/0x43 answer empty instead of
// erroring on bad input length.
//
// BitcoinKit, Hemi's Solidity library (bitcoin-tunnel-contracts, December
// 2024), calls 0x42 with flag bytes 7f fe 2d 0a: every field, at most 32
// inputs and 32 outputs, scriptSigs and scripts cut at 64 bytes,
// unspendable outputs included, spent flags. It reads per input value
// (8), prev txid (32), prev vout (2), scriptSig length (2) and bytes,
// sequence (4), and per output value (8), script length (2) and bytes,
// spent (1). TestBitcoinKitCall pins that call and the layout of its answer
// (testdata/bitcoinkit.json); we charge it 205,800 gas (4,200 + 32 * 4,200
// + 32 * 2,100, TestGas checks it).
//
// What Hemi's deployed hVM (hemilabs/op-geth over its TBC indexer, as read
// in its public code) does differently; this package keeps the ABI above:
//
//   - Spent byte (0x42 byte 2 bit 2, and 0x48): Hemi writes 1 when its
//     UTXO table still holds the output, i.e. for an UNSPENT output, and 0
//     for a spent one; ours is 1 for spent. BitcoinKit names the byte
//     isSpent, so on Hemi's network its reading is inverted. Hemi's 0x48
//     answers nothing at all for a spent output (its lookup errors).
//   - Coinbase: with the inputs flag set, Hemi's 0x42 looks up the
//     transaction of the coinbase's null prevout, fails and answers
//     nothing; its 0x47 does the same for a coinbase input. Ours answer
//     value 0, prev txid 0, prev vout 65,535.
//   - 0x41's page: Hemi skips that many UTXOs (an item offset, not a page
//     number) in its database key order, txid in wire byte order then
//     vout. Ours skips page * page size UTXOs in height, position-in-block,
//     vout order.
//   - 0x43 and 0x44: Hemi counts from, and returns, its best known header,
//     not the block's Bitcoin view, so the answer depends on when a node
//     executes the block. Ours answer as of the view (invariant 1).
//   - Invalid address: Hemi's 0x40 and 0x46 return the decoder's error,
//     which fails the call (the EVM keeps all the gas given to it, and
//     BitcoinKit's require reverts); ours answer empty and succeed. Hemi
//     answers empty, without an error, only to input under 24 bytes.
//   - Gas: Hemi charges flat prices whatever the input: 0x40 50,000, 0x41
//     100,000, 0x42 25,000, 0x43 and 0x44 5,000, 0x45 6,000, 0x46 25,000,
//     0x47-0x49 15,000 each. Ours follow the reads the input allows (Gas
//     above): 205,800 for BitcoinKit's 0x42 call.
//   - Witness: Hemi's indexer keeps no witness data (its op-geth strips
//     any it finds), so there 0x47's witness count is always 0 and 0x49
//     always answers nothing. Ours read the witness the view's block
//     carries: the same layout, with the real values.
//
// Layer: pure rules (DESIGN 5).
package hvm

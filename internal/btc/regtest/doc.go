// Package regtest is the embedded, in-process regtest Bitcoin node used by
// `hemi devnet` and by tests: btcd's consensus code (blockchain) over a
// btcd ffldb database, btcd's mempool with mainnet-like relay policy, btcd's
// block template generator for mining on demand or on a timer, and a
// Bitcoin P2P server (internal/btc/peerserve) on loopback, so our own P2P
// client and real nodes sync from it exactly as from the Bitcoin network.
//
// Invariants:
//   - Every block the node holds passed btcd's full validation
//     (ProcessBlock); every mempool transaction passed btcd's mempool with
//     standardness enforced (AcceptNonStd false): an OP_RETURN with up to 80
//     data bytes (an 83-byte script) is standard, 81 bytes is not.
//   - Mining is serialized: one template at a time, built from the mempool
//     on the current tip, solved for regtest proof of work and processed
//     like any peer's block. Each block carries a distinct extra nonce, so
//     re-mining a height after InvalidateBlock never repeats a block.
//   - Connected blocks remove their transactions from the mempool;
//     disconnected blocks (reorgs, InvalidateBlock) return theirs to it, as
//     btcd's sync manager does. DropMempool forgets the mempool, as a
//     restart of btcd (which keeps none) does.
//   - Blocks and transactions peers relay are validated like local ones; a
//     peer with a longer chain (e.g. a btcd that mined while disconnected)
//     makes the node reorganize to it.
//   - Blocks of invalidated or losing forks stay retrievable (Header,
//     RawBlock, Block) by hash.
//   - With an empty Config.DataDir the database lives in a temporary
//     directory removed by Close; Run closes the node when it returns.
//
// Layer: services (DESIGN 2 "embedded regtest Bitcoin").
package regtest

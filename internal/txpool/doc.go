// Package txpool is the node's mempool (DESIGN 2, "sequencer (BSS)"):
// what the RPC layer adds transactions to and the block producer
// (internal/sequencer) takes them from, as go-ethereum separates
// core/txpool from miner.
//
// go-ethereum's core/txpool with one legacypool subpool over the chain
// (poolChain adapts the chain, Chain in interface.go: Config, CurrentBlock, GetBlock, StateAt,
// SubscribeChainHeadEvent). Our system transactions (0x7E) are not
// go-ethereum transactions, so the pool's types.Blocks carry the header
// and the user transactions only, which is all a pool reset needs.
// legacypool gives nonce ordering (pending vs queued), replacement by fee
// (PriceBump percent on both tip and fee cap), per-account and global
// limits and eviction of the cheapest; Config.Limits sets them.
//
// The API the RPC layer uses (all safe for concurrent use):
//
//	New(chain, Config) (*Pool, error); Run(ctx) (follows the
//	head, rotates the journal; the node runs it); Close()
//	Add(txs) []error           eth_sendRawTransaction; errors are
//	                           go-ethereum's (core.ErrNonceTooLow,
//	                           txpool.ErrUnderpriced, ErrReplaceUnderpriced,
//	                           ErrAlreadyKnown, ErrInvalidSender, ...) or
//	                           genesis.ErrTxType (blob, 0x7E) — map them
//	                           with errors.Is at the RPC edge
//	Pending(baseFee)           executable txs per sender in nonce order
//	PendingFrom(baseFee, next) Pending from each sender's nonce next(sender)
//	                           on (a block built ahead of its tick)
//	Get(hash), Has(hash)       eth_getTransactionByHash of a pooled tx
//	Status(hash)               txpool.TxStatus{Pending,Queued,Unknown}
//	Content(), ContentFrom(a)  txpool_content, txpool_contentFrom
//	Stats()                    txpool_status (pending, queued)
//	Nonce(addr)                eth_getTransactionCount(addr, "pending")
//	MinTip()                   the smallest tip accepted (eth_maxPriorityFeePerGas floor)
//	SubscribeTransactions(ch)  newPendingTransactions: core.NewTxsEvent
//	                           when txs become pending; Unsubscribe when done
//
// Journal: v1.17's legacypool has no journal of its own (its Journal
// config field is unused) and locals.TxTracker resubmits what it loads
// only at its first recheck, 10 s after start, and only for "local"
// transactions. So the pool keeps its own journal (journal.go), in
// go-ethereum's transactions.rlp format: every accepted transaction is
// written before Add returns (one write per Add call: the RPC layer adds
// a JSON-RPC batch of transactions in one call), and the file is rewritten atomically with
// the pool's content every Rejournal and at Close. New re-adds what
// the journal holds; what the chain included meanwhile is dropped as
// "nonce too low".
//
// # Invariants
//
//  1. A transaction Add accepted is on disk (the journal) before Add
//     returns, so a restart, even after kill -9, does not lose it.
//  2. Mempool input never crashes the node: every malformed or
//     unacceptable transaction gets an error.
//
// Layer: services (DESIGN 2 "sequencer").
package txpool

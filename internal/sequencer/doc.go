// Package sequencer is the BSS (DESIGN 2): the mempool, and the loop
// that builds, seals and commits an L2 block every block time.
//
// # Mempool (Pool, for the RPC layer)
//
// go-ethereum's core/txpool with one legacypool subpool over the chain
// (poolChain adapts *chain.Chain: Config, CurrentBlock, GetBlock, StateAt,
// SubscribeChainHeadEvent). Our system transactions (0x7E) are not
// go-ethereum transactions, so the pool's types.Blocks carry the header
// and the user transactions only, which is all a pool reset needs.
// legacypool gives nonce ordering (pending vs queued), replacement by fee
// (PriceBump percent on both tip and fee cap), per-account and global
// limits and eviction of the cheapest; PoolConfig.Limits sets them.
//
// The API the RPC layer uses (all safe for concurrent use):
//
//	NewPool(chain, PoolConfig) (*Pool, error); Run(ctx) (follows the
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
// the pool's content every Rejournal and at Close. NewPool re-adds what
// the journal holds; what the chain included meanwhile is dropped as
// "nonce too low".
//
// # Block production (Sequencer)
//
// Every BlockTime after the head's timestamp (NextDue; the header time is
// Timestamp: now in seconds, at least parent+1) a block is sealed:
//
//  1. ChooseView picks the Bitcoin view: the most-work chain's block
//     ViewLag below its tip if chain.Rules.CheckView accepts it after the
//     parent's view (forward along the chain, or onto a heavier branch
//     after a Bitcoin reorg), else the parent's view again; none
//     acceptable is chain.ErrViewNotReady and the build is retried after
//     Config.Retry;
//  2. Order lays out the pool's pending transactions: across senders by
//     effective tip at the block's base fee, highest first, each sender's
//     nonces in order, ties to the first seen;
//  3. a chain.Builder executes the derived system transactions first
//     (chain.DeriveSystemTxs, in Bitcoin order) then the candidates,
//     skipping those invalid now or not fitting;
//  4. block.Seal with the sequencer key (LoadKey: a hex key from a file
//     or $HEMI_SEQUENCER_KEY, never a flag; the devnet uses DevKey, a
//     fixed public key); the view is checked once more (still on the
//     most-work chain, or still ChooseView's pick: a Bitcoin reorg may
//     land while the block is finished; if not, the block is built again
//     from step 1, up to three times), chain.CommitBuilt re-applies the
//     view rules and persists it, and the chain's Subscribe tells every
//     subscriber, the pool included.
//
// Building ahead (Config.Ahead, default BlockTime/10): between two ticks
// the loop opens the next block (steps 1-3 with what is pending, at the
// view chosen then and the timestamp the block will have) and every
// Ahead executes the transactions that became pending since, from each
// sender's nonce in the block's state on (PendingFrom; prebuild.go). At
// the tick it executes the last arrivals, computes the roots, seals and
// commits, so the time from tick to commit is the roots and the write,
// not the execution of the whole block. A block built ahead is therefore
// ordered by arrival step first, by Order within a step: a high-tip
// transaction arriving late does not move ahead of those already
// executed. If at the tick the parent, the view ChooseView picks or the
// timestamp differ from the block built ahead, it is discarded and the
// block is built from scratch as above. BuildNext (tests, Ahead < 0)
// always builds from scratch.
//
// Blocks are built on time whether or not there are transactions.
//
// # Invariants
//
//  1. The sequencer never commits a block another node would reject: the
//     view is checked with the same Rules.CheckView every node applies,
//     and CommitBuilt validates the sealed header and the view again.
//  2. The view never moves backwards or onto a lighter branch; it may
//     stay the same. A committed block's view was on the most-work chain
//     the index knew right before the commit (or is the parent's view,
//     kept while nothing better is acceptable).
//  3. ChooseView, Order, NextDue and Timestamp are pure: no clocks,
//     goroutines or I/O; time comes from Config.Clock.
//  4. A transaction Add accepted is on disk (the journal) before Add
//     returns, so a restart, even after kill -9, does not lose it.
//  5. Mempool input never crashes the node: every malformed or
//     unacceptable transaction gets an error.
//
// Metrics (Config.Registerer): hemi_sequencer_blocks_built_total,
// _txs_included_total, _txs_skipped_total, _view_not_ready_total,
// _build_failures_total, _build_seconds, _bitcoin_view_height,
// _head_number; hemi_txpool_pending, hemi_txpool_queued.
package sequencer

// Package rpc is the node's Ethereum JSON-RPC server (DESIGN 2, "RPC"):
// the eth, net, web3, txpool and debug namespaces as Ethereum tools
// expect them, and hemi_* for the Bitcoin view, over HTTP and WebSocket
// on one port, on go-ethereum's rpc server.
//
// # Shape
//
// New(Config, Chain, Pool) builds the server; Run(ctx) listens and serves
// until ctx is done (Serve takes a listener). Chain and Pool are the
// narrow interfaces of interface.go, implemented by *chain.Chain and
// *txpool.Pool (asserted at compile time by internal/node); the pool may be nil on a
// node without a mempool. Handler() serves HTTP (vhost and CORS checks)
// and WebSocket upgrades on the same port; RPC() is the go-ethereum
// server for in-process clients (without the limits below, which live
// in the HTTP and WebSocket paths). Config.APIs lists the namespaces
// served, as geth's --http.api: by default all but debug (`hemi devnet`
// adds it, as anvil serves it).
//
// # Limits (every request costs bounded work)
//
// Each limit is a Config field with a Default* constant and a key of
// the [rpc] section of config.sample.toml.
//
//   - Deadline (RequestTimeout, 30 s): every HTTP request and batch,
//     and every WebSocket message that is not a subscription, runs under
//     a context deadline, which go-ethereum's handler turns into
//     "request timed out" (-32002) for every call not answered yet; the
//     running call's context is cancelled, so its EVM stops (the
//     hemi_rpc_evm_cancelled_total counter), and no further call of the
//     batch starts. go-ethereum's WebSocket transport gives no deadline,
//     so ws.go serves WebSocket messages through the HTTP path
//     (limits.go), and only subscribe/unsubscribe messages through
//     go-ethereum's codec for the connection.
//   - Answer size (ResponseMaxSize, 25 MB): a single answer as a batch's
//     (go-ethereum bounds only batches); a larger one is replaced by
//     "response too large" (-32003), checked on the encoded answer in the
//     HTTP path, where every method's answer passes.
//   - Tracing: a trace's timeout is the caller's "timeout" capped at
//     TraceTimeout (5 s, also the default); the output of one
//     debug_trace* request's tracers, every kind, is bounded by
//     TraceMaxBytes (25 MB) while the EVM runs (tracelimit.go): past it
//     the EVM stops and the request fails with "trace too large"
//     (-32003).
//   - Filters: FiltersMax (1,000) in all, FiltersPerClient (100) per
//     client (a WebSocket connection, or an HTTP client's IP address),
//     FilterMaxHashes (4,096) hashes buffered per pending-transaction
//     filter (oldest dropped), criteria of at most 1,000 addresses and
//     4 x 1,000 topics: about 280 MB at worst in all.
//   - Subscriptions: SubscriptionsPerConn (128) per WebSocket
//     connection; past it eth_subscribe and hemi_subscribe answer
//     -32005.
//   - An empty POST body is answered with a parse error (-32700).
//
// # Semantics
//
//   - Block tags: latest is the head; pending is the head's state (and the
//     pool's nonces for eth_getTransactionCount), with the next block's
//     context (number, time, base fee) for eth_call, eth_estimateGas,
//     eth_createAccessList and debug_traceCall, and the head for
//     eth_getBlockByNumber; safe is the newest block with at least one
//     Bitcoin confirmation and finalized the newest block ever superfinal
//     (it never moves back; internal/finality doc, "Tags"), from
//     Config.Finality (internal/finality; the genesis while none is, or
//     without a finality service); earliest is 0.
//   - PoP (hemi_pop.go): hemi_getFinality(block) gives the covering
//     keystone, the effective Bitcoin publication (txid and block hash in
//     display order), confirmations, superfinality and depth, and
//     finalized / superfinalityLost (at or below the finalized tag, and
//     not superfinal now after a deep Bitcoin reorg);
//     hemi_getKeystone(id | keystone block hash | number | tag) and
//     hemi_latestKeystones(n <= 100) give keystones as
//     {number, hash, id, prevId, btcViewHeight, encoded};
//     hemi_subscribe("newKeystones") sends each new canonical keystone
//     (after an L2 reorg, those of the new branch) and
//     hemi_subscribe("finality") the safe and finalized numbers on every
//     move.
//   - eth_call and eth_estimateGas take state overrides (3rd parameter)
//     and block overrides (4th: number, time, gasLimit, feeRecipient,
//     prevRandao, baseFeePerGas), as go-ethereum does.
//   - Every EVM is built by chain.Processor.NewEVM, so calls, estimates
//     and traces run the hVM precompiles against the block's Bitcoin view
//     exactly as blocks do; a failed view fails the request, never gives
//     an answer.
//   - System transactions (type 0x7E) are shown as op-geth shows OP Stack
//     deposits (sourceHash, mint, gasPrice 0, v/r/s zeroed and no
//     yParity, isSystemTx only when set; nonce = the sender's nonce when
//     it ran) and come first in blocks, receipts and traces. go-ethereum's own types (and so ethclient.BlockByNumber)
//     cannot decode them; OP-aware clients (viem, alloy, op-geth) do.
//   - eth_sendRawTransaction refuses type 0x7E and blob transactions and
//     other chains' transactions before the pool; pool errors keep
//     go-ethereum's messages and code -32000 (txError).
//   - Forwarding (forward.go): with Config.Forward (a follower, given
//     rpc.sequencer_urls) eth_sendRawTransaction checks the transaction
//     in the local pool (decode, chain id, signature, intrinsic gas,
//     nonce, funds for the max cost, size: refused here, no round trip),
//     keeps it there for reads (eth_getTransactionByHash, txpool_*, the
//     pending nonce a wallet asks next), then sends it to the sequencer's
//     JSON-RPC and answers the sequencer's answer, its error with its
//     code, message and data. Refusals about the local pool's state
//     (already known, replacement underpriced, pool full) still go on.
//     URLs are tried in order from the last that answered, each within
//     DefaultForwardTimeout; none answering is "sequencer unreachable"
//     (-32000). The batch fast path is off on a forwarding node.
//   - Relaying (relay.go): with Config.Relay (a raft sequencer group
//     member, *ha.Relay) a member that does not lead checks and keeps
//     the transaction in its pool as a follower does, then hands it to
//     the leader; a leader that cannot be reached now is no error when
//     the pool kept it (the relay resends its pool to the next leader).
//     While the member leads it is a plain sequencer (pool, batch fast
//     path). A request carrying ForwardedHeader (a member's relay) is
//     never forwarded again: a node that would forward it answers
//     ErrForwardedNotLeader (-32000) and keeps nothing.
//   - Errors: revert is code 3, "execution reverted: <reason>", data =
//     the revert bytes; bad parameters -32602; limits (getLogs range and
//     results, filters, subscriptions) -32005; request timed out -32002
//     and response or trace too large -32003 (go-ethereum's codes);
//     everything else -32000.
//   - Tracing (debug_traceTransaction, debug_traceBlockByNumber/ByHash,
//     debug_traceCall) re-executes on the parent's state with
//     go-ethereum's tracers (struct logger, callTracer, prestateTracer,
//     the other native tracers): pre-execution system calls, system
//     transactions (reported to tracers with a legacy stand-in carrying
//     their gas, recipient, value and data), then user transactions.
//   - eth_getProof answers EIP-1186 proofs from the block's state trie
//     (every block's state is kept, so any block's proof is available).
//   - The newest cacheBlocks decoded blocks and their receipts are kept
//     by hash (immutable under it) for receipts, logs and fee queries.
//   - Filters are polled: block and log filters remember the next block
//     and read the chain when polled (at most LogsBlockRange blocks per
//     poll), pending-transaction filters buffer hashes from the pool
//     feed; a filter not polled for FilterTimeout is removed.
//   - An HTTP batch made only of well-formed eth_sendRawTransaction calls
//     is admitted in one pool Add, senders recovered in parallel first
//     (sendbatch.go), with the answers go-ethereum's server would give;
//     anything else in a batch sends the whole request to go-ethereum's
//     server untouched.
//
// # Metrics
//
// On Config.Registerer: hemi_rpc_http_requests_total,
// hemi_rpc_http_request_seconds, hemi_rpc_ws_connections,
// hemi_rpc_txs_accepted_total, hemi_rpc_txs_rejected_total,
// hemi_rpc_filters, hemi_rpc_subscriptions, hemi_rpc_evm_timeouts_total,
// hemi_rpc_evm_cancelled_total, hemi_rpc_trace_limits_total,
// hemi_rpc_responses_too_large_total, hemi_rpc_limit_refusals_total;
// on a follower hemi_rpc_forward_total{result} (accepted, refused,
// unreachable, attempt_failed).
//
// # Invariants
//
//  1. No input crashes the server: parameters are decoded strictly
//     (fuzzed) and every failure is an error with a code.
//  2. Nothing here writes to the chain; the pool is written only by Add.
//  3. Every goroutine (janitor, subscriptions, a WebSocket's pinger and
//     its messages) ends with ctx, its subscription, its connection, or
//     the chain's close.
//
// Layer: services (DESIGN 2 "RPC", 4).
package rpc

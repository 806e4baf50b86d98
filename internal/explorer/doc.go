// Package explorer is the block explorer the node serves on its JSON-RPC
// listener (DESIGN 10): server-rendered pages (html/template, assets
// embedded with go:embed) for GET requests, beside JSON-RPC's POST and
// WebSocket on the same port, so its live updates use the same origin.
// Every page reads without JavaScript; the one small script adds the
// "/" shortcut to the search box, copy buttons, relative times, "Add to
// wallet" (EIP-3085) and the home page's live blocks (eth_subscribe
// newHeads on the node's own WebSocket). Colours follow the system's
// dark mode.
//
// # Routes (Mount; EIP-3091's /block/, /tx/, /address/, /token/)
//
//	/                       latest blocks with their finality badge (pending, safe, final),
//	                        the Bitcoin tip, the latest keystones
//	/block/{number|hash}    header, Bitcoin view, finality with the covering keystone and its
//	                        publication, transactions paged (system transactions named)
//	/tx/{hash}              status, parties, fee, logs (token transfers decoded), finality
//	/tx/{hash}/trace        revert reason and call trace, computed on demand by the node's
//	                        ots methods under the public RPC's trace limits
//	/address/{addr}         balance, hBTC balance, contract or not, history from the address
//	                        index, paged; /address/{addr}/csv exports it
//	/token/{addr|hbtc}      ERC-20 metadata and supply (eth_call), latest transfers
//	/keystones              keystones against their Bitcoin publications and confirmations
//	/btc/block/{hash}, /btc/tx/{txid}, /deposits, /withdrawals
//	                        say what this build does not show yet (below)
//	/search?q=              a number, hash, address, keystone id or Bitcoin txid to its page
//	/chain.json             the chain in the ethereum-lists/chains format
//
// Bad or unknown input (a malformed number, hash or address, a block
// the chain does not have) answers a "not found" page with status 404,
// never a 500. A WebSocket upgrade at "/" is handed to JSON-RPC
// (Config.RPC).
//
// # Sources
//
// The chain (blocks, receipts, state), finality (badges, publications),
// the address index (internal/explorer/addrindex) and the node's own
// JSON-RPC in process (Config.Caller: eth_call, ots_traceTransaction,
// ots_getTransactionError), each behind the narrow interfaces of
// interface.go.
//
// # Work per request
//
// Every page does bounded work, and the hot ones little of it
// (`hemi bench explorer`): history rows and a block's rows come from the
// address index's transaction records (no block, receipt or signature
// recovery per row; a block the index does not hold yet is read the
// long way); the home page walks the latest blocks by parent hash from
// the head through summaries remembered by block hash; the keystone
// list and a token's metadata are computed once per head (kept only
// while that head is still the head after the reads, so a reorg cannot
// leave a mixed list); keystones themselves are remembered by the chain
// (by block hash). Finality and publications are read per request: they
// move with Bitcoin, not with the head. Transaction rows are written by
// txRowHTML, the template's markup without its reflection.
//
// # Not yet
//
// The Bitcoin side (a Bitcoin block or transaction with fee, sat/vB and
// confirmations), deposits and withdrawals (the tunnel is built in other
// branches; with it, Config.HBTC names hBTC), the provenance verifier in
// WebAssembly, the headless Chromium tests and `hemi bench explorer`.
//
// Layer: services (DESIGN 10).
package explorer

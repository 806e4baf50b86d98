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
//	/provenance/deposit/{txid:vout}, /provenance/tx/{hash}
//	                        a deposit's or transaction's chain of trust (DESIGN 8), checked
//	                        in the browser (trust.go); .../bundle.json downloads the bundle
//	/provenance             check a bundle file in the browser
//	/genesis.json           the network's genesis file (Config.Genesis), the identity the
//	                        browser check offers
//	/static/...             the script, styles, the verifier (verify.wasm) and Go's
//	                        wasm_exec.js: gzipped, ETags, immutable under ?v=<sha256>
//
// # The chain of trust in the browser
//
// The page's script (web/static/trust.js) fetches the bundle from the
// node's own JSON-RPC (hemi_getProvenance, same origin), runs the
// verifier compiled to WebAssembly (verify/wasm: verifyBundle, the same
// code as `hemi verify`) and marks each link verified, failed or not
// reached. The identity is the node's genesis file, a network pinned in
// the verifier or the user's own file; the page says that the code came
// from this node and offers the bundle and the commands to check it
// offline. The .wasm is embedded, not built at run time (no Go
// toolchain on a user's machine, no step to forget): wasmgen.go
// (go generate) builds it reproducibly into web/wasm with its record of
// sources, and TestEmbeddedVerifier fails when verify/ has changed
// since.
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
// # Not yet
//
// The Bitcoin side (a Bitcoin block or transaction with fee, sat/vB and
// confirmations), deposits and withdrawals (the tunnel is built in other
// branches; with it, Config.HBTC names hBTC) and `hemi bench explorer`.
// The chain-of-trust check runs on the page's main thread (a deposit's
// bundle takes a fraction of a second; a Worker would keep the page
// responsive on slow machines).
//
// Layer: services (DESIGN 10).
package explorer

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
//	/btc/block/{hash}       a Bitcoin block as the node's index has it: height, time,
//	                        confirmations, size, transactions paged, keystones published
//	/btc/tx/{txid}          inputs and outputs (addresses, values, spends), fee, sat/vB,
//	                        confirmations, the keystone it publishes, the deposits it
//	                        makes, the payout batch it pays
//	/deposits, /deposit/{txid:vout}
//	                        deposits still confirming (the vault's recent outputs), then
//	                        processed ones from the tunnel's events, newest first; each
//	                        state is what hemi_getDeposit answers
//	/withdrawals, /withdrawal/{id}
//	                        the tunnel's queue (withdrawals and refunds), newest first, as
//	                        hemi_getWithdrawal answers
//	/search?q=              a number, hash, address, keystone id, Bitcoin block hash or
//	                        txid, or a deposit outpoint to its page
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
// the address index (internal/explorer/addrindex), the node's Bitcoin
// index (Bitcoin: blocks, transactions, spends, the vault's outputs) and
// the node's own JSON-RPC in process (Config.Caller: eth_call, eth_getLogs,
// ots_traceTransaction, ots_getTransactionError, hemi_getDeposit,
// hemi_getWithdrawal), each behind the narrow interfaces of interface.go.
// The tunnel pages ask the RPC rather than read state themselves, so a
// page and hemi_getDeposit or hemi_getWithdrawal never disagree.
// System transactions are decoded by the tunnel predeploy's ABI
// (systx.go).
//
// # Bounded work
//
// Every page reads a bounded amount whatever the chain's size: a
// Bitcoin block page reads its block once and shows 50 transactions per
// page; a Bitcoin transaction page looks up at most 100 inputs' previous
// outputs and 100 outputs' spends (past that the fee is not computed);
// the deposit list scans at most 4 windows of 5,000 L2 blocks of the
// tunnel's events per page (bloom-filtered eth_getLogs) and 100 recent
// vault outputs; the withdrawal list reads 25 queue items per page; the
// hBTC holders come from the newest 2,000 Transfer logs (the page says
// when that was not all of them), one state read per address.
//
// # Work per request
//
// Every page does bounded work, and the hot ones little of it
// (`hemi bench explorer`): history rows and a block's rows come from the
// address index's transaction records (no block, receipt or signature
// recovery per row; a page of history is one iteration of the index,
// each entry carrying its transaction's record; a block the index does
// not hold yet is read the long way); an address's balance, nonce, code
// size and hBTC balance (read from hBTC's storage, no eth_call) are
// read once per head; the home page walks the latest blocks by parent hash from
// the head through summaries remembered by block hash; the keystone
// list and a token's metadata are computed once per head (kept only
// while that head is still the head after the reads, so a reorg cannot
// leave a mixed list); keystones themselves are remembered by the chain
// (by block hash). Finality and publications are read per request: they
// move with Bitcoin, not with the head. Transaction tables are written
// by txTableHTML, the template's markup without its reflection, and
// pages into pooled buffers.
//
// # Not yet
//
// The chain-of-trust check runs on the page's main thread (a deposit's
// bundle takes a fraction of a second; a Worker would keep the page
// responsive on slow machines).
//
// Layer: services (DESIGN 10).
package explorer

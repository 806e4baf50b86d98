// Package tbc runs the node's Bitcoin layer ("TBC"): the P2P client
// (internal/btc/p2p) syncing from Bitcoin peers into the header chain and
// indexes (internal/btc/index), a periodic progress line, and the local
// query API that `hemi btc ...` talks to. It owns the index: it opens it in
// New and closes it when Run returns, after every goroutine has stopped.
//
// The API is unauthenticated JSON over HTTP and is meant for loopback; it
// answers every query as of a given Bitcoin block hash (the asof parameter)
// or as of the indexed tip. Every error, an unknown route (404) or method
// (405) included, is a JSON {"error": "..."} reply that repeats at most 64
// bytes of the caller's input.
//
// Layer: services (DESIGN 2 "Bitcoin node/indexer").
package tbc

// Package httpserve runs an HTTP handler on a listen address until a
// context ends, the one way every server of the node (metrics, query APIs)
// starts and stops: listen first so the address is known and a taken port
// is an immediate error, log the URL, shut down gracefully on ctx.
//
// Layer: base (DESIGN 7).
package httpserve

// Package tunneltest holds test support for the tunnel's Bitcoin side: a
// vault built directly from txscript's taproot helpers, independent of
// internal/tunnel's own vault code, so tests of payouts and signers can
// cross-check one against the other, and deterministic test keys.
//
// Layer: test support (DESIGN 6).
package tunneltest

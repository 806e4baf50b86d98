// Package clock is the one time source of the node's rules and services:
// consensus rules are pure and never read the wall clock themselves
// (STYLE 5), so the chain's "not too far in the future" rule and the
// block producer's schedule take a Clock, the wall clock (System) in
// production, a fixed or hand-moved one in tests and benchmarks. It
// imports only the standard library.
//
// Layer: pure rules (DESIGN 3).
package clock

// Package golden reads and rewrites the JSON golden files of the tests
// (testdata/*.json): consensus values and test vectors that must not
// change unless a test is run with -update on purpose.
//
// Layer: test support (DESIGN 7).
package golden

// Command hemi is the one binary of Hemi in Go: the node, the embedded
// devnet, the PoP miner and the client commands. main only builds the signal
// context and runs the command tree; each command loads its configuration
// and calls its subsystem's Run.
//
// Layer: commands (DESIGN 2).
package main

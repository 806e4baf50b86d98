// Package network names the Bitcoin networks the node can join and maps each
// name to btcd's consensus parameters and default P2P port.
//
// Layer: formats (DESIGN 2, 3.5).
package network

package index

import (
	"fmt"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/txscript/v2"
)

// AddressScript returns the output script paying addr, which must be a
// standard address (P2PKH, P2SH, P2WPKH, P2WSH, P2TR) of the network.
func AddressScript(addr string, params *chaincfg.Params) ([]byte, error) {
	a, err := address.DecodeAddress(addr, params)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrInvalidAddress, addr, err)
	}
	if !a.IsForNet(params) {
		return nil, fmt.Errorf("%w %q: not a %s address", ErrInvalidAddress, addr, params.Name)
	}
	s, err := txscript.PayToAddrScript(a)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrInvalidAddress, addr, err)
	}
	return s, nil
}

// AddressScript returns the output script paying addr on the index's
// network.
func (ix *Index) AddressScript(addr string) ([]byte, error) { return AddressScript(addr, ix.params) }

// Params returns the index's network parameters.
func (ix *Index) Params() *chaincfg.Params { return ix.params }

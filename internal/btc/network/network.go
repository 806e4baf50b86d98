package network

import (
	"fmt"
	"sort"

	"github.com/btcsuite/btcd/chaincfg/v2"
)

// Names accepted in configuration, in the order they are documented.
const (
	Mainnet  = "mainnet"
	Testnet3 = "testnet3"
	Testnet4 = "testnet4"
	Signet   = "signet"
	Regtest  = "regtest"
)

var byName = map[string]*chaincfg.Params{
	Mainnet:  &chaincfg.MainNetParams,
	Testnet3: &chaincfg.TestNet3Params,
	Testnet4: &chaincfg.TestNet4Params,
	Signet:   &chaincfg.SigNetParams,
	Regtest:  &chaincfg.RegressionNetParams,
}

// Params returns btcd's parameters for the named network.
func Params(name string) (*chaincfg.Params, error) {
	p, ok := byName[name]
	if !ok {
		return nil, fmt.Errorf("unknown bitcoin network %q: use one of %v", name, Names())
	}
	return p, nil
}

// Names lists the accepted network names, sorted.
func Names() []string {
	out := make([]string, 0, len(byName))
	for n := range byName {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

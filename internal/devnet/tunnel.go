package devnet

import (
	"encoding/hex"
	"fmt"
	"io"

	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"

	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/tunnel"
)

// printTunnelBanner prints the devnet's BTC tunnel: its vault and output
// descriptor (with its checksum, for a watch-only wallet), the public
// dev keys of its committee and recovery set (genesis.DevTunnelKeys) and
// how to deposit from the dev miner's coins.
func printTunnelBanner(out io.Writer, f *genesis.File, genesisPath, api, rpcAddr string) {
	if f == nil || f.Config.Tunnel == nil {
		return
	}
	v, err := tunnel.NewVault(f.Config.Tunnel, &chaincfg.RegressionNetParams)
	if err != nil {
		fmt.Fprintf(out, "BTC tunnel: no vault: %v\n\n", err)
		return
	}
	c := f.Config.Tunnel
	fmt.Fprintf(out, `BTC tunnel (DESIGN 6)
  vault        %s
               committee %d of %d, recovery %d of %d after %d blocks (hemi tunnel vault --genesis %s)
  descriptor   %s
               (watch-only in Bitcoin Core 26+: importdescriptors; signers refresh outputs older than %d blocks)
`, v.Address(), c.K, len(c.Signers), c.M, len(c.Recovery), c.RecoveryDelay, genesisPath, v.Descriptor(), c.RecoveryDelay/2)
	signers, recovery, err := genesis.DevTunnelKeys()
	if err == nil {
		for _, set := range []struct {
			name string
			keys []genesis.DevTunnelKey
		}{{"signer", signers}, {"recovery", recovery}} {
			for i, k := range set.keys {
				wif, _ := btcutil.NewWIF(k.Key, &chaincfg.RegressionNetParams, true)
				fmt.Fprintf(out, "  %-8s %d   %s  %s  %s\n", set.name, i, hex.EncodeToString(k.XOnly[:]), k.Path, wif)
			}
		}
		fmt.Fprintf(out, "               (x-only key, path of the dev mnemonic, WIF: PUBLIC keys, development only)\n")
	}
	if api != "" && rpcAddr != "" {
		fmt.Fprintf(out, `  deposit      HEMI_DEPOSIT_KEY=<miner key above> go run ./cmd/hemi deposit --genesis %s \
                 --api %s --rpc http://%s --amount 1.5 --to <L2 address>
`, genesisPath, api, rpcAddr)
	}
	fmt.Fprintln(out)
}

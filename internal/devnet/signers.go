package devnet

import (
	"fmt"
	"io"
	"path/filepath"
	"strconv"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/node/indexadapt"
	"github.com/hemi-go/hemi/internal/signer"
	"github.com/hemi-go/hemi/internal/tunnel"
)

// DevSignerAccount0 is the first dev L2 account paying the devnet
// signers' postSignatures transactions: signer i uses dev account
// DevSignerAccount0+i (7, 8 and 9 of the 10).
const DevSignerAccount0 = 7

// startSigners runs the dev tunnel's committee (genesis.DevTunnelKeys'
// signers, 2-of-3) in process, each a `hemi signer` against this devnet's
// JSON-RPC and its Bitcoin index, so batches opened by the chain are
// checked, signed, assembled and broadcast. It needs the JSON-RPC server
// (the signers post through it) and a tunnel in the genesis; without them
// it does nothing.
func (d *Devnet) startSigners() error {
	tc := d.L2.File.Config.Tunnel
	if d.RPCURL == "" || tc == nil || d.cfg.SignersOff {
		return nil
	}
	v, err := tunnel.NewVault(tc, &chaincfg.RegressionNetParams)
	if err != nil {
		return fmt.Errorf("devnet: signers: %w", err)
	}
	devs, _, err := genesis.DevTunnelKeys()
	if err != nil {
		return fmt.Errorf("devnet: signers: %w", err)
	}
	btc := indexadapt.PoPMiner{Index: d.TBC.Index(), Peers: d.TBC, Fees: d.TBC}
	for i, dk := range devs {
		if DevSignerAccount0+i >= len(d.L2.Accounts) {
			return fmt.Errorf("devnet: signers: no dev account %d to pay signer %d's posts", DevSignerAccount0+i, i)
		}
		acct := d.L2.Accounts[DevSignerAccount0+i]
		n, err := signer.DialRPCNode(d.ctx, d.RPCURL, btc, tc.TunnelAddress, acct.Key)
		if err != nil {
			return fmt.Errorf("devnet: signer %d: %w", i, err)
		}
		var reg prometheus.Registerer
		if d.cfg.Registerer != nil {
			reg = prometheus.WrapRegistererWith(prometheus.Labels{"signer": strconv.Itoa(i)}, d.cfg.Registerer)
		}
		s, err := signer.New(signer.Config{Key: dk.Key, Vault: v, Node: n,
			DataDir: filepath.Join(d.dir, "signer"+strconv.Itoa(i)), Rebroadcast: d.cfg.SignerRebroadcast,
			Logger: d.log.With("signer", i), Registerer: reg})
		if err != nil {
			n.Close()
			return fmt.Errorf("devnet: signer %d: %w", i, err)
		}
		d.Signers = append(d.Signers, s)
		d.g.Go(func() error {
			defer n.Close()
			return s.Run(d.ctx)
		})
	}
	return nil
}

// printSignerBanner says the committee runs in process (the tunnel
// banner lists its public dev keys) and which dev accounts pay its posts.
func printSignerBanner(out io.Writer, d *Devnet) {
	if len(d.Signers) == 0 {
		return
	}
	fmt.Fprintf(out, "Tunnel signers: the %d dev signers run in process (`hemi signer` each), against this devnet's JSON-RPC\n", len(d.Signers))
	for i, sg := range d.Signers {
		fmt.Fprintf(out, "  signer %d (committee index %d) posts from dev account (%d) %s\n", i, sg.Index(), DevSignerAccount0+i, d.L2.Accounts[DevSignerAccount0+i].Address)
	}
	fmt.Fprintln(out)
}

package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/hemi-go/hemi/internal/config"
	"github.com/hemi-go/hemi/internal/devnet/cluster"
)

// Flags of `hemi devnet`'s multi-process mode.
const (
	flagSequencers = "sequencers"
	flagFollowers  = "followers"
	// maxClusterNodes bounds each count: every node is a process with its
	// own databases, and a laptop runs a few dozen at most.
	maxClusterNodes = 32
)

// runDevnetCluster is `hemi devnet --sequencers N --followers M`: the
// embedded regtest node in this process and N+M `hemi node` processes of
// this binary (internal/devnet/cluster), until ctx ends (Ctrl-C), which
// stops every node.
func runDevnetCluster(ctx context.Context, cfg config.Config, seqs, followers int, out io.Writer) error {
	bin, err := os.Executable()
	if err != nil {
		return fmt.Errorf("devnet: this binary's path: %w", err)
	}
	log := newLogger(cfg)
	c, err := cluster.Start(ctx, cluster.Config{
		Bin: bin, Dir: filepath.Join(cfg.DataDir, "devnet"), Sequencers: seqs, Followers: followers,
		MineInterval: cfg.Devnet.BlockInterval.Duration, BTCListen: cfg.Devnet.P2P, Logger: log,
	})
	if err != nil {
		return err
	}
	defer c.Stop()
	printClusterBanner(out, c)
	<-ctx.Done()
	fmt.Fprintln(out, "stopping every node...")
	return nil
}

// printClusterBanner prints the genesis path and every node's ports.
func printClusterBanner(out io.Writer, c *cluster.Cluster) {
	fmt.Fprintf(out, "hemi devnet: %d node processes, Bitcoin regtest at %s (in this process)\n", len(c.Nodes), c.BTC.P2PAddr())
	fmt.Fprintf(out, "genesis     %s (hash %v, chain id %d)\n\n", c.GenesisPath, c.Genesis.Hash(), c.Genesis.Config.ChainID)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tRPC\tL2 P2P\tRAFT\tADMIN\tSEAL KEY ADDRESS\tLOG")
	for _, n := range c.Nodes {
		raft, admin, addr := "-", "-", "-"
		if n.Sequencer {
			raft, admin, addr = n.Raft, n.Admin, n.Addr.Hex()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", n.Name, n.RPCURL(), n.P2P, raft, admin, addr, n.Log)
	}
	tw.Flush()
	fmt.Fprintf(out, "\nfunded dev account %v (anvil's first); Ctrl-C stops every node\n", c.Accounts[0].Address)
}

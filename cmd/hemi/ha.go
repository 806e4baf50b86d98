package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/ethereum/go-ethereum/common"
	"github.com/urfave/cli/v3"

	"github.com/hemi-go/hemi/internal/config"
	"github.com/hemi-go/hemi/internal/ha"
)

const (
	flagHAListen  = "ha-listen"
	flagHAPeer    = "ha-peer"
	flagHAAdmin   = "ha-admin"
	flagHARPCURL  = "ha-rpc-url"
	flagTokenFile = "token-file"
)

// haFlags are `hemi node`'s raft group flags ([ha] in the config).
func haFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: flagHAListen, Usage: "raft listen address of this sequencer's group member (empty: no group)", Sources: cli.EnvVars("HEMI_HA_LISTEN")},
		&cli.StringSliceFlag{Name: flagHAPeer, Usage: "group member at bootstrap, <sequencer address>@<host:port>, this one included (repeat)", Sources: cli.EnvVars("HEMI_HA_PEERS")},
		haAdminFlag(),
		&cli.StringFlag{Name: flagHARPCURL, Usage: "this member's JSON-RPC URL as the other members reach it, where they relay transactions while it leads (default: --rpc, its host taken from ha.advertise when unspecified)", Sources: cli.EnvVars("HEMI_HA_RPC_URL")},
	}
}

func haAdminFlag() cli.Flag {
	return &cli.StringFlag{Name: flagHAAdmin, Usage: "the group member's admin endpoint host:port (default 127.0.0.1:7360)", Sources: cli.EnvVars("HEMI_HA_ADMIN")}
}

// haConfig maps the [ha] section onto the group member's configuration
// (the node fills the rest); nil when ha.listen is empty.
func haConfig(c config.HA) (*ha.Config, error) {
	if c.Listen == "" {
		return nil, nil
	}
	hc := &ha.Config{Bind: c.Listen, Advertise: c.Advertise, RPCURL: c.RPCURL, Dir: c.Dir, Admin: c.Admin,
		Timings: ha.Timings{Heartbeat: c.Heartbeat.Duration, Election: c.Election.Duration,
			LeaderLease: c.LeaderLease.Duration, Commit: c.Commit.Duration},
		TrailingLogs: c.TrailingLogs, SnapshotThreshold: c.SnapshotThreshold, MaxBitcoinLag: c.MaxBitcoinLag}
	for _, s := range c.Peers {
		p, err := ha.ParsePeer(s)
		if err != nil {
			return nil, fmt.Errorf("ha.peers: %w", err)
		}
		hc.Peers = append(hc.Peers, p)
	}
	if c.AdminTokenFile != "" {
		tok, err := readToken(c.AdminTokenFile)
		if err != nil {
			return nil, fmt.Errorf("ha.admin_token_file: %w", err)
		}
		hc.AdminToken = tok
	}
	return hc, nil
}

func readToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return tok, nil
}

// haCommand is `hemi ha`: the sequencer group's membership, through a
// member's admin endpoint.
func haCommand() *cli.Command {
	flags := []cli.Flag{haAdminFlag(),
		&cli.StringFlag{Name: flagTokenFile, Usage: "file holding the admin token (ha.admin_token_file of the node)", Sources: cli.EnvVars("HEMI_HA_TOKEN_FILE"), TakesFile: true},
		&cli.BoolFlag{Name: flagJSON, Usage: "print JSON"}}
	client := func(cmd *cli.Command) (*ha.AdminClient, error) {
		cfg, _, err := loadConfig(cmd, keyUse{uses: []string{"log", "ha"}})
		if err != nil {
			return nil, err
		}
		addr := cfg.HA.Admin
		if addr == "" {
			return nil, fmt.Errorf("ha.admin is empty: pass --%s host:port", flagHAAdmin)
		}
		cl := &ha.AdminClient{URL: "http://" + addr}
		tf := cfg.HA.AdminTokenFile
		if cmd.IsSet(flagTokenFile) {
			tf = cmd.String(flagTokenFile)
		}
		if tf != "" {
			if cl.Token, err = readToken(tf); err != nil {
				return nil, fmt.Errorf("admin token: %w", err)
			}
		}
		return cl, nil
	}
	return &cli.Command{
		Name:  "ha",
		Usage: "the sequencer group (raft): status, members, add, remove",
		Description: "Talks to a group member's admin endpoint (ha.admin, loopback or with a token).\n" +
			"add and remove go to the leader: a follower answers with the leader's id and address.\n\n" +
			"Example: hemi ha add 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 10.0.0.3:7350",
		Commands: []*cli.Command{
			{Name: "status", Usage: "this member's role, leader, applied block and Bitcoin position", Flags: flags,
				Action: func(ctx context.Context, cmd *cli.Command) error {
					cl, err := client(cmd)
					if err != nil {
						return err
					}
					st, err := cl.Status(ctx)
					if err != nil {
						return err
					}
					return printStatus(os.Stdout, st, cmd.Bool(flagJSON))
				}},
			{Name: "members", Usage: "the group's members", Flags: flags,
				Action: func(ctx context.Context, cmd *cli.Command) error {
					cl, err := client(cmd)
					if err != nil {
						return err
					}
					ms, err := cl.Members(ctx)
					if err != nil {
						return err
					}
					return printMembers(os.Stdout, ms, cmd.Bool(flagJSON))
				}},
			{Name: "add", Usage: "add a genesis sequencer as a voting member", ArgsUsage: "<sequencer address> <raft host:port>", Flags: flags,
				Action: func(ctx context.Context, cmd *cli.Command) error {
					if cmd.Args().Len() != 2 || !common.IsHexAddress(cmd.Args().Get(0)) {
						return fmt.Errorf("usage: hemi ha add <sequencer address> <raft host:port>")
					}
					cl, err := client(cmd)
					if err != nil {
						return err
					}
					return cl.Add(ctx, common.HexToAddress(cmd.Args().Get(0)), cmd.Args().Get(1))
				}},
			{Name: "remove", Usage: "remove a member", ArgsUsage: "<sequencer address>", Flags: flags,
				Action: func(ctx context.Context, cmd *cli.Command) error {
					if cmd.Args().Len() != 1 || !common.IsHexAddress(cmd.Args().Get(0)) {
						return fmt.Errorf("usage: hemi ha remove <sequencer address>")
					}
					cl, err := client(cmd)
					if err != nil {
						return err
					}
					return cl.Remove(ctx, common.HexToAddress(cmd.Args().Get(0)))
				}},
		},
	}
}

func printStatus(w io.Writer, st ha.Status, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(w).Encode(st)
	}
	applied := "none"
	if st.Applied != nil {
		applied = fmt.Sprintf("%d %s", st.Applied.Number, st.Applied.Hash)
	}
	caught := "yes"
	if !st.CaughtUp {
		caught = "no: " + st.Why
	}
	_, err := fmt.Fprintf(w, "member     %s (%s)\nstate      %s, term %d, producing %v\nleader     %s %s\napplied    %s\nhead       %d %s\nbitcoin    index %d, peers announce %d (%d peers)\ncaught up  %s\n",
		st.ID, st.Address, st.State, st.Term, st.Producing, st.LeaderID, st.Leader, applied, st.Head.Number, st.Head.Hash,
		st.BTCIndex, st.BTCAnnounced, st.BTCPeers, caught)
	return err
}

func printMembers(w io.Writer, ms []ha.Member, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(w).Encode(ms)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tADDRESS\tVOTER\tLEADER")
	for _, m := range ms {
		fmt.Fprintf(tw, "%s\t%s\t%v\t%v\n", m.ID, m.Address, m.Voter, m.Leader)
	}
	return tw.Flush()
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/hemi-go/hemi/internal/node"
)

// statusCommand is `hemi status`: a node's /status on one screen.
func statusCommand() *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "a node's head, safe and finalized blocks, Bitcoin tip and lag, peers, raft role and last keystone",
		Flags: []cli.Flag{rpcURLFlag(), &cli.BoolFlag{Name: flagJSON, Usage: "print the /status JSON"}},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			return runStatus(ctx, cmd.String(flagRPC), cmd.Bool(flagJSON), os.Stdout)
		},
	}
}

// statusURL is the /status page beside the node's JSON-RPC URL (ws and
// wss URLs name the same port).
func statusURL(rpcURL string) (string, error) {
	u, err := url.Parse(rpcURL)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("--rpc %q: want a URL such as %s", rpcURL, defaultRPCURL)
	}
	switch u.Scheme {
	case "http", "https":
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	default:
		return "", fmt.Errorf("--rpc %q: scheme %q, want http, https, ws or wss", rpcURL, u.Scheme)
	}
	u.Path, u.RawQuery, u.Fragment = "/status", "", ""
	return u.String(), nil
}

func runStatus(ctx context.Context, rpcURL string, asJSON bool, w io.Writer) error {
	su, err := statusURL(rpcURL)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, su, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("status of %s: %w", su, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("status of %s: %w", su, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status of %s: HTTP %d: %.200s", su, resp.StatusCode, body)
	}
	var st node.Status
	if err := json.Unmarshal(body, &st); err != nil {
		return fmt.Errorf("status of %s: not a hemi node's /status (%v)", su, err)
	}
	if asJSON {
		_, err := w.Write(body)
		return err
	}
	printNodeStatus(w, &st)
	return nil
}

func printNodeStatus(w io.Writer, st *node.Status) {
	health := "healthy"
	if !st.Healthy {
		health = "UNHEALTHY: " + strings.Join(st.Problems, "; ")
	}
	fmt.Fprintf(w, "node        %s, chain %d, %s\n", st.Role, st.ChainID, health)
	fmt.Fprintf(w, "head        %d %s (%ds ago)\n", st.Head.Number, st.Head.Hash, st.Head.AgeSeconds)
	ref := func(r *node.BlockRef) string {
		if r == nil {
			return "none"
		}
		return fmt.Sprintf("%d %s", r.Number, r.Hash)
	}
	fmt.Fprintf(w, "safe        %s\n", ref(st.Safe))
	fmt.Fprintf(w, "finalized   %s\n", ref(st.Finalized))
	b := st.Bitcoin
	fmt.Fprintf(w, "bitcoin     %s tip %d, indexed %d (lag %d), %d peers, synced %v\n", b.Network, b.Tip.Height, b.Indexed.Height, b.Lag, b.Peers, b.Synced)
	fmt.Fprintf(w, "view        %d %s\n", st.View.Height, st.View.Hash)
	if k := st.LastKeystone; k != nil {
		pub := "not published yet"
		if k.Published {
			pub = fmt.Sprintf("%d/%d confirmations", k.Confirmations, k.Depth)
			if k.Superfinal {
				pub += ", superfinal"
			}
		}
		fmt.Fprintf(w, "keystone    %d %s, %s\n", k.Number, k.Hash, pub)
	} else {
		fmt.Fprintf(w, "keystone    none yet\n")
	}
	if r := st.Raft; r != nil {
		fmt.Fprintf(w, "raft        %s, leader %s, %d members, applied %d\n", r.Role, r.Leader, r.Members, r.Applied)
	}
	fmt.Fprintf(w, "peers       %d\n", len(st.Peers))
	for _, p := range st.Peers {
		state := "disconnected"
		if p.Connected {
			state = "connected"
		}
		fmt.Fprintf(w, "  %s %s %s head %d score %d\n", p.ID, p.Addr, state, p.Head, p.Score)
	}
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	gethrpc "github.com/ethereum/go-ethereum/rpc"
	"github.com/urfave/cli/v3"

	"github.com/hemi-go/hemi/verify"
)

const (
	flagOut              = "out"
	flagCheckpoint       = "checkpoint"
	flagHeaders          = "headers"
	flagMinDepositConfs  = "min-deposit-confs"
	flagMinKeystoneConfs = "min-keystone-confs"
)

// provenanceCommand is `hemi provenance tx|deposit`: a bundle from a node
// (hemi_getProvenance), written as JSON.
func provenanceCommand() *cli.Command {
	flags := func() []cli.Flag {
		return []cli.Flag{rpcURLFlag(), &cli.StringFlag{Name: flagOut, Usage: "write the bundle to this file (default: standard output)", TakesFile: true}}
	}
	return &cli.Command{
		Name:  "provenance",
		Usage: "a provenance bundle (DESIGN 8) that `hemi verify` checks offline",
		Commands: []*cli.Command{{
			Name:      "tx",
			Usage:     "the bundle of an L2 transaction: its block, receipt and Bitcoin anchoring",
			ArgsUsage: "<l2 tx hash>",
			Flags:     flags(),
			Action: func(ctx context.Context, cmd *cli.Command) error {
				if cmd.Args().Len() != 1 {
					return errors.New("provenance tx takes one transaction hash: hemi provenance tx 0x...")
				}
				return fetchBundle(ctx, cmd.String(flagRPC), cmd.Args().First(), cmd.String(flagOut), os.Stdout)
			},
		}, {
			Name:      "deposit",
			Usage:     "the bundle of a tunnel deposit: the Bitcoin lock, its mint on L2 and the Bitcoin anchoring",
			ArgsUsage: "<txid:vout>",
			Flags:     flags(),
			Action: func(ctx context.Context, cmd *cli.Command) error {
				if cmd.Args().Len() != 1 || !strings.Contains(cmd.Args().First(), ":") {
					return errors.New("provenance deposit takes one outpoint: hemi provenance deposit <txid>:<vout>")
				}
				return fetchBundle(ctx, cmd.String(flagRPC), cmd.Args().First(), cmd.String(flagOut), os.Stdout)
			},
		}},
	}
}

func fetchBundle(ctx context.Context, url, what, out string, stdout io.Writer) error {
	c, err := gethrpc.DialContext(ctx, url)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", url, err)
	}
	defer c.Close()
	var raw json.RawMessage
	if err := c.CallContext(ctx, &raw, "hemi_getProvenance", what); err != nil {
		return fmt.Errorf("hemi_getProvenance(%s) at %s: %w", what, url, err)
	}
	b, err := verify.ParseBundle(raw)
	if err != nil {
		return fmt.Errorf("the node's answer: %w", err)
	}
	data, err := b.Marshal()
	if err != nil {
		return err
	}
	if out == "" {
		_, err = stdout.Write(data)
		return err
	}
	return os.WriteFile(out, data, 0o644)
}

// verifyCommand is `hemi verify`: the offline verifier. No node, no
// network: its trust is the pins in package verify and the files given.
func verifyCommand() *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "check a provenance bundle offline: exit 0 saying what it proves, or 1 naming the link that failed",
		ArgsUsage: "<bundle.json>",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: flagGenesis, Usage: "the L2 network's genesis file (default: the network pinned for the bundle's chain id)", TakesFile: true},
			&cli.StringSliceFlag{Name: flagCheckpoint, Usage: "a Bitcoin block you trust, HEIGHT:HASH on a retarget boundary, from your own node (repeat for more)"},
			&cli.StringFlag{Name: flagHeaders, Usage: "current Bitcoin headers (hex, one per line, or a JSON array): does the bundle still hold?", TakesFile: true},
			&cli.UintFlag{Name: flagMinDepositConfs, Usage: "Bitcoin confirmations a deposit needs (default: the network's deposit confirmations)"},
			&cli.UintFlag{Name: flagMinKeystoneConfs, Usage: "Bitcoin confirmations the keystone's publication needs (default: the network's superfinal depth)"},
			&cli.BoolFlag{Name: flagJSON, Usage: "print the result as JSON (what the WebAssembly verifyBundle returns)"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.Args().Len() != 1 {
				return errors.New("verify takes one bundle file: hemi verify <bundle.json>")
			}
			in := verify.Input{Checkpoints: cmd.StringSlice(flagCheckpoint),
				MinDepositConfs: uint32(cmd.Uint(flagMinDepositConfs)), MinKeystoneConfs: uint32(cmd.Uint(flagMinKeystoneConfs))}
			for _, f := range []struct {
				flag string
				dst  *string
			}{{flagGenesis, &in.Genesis}, {flagHeaders, &in.Headers}} {
				if p := cmd.String(f.flag); p != "" {
					b, err := os.ReadFile(p)
					if err != nil {
						return fmt.Errorf("--%s: %w", f.flag, err)
					}
					*f.dst = string(b)
				}
			}
			bundle, err := os.ReadFile(cmd.Args().First())
			if err != nil {
				return err
			}
			return runVerify(bundle, in, cmd.Bool(flagJSON), os.Stdout)
		},
	}
}

// errVerify is returned (exit 1) when the bundle does not verify; the
// result has been printed.
var errVerify = errors.New("the bundle does not verify")

func runVerify(bundle []byte, in verify.Input, asJSON bool, w io.Writer) error {
	o, err := in.Options()
	if err != nil {
		return err
	}
	o.Now = time.Now()
	r := verify.VerifyJSON(bundle, o)
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			return err
		}
	} else {
		printResult(w, r)
	}
	if !r.OK {
		return fmt.Errorf("%w: link %q failed", errVerify, r.FailedLink)
	}
	return nil
}

func printResult(w io.Writer, r *verify.Result) {
	for _, p := range r.Proved {
		fmt.Fprintf(w, "ok      %-14s %s\n", p.Link, p.What)
	}
	if !r.OK {
		fmt.Fprintf(w, "FAILED  %-14s %s\n", r.FailedLink, r.Error)
		return
	}
	fmt.Fprintf(w, "\nPROVED: %s\n", r.Statement)
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}

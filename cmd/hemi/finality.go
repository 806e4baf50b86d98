package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/ethereum/go-ethereum/common/hexutil"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
	"github.com/urfave/cli/v3"
)

// defaultRPCURL is where the client commands find a node's JSON-RPC.
const defaultRPCURL = "http://127.0.0.1:8545"

const flagJSON = "json"

// rpcURLFlag is the client commands' --rpc: a node's JSON-RPC URL.
func rpcURLFlag() cli.Flag {
	return &cli.StringFlag{Name: flagRPC, Value: defaultRPCURL, Usage: "the node's JSON-RPC URL (http, https, ws or wss)",
		Sources: cli.EnvVars("HEMI_RPC_URL")}
}

// finalityCommand is `hemi finality <block>`.
func finalityCommand() *cli.Command {
	return &cli.Command{
		Name:      "finality",
		Usage:     "an L2 block's PoP finality: covering keystone, its Bitcoin publication, confirmations, superfinality",
		ArgsUsage: "<number|0xhex|hash|latest|safe|finalized|earliest>",
		Flags:     []cli.Flag{rpcURLFlag(), &cli.BoolFlag{Name: flagJSON, Usage: "print the hemi_getFinality JSON"}},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.Args().Len() != 1 {
				return fmt.Errorf("finality takes one block: hemi finality <number|hash|latest|safe|finalized>")
			}
			return runFinality(ctx, cmd.String(flagRPC), cmd.Args().First(), cmd.Bool(flagJSON), os.Stdout)
		},
	}
}

// blockParam turns the command-line block into a hemi_getFinality
// parameter: a decimal or 0x number, a tag, or a 32-byte block hash.
func blockParam(arg string) (any, error) {
	switch arg {
	case "latest", "safe", "finalized", "earliest", "pending":
		return arg, nil
	}
	if strings.HasPrefix(arg, "0x") || strings.HasPrefix(arg, "0X") {
		if len(arg) == 66 {
			if _, err := hexutil.Decode(arg); err != nil {
				return nil, fmt.Errorf("block hash %q: %w", arg, err)
			}
			return map[string]string{"blockHash": arg}, nil
		}
		n, err := hexutil.DecodeUint64(arg)
		if err != nil {
			return nil, fmt.Errorf("block number %q: %w", arg, err)
		}
		return hexutil.EncodeUint64(n), nil
	}
	n, err := strconv.ParseUint(arg, 10, 63)
	if err != nil {
		return nil, fmt.Errorf("block %q: want a number, a 0x-hex number or hash, or latest/safe/finalized/earliest", arg)
	}
	return hexutil.EncodeUint64(n), nil
}

// finalityAnswer is hemi_getFinality's JSON.
type finalityAnswer struct {
	Number         hexutil.Uint64 `json:"number"`
	Hash           string         `json:"hash"`
	KeystoneNumber hexutil.Uint64 `json:"keystoneNumber"`
	KeystoneExists bool           `json:"keystoneExists"`
	KeystoneID     *hexutil.Bytes `json:"keystoneId"`
	KeystoneHash   *string        `json:"keystoneHash"`
	Published      bool           `json:"published"`
	Confirmations  hexutil.Uint64 `json:"confirmations"`
	Superfinal     bool           `json:"superfinal"`
	Depth          hexutil.Uint64 `json:"superfinalDepth"`
	Finalized      bool           `json:"finalized"`
	Lost           bool           `json:"superfinalityLost"`
	Publication    *struct {
		KeystoneID   hexutil.Bytes  `json:"keystoneId"`
		BTCTxid      string         `json:"btcTxid"`
		BTCVout      hexutil.Uint64 `json:"btcVout"`
		BTCBlockHash string         `json:"btcBlockHash"`
		BTCHeight    hexutil.Uint64 `json:"btcHeight"`
	} `json:"publication"`
}

func runFinality(ctx context.Context, url, arg string, asJSON bool, w io.Writer) error {
	param, err := blockParam(arg)
	if err != nil {
		return err
	}
	c, err := gethrpc.DialContext(ctx, url)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", url, err)
	}
	defer c.Close()
	var raw json.RawMessage
	if err := c.CallContext(ctx, &raw, "hemi_getFinality", param); err != nil {
		return fmt.Errorf("hemi_getFinality(%s) at %s: %w", arg, url, err)
	}
	if string(raw) == "null" || len(raw) == 0 {
		return fmt.Errorf("block %s: not found on the node's canonical chain", arg)
	}
	if asJSON {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return err
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	var f finalityAnswer
	if err := json.Unmarshal(raw, &f); err != nil {
		return fmt.Errorf("hemi_getFinality answer: %w", err)
	}
	printFinality(w, &f)
	return nil
}

func printFinality(w io.Writer, f *finalityAnswer) {
	fmt.Fprintf(w, "block          %d %s\n", f.Number, f.Hash)
	switch {
	case !f.KeystoneExists:
		fmt.Fprintf(w, "keystone       %d (not reached yet)\n", f.KeystoneNumber)
	case f.KeystoneID != nil && f.KeystoneHash != nil:
		fmt.Fprintf(w, "keystone       %d id %s block %s\n", f.KeystoneNumber, f.KeystoneID, *f.KeystoneHash)
	}
	if !f.Published || f.Publication == nil {
		fmt.Fprintf(w, "publication    none on Bitcoin yet\n")
		fmt.Fprintf(w, "confirmations  0 (superfinal at %d)\n", f.Depth)
		fmt.Fprintf(w, "status         %s\n", lostOr(f, "unconfirmed"))
		return
	}
	p := f.Publication
	fmt.Fprintf(w, "publication    keystone %s in Bitcoin tx %s:%d\n", p.KeystoneID, p.BTCTxid, p.BTCVout)
	fmt.Fprintf(w, "bitcoin block  %d %s\n", p.BTCHeight, p.BTCBlockHash)
	fmt.Fprintf(w, "confirmations  %d (superfinal at %d)\n", f.Confirmations, f.Depth)
	status := "safe (published, not yet superfinal)"
	if f.Superfinal {
		status = "superfinal"
	}
	fmt.Fprintf(w, "status         %s\n", lostOr(f, status))
}

// lostOr is the status of a finalized block that is not superfinal now
// (the finalized tag never moves back), else status.
func lostOr(f *finalityAnswer, status string) string {
	if f.Lost {
		return "finalized, but NOT superfinal now: a Bitcoin reorg deeper than the depth removed its publication"
	}
	return status
}

package main

import (
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/hemi-go/hemi/internal/config"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Global flag names; each also reads a HEMI_* environment variable.
const (
	flagConfig        = "config"
	flagDataDir       = "datadir"
	flagLogLevel      = "log-level"
	flagLogFormat     = "log-format"
	flagMetrics       = "metrics"
	flagNetwork       = "network"
	flagPeer          = "peer"
	flagAPI           = "api"
	flagMaxPeers      = "max-peers"
	flagBlockInterval = "block-interval"
	flagP2P           = "p2p"
	flagGenesis       = "genesis"
	flagNetListen     = "net-listen"
	flagNetPeer       = "net-peer"
	flagNetMaxPeers   = "net-max-peers"
)

func newApp() *cli.Command {
	return &cli.Command{
		Name:    "hemi",
		Usage:   "a Bitcoin-anchored EVM layer-2 node",
		Version: version,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: flagConfig, Usage: "TOML config file (see config.sample.toml)", Sources: cli.EnvVars("HEMI_CONFIG"), TakesFile: true},
			&cli.StringFlag{Name: flagDataDir, Usage: "data directory (default $HOME/.hemi)", Sources: cli.EnvVars("HEMI_DATADIR")},
			&cli.StringFlag{Name: flagLogLevel, Usage: "debug, info, warn or error", Sources: cli.EnvVars("HEMI_LOG_LEVEL")},
			&cli.StringFlag{Name: flagLogFormat, Usage: "text or json", Sources: cli.EnvVars("HEMI_LOG_FORMAT")},
			&cli.StringFlag{Name: flagMetrics, Usage: "Prometheus listen address, e.g. 127.0.0.1:9340", Sources: cli.EnvVars("HEMI_METRICS")},
		},
		Commands: []*cli.Command{
			devnetCommand(),
			nodeCommand(),
			genesisCommand(),
			popmCommand(),
			tbcCommand(),
			btcCommand(),
			benchCommand(),
			finalityCommand(),
			provenanceCommand(),
			verifyCommand(),
			statusCommand(),
			haCommand(),
			exportCommand(),
			importCommand(),
			tunnelCommand(),
			depositCommand(),
			withdrawCommand(),
			signerCommand(),
		},
	}
}

// btcFlags are the Bitcoin-layer flags shared by the commands that run a node.
func btcFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: flagNetwork, Usage: "mainnet, testnet3, testnet4, signet or regtest", Sources: cli.EnvVars("HEMI_BTC_NETWORK")},
		&cli.StringSliceFlag{Name: flagPeer, Usage: "Bitcoin peer host:port (repeat for more)", Sources: cli.EnvVars("HEMI_BTC_PEERS")},
		&cli.IntFlag{Name: flagMaxPeers, Usage: "maximum outbound Bitcoin peers", Sources: cli.EnvVars("HEMI_BTC_MAX_PEERS")},
		apiFlag(),
	}
}

func genesisFlag() cli.Flag {
	return &cli.StringFlag{Name: flagGenesis, Usage: "the network's genesis file (see `hemi genesis`)", Sources: cli.EnvVars("HEMI_GENESIS"), TakesFile: true}
}

// netFlags are the L2 network's flags ([net]).
func netFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: flagNetListen, Usage: "L2 p2p listen multiaddr, TCP (default /ip4/127.0.0.1/tcp/7350; repeat for more; \"\" for none)", Sources: cli.EnvVars("HEMI_NET_LISTEN")},
		&cli.StringSliceFlag{Name: flagNetPeer, Usage: "L2 static peer /ip4/<host>/tcp/<port>/p2p/<peer id> (repeat for more)", Sources: cli.EnvVars("HEMI_NET_PEERS")},
		&cli.IntFlag{Name: flagNetMaxPeers, Usage: "maximum connected L2 peers (default 32)", Sources: cli.EnvVars("HEMI_NET_MAX_PEERS")},
	}
}

func apiFlag() cli.Flag {
	return &cli.StringFlag{Name: flagAPI, Usage: "local Bitcoin query API address (default 127.0.0.1:7340)", Sources: cli.EnvVars("HEMI_BTC_API")}
}

// configFlags are the flags that set a config key, of every command:
// the one place flags are mapped onto the config. A flag applies when the
// running command defines it and it (or its HEMI_* variable) was set.
var configFlags = []struct {
	name  string
	apply func(cmd *cli.Command, c *config.Config)
}{
	{flagDataDir, func(cmd *cli.Command, c *config.Config) { c.DataDir = cmd.String(flagDataDir) }},
	{flagGenesis, func(cmd *cli.Command, c *config.Config) { c.Genesis = cmd.String(flagGenesis) }},
	{flagLogLevel, func(cmd *cli.Command, c *config.Config) { c.Log.Level = cmd.String(flagLogLevel) }},
	{flagLogFormat, func(cmd *cli.Command, c *config.Config) { c.Log.Format = cmd.String(flagLogFormat) }},
	{flagMetrics, func(cmd *cli.Command, c *config.Config) { c.Metrics.Listen = cmd.String(flagMetrics) }},
	{flagNetwork, func(cmd *cli.Command, c *config.Config) { c.BTC.Network = cmd.String(flagNetwork) }},
	{flagPeer, func(cmd *cli.Command, c *config.Config) { c.BTC.Peers = cmd.StringSlice(flagPeer) }},
	{flagMaxPeers, func(cmd *cli.Command, c *config.Config) { c.BTC.MaxPeers = int(cmd.Int(flagMaxPeers)) }},
	{flagAPI, func(cmd *cli.Command, c *config.Config) { c.BTC.API = cmd.String(flagAPI) }},
	{flagRPC, func(cmd *cli.Command, c *config.Config) { c.RPC.Listen = cmd.String(flagRPC) }},
	{flagSequencerURL, func(cmd *cli.Command, c *config.Config) { c.RPC.SequencerURLs = cmd.StringSlice(flagSequencerURL) }},
	{flagBlockInterval, func(cmd *cli.Command, c *config.Config) {
		c.Devnet.BlockInterval.Duration = cmd.Duration(flagBlockInterval)
	}},
	{flagP2P, func(cmd *cli.Command, c *config.Config) { c.Devnet.P2P = cmd.String(flagP2P) }},
	{flagHAListen, func(cmd *cli.Command, c *config.Config) { c.HA.Listen = cmd.String(flagHAListen) }},
	{flagHAPeer, func(cmd *cli.Command, c *config.Config) { c.HA.Peers = cmd.StringSlice(flagHAPeer) }},
	{flagHAAdmin, func(cmd *cli.Command, c *config.Config) { c.HA.Admin = cmd.String(flagHAAdmin) }},
	{flagHARPCURL, func(cmd *cli.Command, c *config.Config) { c.HA.RPCURL = cmd.String(flagHARPCURL) }},
	{flagNetListen, func(cmd *cli.Command, c *config.Config) {
		// --net-listen "" turns the listener off.
		c.Net.Listen = slices.DeleteFunc(cmd.StringSlice(flagNetListen), func(s string) bool { return s == "" })
	}},
	{flagNetPeer, func(cmd *cli.Command, c *config.Config) { c.Net.Peers = cmd.StringSlice(flagNetPeer) }},
	{flagNetMaxPeers, func(cmd *cli.Command, c *config.Config) { c.Net.MaxPeers = int(cmd.Int(flagNetMaxPeers)) }},
	{flagKeyFile, func(cmd *cli.Command, c *config.Config) { c.PoPM.KeyFile = cmd.String(flagKeyFile) }},
	{flagWallet, func(cmd *cli.Command, c *config.Config) { c.PoPM.Wallet = cmd.String(flagWallet) }},
	{flagL2URL, func(cmd *cli.Command, c *config.Config) { c.PoPM.L2URL = cmd.String(flagL2URL) }},
	{flagFeeTarget, func(cmd *cli.Command, c *config.Config) { c.PoPM.FeeTarget = int(cmd.Int(flagFeeTarget)) }},
	{flagMaxFeeRate, func(cmd *cli.Command, c *config.Config) { c.PoPM.MaxFeeRate = cmd.Int64(flagMaxFeeRate) }},
	{flagBumpBlocks, func(cmd *cli.Command, c *config.Config) { c.PoPM.BumpBlocks = int(cmd.Int(flagBumpBlocks)) }},
}

// keyUse says which config keys a command reads, so that no key the file
// sets is silently ignored.
type keyUse struct {
	// uses are the sections and keys the command reads (config.Unused);
	// any other key the file sets is logged as a warning.
	uses []string
	// refuses are keys that, set in the file, are an error saying why:
	// ignoring them would run something other than what they ask for.
	refuses []string
	why     string
}

// loadConfig applies, in order, the defaults, the config file, and every
// flag or HEMI_* variable that was set (configFlags), then validates the
// result. It warns about the file's keys the command does not use and
// refuses the ones it must not ignore (use); it returns the keys the file
// sets.
func loadConfig(cmd *cli.Command, use keyUse) (config.Config, []string, error) {
	cfg, set, err := config.LoadKeys(cmd.String(flagConfig))
	if err != nil {
		return cfg, nil, err
	}
	for _, f := range configFlags {
		// --rpc is rpc.listen only for the commands that serve JSON-RPC
		// (they use the rpc section); a client's --rpc (`hemi signer`'s)
		// is the URL of the node it talks to.
		if f.name == flagRPC && !slices.Contains(use.uses, "rpc") {
			continue
		}
		if cmd.IsSet(f.name) {
			f.apply(cmd, &cfg)
		}
	}
	if err := cfg.Validate(); err != nil {
		return cfg, nil, fmt.Errorf("%w\nfix the config file, flag or HEMI_* variable named above", err)
	}
	if bad := slices.DeleteFunc(slices.Clone(set), func(k string) bool { return !slices.Contains(use.refuses, k) }); len(bad) > 0 {
		return cfg, nil, fmt.Errorf("%w: `hemi %s` does not use %s: %s", config.ErrInvalid, cmd.Name, strings.Join(bad, ", "), use.why)
	}
	if unused := config.Unused(set, use.uses...); len(unused) > 0 {
		newLogger(cfg).Warn("config keys this command does not use (they configure other commands)",
			"command", cmd.Name, "keys", strings.Join(unused, ", "))
	}
	return cfg, set, nil
}

func newLogger(cfg config.Config) *slog.Logger {
	return cfg.Log.Logger(os.Stderr)
}

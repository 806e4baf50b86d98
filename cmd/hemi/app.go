package main

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/urfave/cli/v3"

	"github.com/hemi-go/hemi/internal/config"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Global flag names; each also reads a HEMI_* environment variable.
const (
	flagConfig    = "config"
	flagDataDir   = "datadir"
	flagLogLevel  = "log-level"
	flagLogFormat = "log-format"
	flagMetrics   = "metrics"
	flagNetwork   = "network"
	flagPeer      = "peer"
	flagAPI       = "api"
	flagMaxPeers  = "max-peers"
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
			popmCommand(),
			tbcCommand(),
			btcCommand(),
			benchCommand(),
			finalityCommand(),
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

func apiFlag() cli.Flag {
	return &cli.StringFlag{Name: flagAPI, Usage: "local Bitcoin query API address (default 127.0.0.1:7340)", Sources: cli.EnvVars("HEMI_BTC_API")}
}

// loadConfig applies, in order, the defaults, the config file, and every
// flag or HEMI_* variable that was set, then validates the result.
func loadConfig(cmd *cli.Command) (config.Config, error) {
	cfg, err := config.Load(cmd.String(flagConfig))
	if err != nil {
		return cfg, err
	}
	set := func(name string, apply func()) {
		if cmd.IsSet(name) {
			apply()
		}
	}
	set(flagDataDir, func() { cfg.DataDir = cmd.String(flagDataDir) })
	set(flagLogLevel, func() { cfg.Log.Level = cmd.String(flagLogLevel) })
	set(flagLogFormat, func() { cfg.Log.Format = cmd.String(flagLogFormat) })
	set(flagMetrics, func() { cfg.Metrics.Listen = cmd.String(flagMetrics) })
	set(flagNetwork, func() { cfg.BTC.Network = cmd.String(flagNetwork) })
	set(flagPeer, func() { cfg.BTC.Peers = cmd.StringSlice(flagPeer) })
	set(flagMaxPeers, func() { cfg.BTC.MaxPeers = int(cmd.Int(flagMaxPeers)) })
	set(flagAPI, func() { cfg.BTC.API = cmd.String(flagAPI) })
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("%w\nfix the config file, flag or HEMI_* variable named above", err)
	}
	return cfg, nil
}

func newLogger(cfg config.Config) *slog.Logger {
	return cfg.Log.Logger(os.Stderr)
}

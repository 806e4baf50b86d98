package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/hemi-go/hemi/internal/btc/network"
)

// ErrInvalid wraps every validation failure.
var ErrInvalid = errors.New("invalid configuration")

// Config is the whole node configuration.
type Config struct {
	// DataDir holds every database of the node.
	DataDir string `toml:"datadir"`

	Log     Log     `toml:"log"`
	Metrics Metrics `toml:"metrics"`
	BTC     BTC     `toml:"btc"`
	Devnet  Devnet  `toml:"devnet"`
}

// Log configures structured logging.
type Log struct {
	// Level is debug, info, warn or error.
	Level string `toml:"level"`
	// Format is text or json.
	Format string `toml:"format"`
}

// Metrics configures the Prometheus endpoint.
type Metrics struct {
	// Listen is the address of /metrics; empty turns it off.
	Listen string `toml:"listen"`
}

// BTC configures the Bitcoin node and indexer (TBC).
type BTC struct {
	// Network is mainnet, testnet3, testnet4, signet or regtest.
	Network string `toml:"network"`
	// Peers are host:port addresses to connect to.
	Peers []string `toml:"peers"`
	// MaxPeers caps outbound connections.
	MaxPeers int `toml:"max_peers"`
	// BanDuration is how long a misbehaving peer stays banned.
	BanDuration Duration `toml:"ban_duration"`
	// API is the listen address of the local query API used by `hemi btc`.
	// Keep it on loopback: it has no authentication.
	API string `toml:"api"`
	// Progress is how often sync progress is logged.
	Progress Duration `toml:"progress"`
}

// Devnet configures `hemi devnet`.
type Devnet struct {
	// BlockInterval is how often the embedded regtest node mines a block.
	BlockInterval Duration `toml:"block_interval"`
	// P2P is the listen address of the embedded regtest node.
	P2P string `toml:"p2p"`
	// InitialBlocks are mined at start so coinbases mature.
	InitialBlocks int `toml:"initial_blocks"`
}

// Duration is a time.Duration written as "5s" or "10m" in TOML.
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("duration %q: %w", b, err)
	}
	d.Duration = v
	return nil
}

// MarshalText writes a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Default returns the documented defaults.
func Default() Config {
	return Config{
		DataDir: defaultDataDir(),
		Log:     Log{Level: "info", Format: "text"},
		Metrics: Metrics{Listen: ""},
		BTC: BTC{
			Network:     network.Mainnet,
			Peers:       []string{},
			MaxPeers:    8,
			BanDuration: Duration{24 * time.Hour},
			API:         "127.0.0.1:7340",
			Progress:    Duration{10 * time.Second},
		},
		Devnet: Devnet{
			BlockInterval: Duration{5 * time.Second},
			P2P:           "127.0.0.1:18444",
			InitialBlocks: 101,
		},
	}
}

func defaultDataDir() string {
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return ".hemi"
	}
	return filepath.Join(home, ".hemi")
}

// Load reads path over the defaults. An empty path returns the defaults.
// Unknown keys are an error so a typo never silently keeps a default.
func Load(path string) (Config, error) {
	cfg := Default()
	if path == "" {
		return cfg, nil
	}
	md, err := toml.DecodeFile(path, &cfg)
	if err != nil {
		return cfg, fmt.Errorf("%w: read %s: %w", ErrInvalid, path, err)
	}
	if un := md.Undecoded(); len(un) > 0 {
		keys := make([]string, len(un))
		for i, k := range un {
			keys[i] = k.String()
		}
		return cfg, fmt.Errorf("%w: %s: unknown keys %s (see config.sample.toml)", ErrInvalid, path, strings.Join(keys, ", "))
	}
	return cfg, nil
}

// Validate checks every field and says what to change.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...))
	}
	if c.DataDir == "" {
		bad("datadir is empty: set datadir or --datadir")
	}
	if _, err := ParseLevel(c.Log.Level); err != nil {
		bad("log.level: %v", err)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		bad("log.format %q: use text or json", c.Log.Format)
	}
	if c.Metrics.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Metrics.Listen); err != nil {
			bad("metrics.listen %q: want host:port", c.Metrics.Listen)
		}
	}
	if _, err := network.Params(c.BTC.Network); err != nil {
		bad("btc.network: %v", err)
	}
	for _, p := range c.BTC.Peers {
		if _, _, err := net.SplitHostPort(p); err != nil {
			bad("btc.peers entry %q: want host:port", p)
		}
	}
	if c.BTC.MaxPeers < 1 {
		bad("btc.max_peers %d: must be at least 1", c.BTC.MaxPeers)
	}
	if c.BTC.API != "" {
		if _, _, err := net.SplitHostPort(c.BTC.API); err != nil {
			bad("btc.api %q: want host:port", c.BTC.API)
		}
	}
	if c.BTC.Progress.Duration <= 0 {
		bad("btc.progress must be positive")
	}
	if c.Devnet.BlockInterval.Duration < 0 {
		bad("devnet.block_interval must not be negative (0 turns the timer off)")
	}
	if c.Devnet.InitialBlocks < 0 {
		bad("devnet.initial_blocks must not be negative")
	}
	return errors.Join(errs...)
}

// ParseLevel maps a level name to slog's level.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("level %q: use debug, info, warn or error", s)
	}
	return l, nil
}

// Logger builds the process logger from the Log section.
func (l Log) Logger(w *os.File) *slog.Logger {
	level, _ := ParseLevel(l.Level)
	opts := &slog.HandlerOptions{Level: level}
	if l.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/ethereum/go-ethereum/core/txpool/legacypool"

	"github.com/hemi-go/hemi/internal/btc/network"
	"github.com/hemi-go/hemi/internal/btc/p2p"
	"github.com/hemi-go/hemi/internal/btc/peerserve"
	"github.com/hemi-go/hemi/internal/devnet"
	"github.com/hemi-go/hemi/internal/ha"
	"github.com/hemi-go/hemi/internal/netp2p"
	"github.com/hemi-go/hemi/internal/popm"
	"github.com/hemi-go/hemi/internal/rpc"
	"github.com/hemi-go/hemi/internal/txpool"
)

// ErrInvalid wraps every validation failure.
var ErrInvalid = errors.New("invalid configuration")

// Config is the whole node configuration.
type Config struct {
	// DataDir holds every database of the node.
	DataDir string `toml:"datadir"`
	// Genesis is the path of the network's genesis file (`hemi node`;
	// internal/chain/genesis.File): chain id, Bitcoin network and genesis
	// block, sequencers, block time and every consensus parameter.
	Genesis string `toml:"genesis"`

	Log       Log       `toml:"log"`
	Metrics   Metrics   `toml:"metrics"`
	BTC       BTC       `toml:"btc"`
	Devnet    Devnet    `toml:"devnet"`
	Sequencer Sequencer `toml:"sequencer"`
	TxPool    TxPool    `toml:"txpool"`
	RPC       RPC       `toml:"rpc"`
	Net       Net       `toml:"net"`
	PoPM      PoPM      `toml:"popm"`
	HA        HA        `toml:"ha"`
	Explorer  Explorer  `toml:"explorer"`
}

// Explorer configures the block explorer the node serves on its JSON-RPC
// listener (DESIGN 10; internal/explorer) and the address index it reads.
type Explorer struct {
	// Off keeps the pages off the RPC listener; NoAddrIndex also turns
	// off the address index (Otterscan's ots_search* then answer an
	// error, and the address pages show no history).
	Off         bool `toml:"off"`
	NoAddrIndex bool `toml:"no_addr_index"`
	// Name is the network's name on the pages and in "Add to wallet"
	// (empty: "Hemi devnet").
	Name string `toml:"name"`
	// PublicRPC and PublicURL are the network's public JSON-RPC and
	// explorer URLs that "Add to wallet" (EIP-3085) and /chain.json give;
	// empty: the address the page was fetched from.
	PublicRPC string `toml:"public_rpc"`
	PublicURL string `toml:"public_url"`
}

// HA configures the raft sequencer group (DESIGN 9; internal/ha) of
// `hemi node --sequencer`: with Listen set, the node is one member and
// builds only while it leads. Members are on one LAN; raft's port is not
// authenticated.
type HA struct {
	// Listen is the raft TCP address (host:port); empty: no group, the
	// sequencer runs alone.
	Listen string `toml:"listen"`
	// Advertise is the address other members dial (default: Listen,
	// which must then be a concrete IP).
	Advertise string `toml:"advertise"`
	// RPCURL is this member's JSON-RPC URL as the other members reach
	// it: while another member leads, a member keeps the transactions
	// sent to it in its pool and relays them to the leader's URL, which
	// each member announces to the others over the raft port (default:
	// rpc.listen, its host replaced by ha.advertise's or ha.listen's when
	// unspecified, e.g. 0.0.0.0).
	RPCURL string `toml:"rpc_url"`
	// Dir holds the raft log, stable store and snapshots (default
	// <datadir>/<network>/l2/raft).
	Dir string `toml:"dir"`
	// Peers are the members at bootstrap, this one included, each
	// "<sequencer address>@<host:port>" (ha.ParsePeer). Used only when
	// Dir holds no raft state; empty: wait to be added (`hemi ha add`).
	Peers []string `toml:"peers"`
	// Admin is the membership endpoint (`hemi ha`); empty: off. On an
	// address other than loopback it needs AdminTokenFile.
	Admin string `toml:"admin"`
	// AdminTokenFile holds the bearer token every admin request must
	// carry.
	AdminTokenFile string `toml:"admin_token_file"`
	// Heartbeat, Election, LeaderLease and Commit are raft's timeouts,
	// tuned for a LAN (ha.Timings documents them and the failover they
	// give).
	Heartbeat   Duration `toml:"heartbeat"`
	Election    Duration `toml:"election"`
	LeaderLease Duration `toml:"leader_lease"`
	Commit      Duration `toml:"commit"`
	// TrailingLogs and SnapshotThreshold bound the raft log (blocks live
	// in the chain database; a snapshot is the last applied block).
	TrailingLogs      uint64 `toml:"trailing_logs"`
	SnapshotThreshold uint64 `toml:"snapshot_threshold"`
	// MaxBitcoinLag is how many blocks the Bitcoin index may trail the
	// tip its peers announce and the member still lead.
	MaxBitcoinLag int32 `toml:"max_bitcoin_lag"`
}

// Net configures the L2 network of `hemi node` (libp2p, DESIGN 9; the
// Bitcoin peers are [btc]'s): where it listens, the nodes it keeps
// connected, how many peers it accepts.
type Net struct {
	// Listen are multiaddrs to listen on, TCP only (e.g.
	// /ip4/0.0.0.0/tcp/7350 to accept peers from the LAN). Empty: no
	// listener (a follower that only dials its peers).
	Listen []string `toml:"listen"`
	// Peers are static peers, multiaddrs ending in /p2p/<peer id>; each
	// is dialed at start and redialed with backoff. A node logs its own
	// id and addresses at start ("L2 p2p host started").
	Peers []string `toml:"peers"`
	// MaxPeers caps connected peers (inbound beyond it are refused;
	// static peers always connect).
	MaxPeers int `toml:"max_peers"`
}

// PoPM configures the PoP miner (`hemi popm`). It uses btc.network and
// btc.api (the node's Bitcoin query API) too.
type PoPM struct {
	// KeyFile holds the wallet secret: a BIP-39 mnemonic, an xprv/tprv or
	// a WIF. Empty: $HEMI_POPM_KEY. Secrets are never read from flags.
	KeyFile string `toml:"key_file"`
	// Wallet is p2wpkh (BIP-84, the 202 vB transaction) or p2tr (BIP-86).
	Wallet string `toml:"wallet"`
	// L2URL is the L2 node's JSON-RPC WebSocket endpoint.
	L2URL string `toml:"l2_url"`
	// FeeTarget is the confirmation target (blocks) of the fee estimate.
	FeeTarget int `toml:"fee_target"`
	// MaxFeeRate caps every PoP transaction's fee rate (sat/vB).
	MaxFeeRate int64 `toml:"max_fee_rate"`
	// BumpBlocks is how many Bitcoin blocks a PoP transaction may wait
	// unconfirmed before it is replaced at a higher fee (RBF).
	BumpBlocks int `toml:"bump_blocks"`
}

// RPC configures the Ethereum JSON-RPC server (HTTP and WebSocket on one
// port).
type RPC struct {
	// Listen is host:port; empty turns the server off.
	Listen string `toml:"listen"`
	// CORSOrigins are the browser origins allowed ("*" for any). `hemi
	// devnet` allows any when this is empty, as anvil does.
	CORSOrigins []string `toml:"cors_origins"`
	// VHosts are the accepted HTTP Host names ("*" for any); requests to
	// an IP address are always accepted.
	VHosts []string `toml:"vhosts"`
	// APIs are the namespaces served (as geth's --http.api); empty:
	// rpc.DefaultAPIs (no debug) for `hemi node`, the same plus debug
	// for `hemi devnet` (anvil serves it).
	APIs []string `toml:"apis"`
	// SequencerURLs are the sequencer group's public JSON-RPC URLs
	// (http or https): a follower forwards eth_sendRawTransaction to
	// them, trying them in order from the last that answered (with HA
	// the leader changes), as op-geth's --rollup.sequencerhttp. A
	// sequencer ignores them.
	SequencerURLs []string `toml:"sequencer_urls"`
	// The limits below default to internal/rpc's Default* constants;
	// rpc.Config documents each.
	RequestTimeout       Duration `toml:"request_timeout"`
	ResponseMaxSize      int      `toml:"response_max_size"`
	TraceTimeout         Duration `toml:"trace_timeout"`
	TraceMaxBytes        int      `toml:"trace_max_bytes"`
	FiltersMax           int      `toml:"filters_max"`
	FiltersPerClient     int      `toml:"filters_per_client"`
	FilterMaxHashes      int      `toml:"filter_max_hashes"`
	SubscriptionsPerConn int      `toml:"subscriptions_per_conn"`
}

// Sequencer configures block production (`hemi node --sequencer`).
type Sequencer struct {
	// KeyFile holds the sealing key, hex. Empty: $HEMI_SEQUENCER_KEY.
	// Keys are never read from flags.
	KeyFile string `toml:"key_file"`
	// StrictTipOrder builds every block at its tick, ordering all its user
	// transactions by effective tip. Off (the default), the next block
	// executes what becomes pending between ticks in steps, each step
	// ordered by tip, so the tick only seals and commits (faster
	// inclusion; a late high-tip transaction cannot move ahead of those
	// already executed).
	StrictTipOrder bool `toml:"strict_tip_order"`
}

// TxPool configures the mempool (go-ethereum legacypool limits).
type TxPool struct {
	// PriceLimit is the minimum tip in wei.
	PriceLimit uint64 `toml:"price_limit"`
	// PriceBump is the percent a replacement must raise tip and fee cap.
	PriceBump uint64 `toml:"price_bump"`
	// AccountSlots are executable slots guaranteed per account.
	AccountSlots uint64 `toml:"account_slots"`
	// GlobalSlots cap executable transactions.
	GlobalSlots uint64 `toml:"global_slots"`
	// AccountQueue caps non-executable (nonce gap) slots per account.
	AccountQueue uint64 `toml:"account_queue"`
	// GlobalQueue caps non-executable transactions.
	GlobalQueue uint64 `toml:"global_queue"`
	// Lifetime is how long a non-executable transaction may wait.
	Lifetime Duration `toml:"lifetime"`
	// Rejournal is how often the journal (<datadir>/.../transactions.rlp)
	// is rewritten with the pool's content.
	Rejournal Duration `toml:"rejournal"`
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
	// P2PHandshakeTimeout is how long a connection to it may take to
	// finish the version handshake before it is dropped.
	P2PHandshakeTimeout Duration `toml:"p2p_handshake_timeout"`
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

// Default returns the documented defaults. Each is the constant of the
// package that owns it (genesis, legacypool and txpool, popm, p2p,
// peerserve, devnet, rpc), so a default is written once.
func Default() Config {
	return Config{
		DataDir: defaultDataDir(),
		Log:     Log{Level: "info", Format: "text"},
		Metrics: Metrics{Listen: ""},
		BTC: BTC{
			Network:     network.Mainnet,
			Peers:       []string{},
			MaxPeers:    p2p.DefaultMaxPeers,
			BanDuration: Duration{24 * time.Hour},
			API:         "127.0.0.1:7340",
			Progress:    Duration{10 * time.Second},
		},
		Devnet: Devnet{
			BlockInterval:       Duration{5 * time.Second},
			P2P:                 "127.0.0.1:18444",
			P2PHandshakeTimeout: Duration{peerserve.DefaultHandshakeTimeout},
			InitialBlocks:       devnet.DefaultInitialBlocks,
		},
		RPC: RPC{
			Listen:               "127.0.0.1:8545",
			CORSOrigins:          []string{},
			VHosts:               []string{"localhost"},
			APIs:                 []string{},
			RequestTimeout:       Duration{rpc.DefaultRequestTimeout},
			ResponseMaxSize:      rpc.DefaultResponseMaxSize,
			TraceTimeout:         Duration{rpc.DefaultTraceTimeout},
			TraceMaxBytes:        rpc.DefaultTraceMaxBytes,
			FiltersMax:           rpc.DefaultFiltersMax,
			FiltersPerClient:     rpc.DefaultFiltersPerClient,
			FilterMaxHashes:      rpc.DefaultFilterMaxHashes,
			SubscriptionsPerConn: rpc.DefaultSubscriptionsPerConn,
		},
		Net: Net{Listen: []string{netp2p.DefaultListen}, Peers: []string{}, MaxPeers: netp2p.DefaultMaxPeers},
		TxPool: TxPool{
			PriceLimit:   legacypool.DefaultConfig.PriceLimit,
			PriceBump:    legacypool.DefaultConfig.PriceBump,
			AccountSlots: legacypool.DefaultConfig.AccountSlots,
			GlobalSlots:  legacypool.DefaultConfig.GlobalSlots,
			AccountQueue: legacypool.DefaultConfig.AccountQueue,
			GlobalQueue:  legacypool.DefaultConfig.GlobalQueue,
			Lifetime:     Duration{legacypool.DefaultConfig.Lifetime},
			Rejournal:    Duration{txpool.DefaultRejournal},
		},
		HA: HA{
			Peers:             []string{},
			Admin:             "127.0.0.1:7360",
			Heartbeat:         Duration{ha.DefaultTimings.Heartbeat},
			Election:          Duration{ha.DefaultTimings.Election},
			LeaderLease:       Duration{ha.DefaultTimings.LeaderLease},
			Commit:            Duration{ha.DefaultTimings.Commit},
			TrailingLogs:      ha.DefaultTrailingLogs,
			SnapshotThreshold: ha.DefaultSnapshotThreshold,
			MaxBitcoinLag:     ha.DefaultMaxBitcoinLag,
		},
		PoPM: PoPM{
			Wallet:     "p2wpkh",
			L2URL:      "ws://127.0.0.1:8545",
			FeeTarget:  1,
			MaxFeeRate: popm.DefaultMaxFeeRate,
			BumpBlocks: popm.DefaultBumpBlocks,
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

// MovedToGenesis maps the config keys that genesis files replaced (the
// [l2] section and sequencer.block_time, issue 10) to the genesis file's
// field that now holds each: a config setting one is an error naming it,
// never silently ignored.
var MovedToGenesis = map[string]string{
	"l2.genesis_btc_height": "bitcoin.genesis_height (with bitcoin.genesis_hash)",
	"l2.genesis_time":       "genesis_time",
	"l2.sequencers":         "sequencers",
	"l2.keystone_interval":  "keystone_interval",
	"l2.superfinal_depth":   "pop.superfinal_depth",
	"l2.pop_reward_delay":   "pop.reward_delay",
	"sequencer.block_time":  "block_time",
}

// Load reads path over the defaults. An empty path returns the defaults.
// Unknown keys are an error so a typo never silently keeps a default.
func Load(path string) (Config, error) {
	cfg, _, err := LoadKeys(path)
	return cfg, err
}

// LoadKeys is Load that also returns the keys the file sets, in file
// order, as "section.key" ("datadir" at the top level), so a command can
// refuse or warn about the keys it does not use (Unused).
func LoadKeys(path string) (Config, []string, error) {
	cfg := Default()
	if path == "" {
		return cfg, nil, nil
	}
	md, err := toml.DecodeFile(path, &cfg)
	if err != nil {
		return cfg, nil, fmt.Errorf("%w: read %s: %w", ErrInvalid, path, err)
	}
	if un := md.Undecoded(); len(un) > 0 {
		var keys, moved []string
		for _, k := range un {
			name := k.String()
			if field, ok := MovedToGenesis[name]; ok {
				moved = append(moved, fmt.Sprintf("%s is the genesis file's %s now", name, field))
				continue
			}
			if md.Type(k...) == "Hash" && slices.ContainsFunc(un, func(o toml.Key) bool { return strings.HasPrefix(o.String(), name+".") }) {
				continue // the table of keys reported on their own
			}
			keys = append(keys, name)
		}
		if len(moved) > 0 {
			return cfg, nil, fmt.Errorf("%w: %s: %s: remove it from the config; a network's consensus parameters are set once, "+
				"in the genesis file every node loads (genesis = FILE, --genesis; `hemi genesis new` writes one)", ErrInvalid, path, strings.Join(moved, "; "))
		}
		if len(keys) > 0 {
			return cfg, nil, fmt.Errorf("%w: %s: unknown keys %s (see config.sample.toml)", ErrInvalid, path, strings.Join(keys, ", "))
		}
	}
	var set []string
	for _, k := range md.Keys() {
		if md.Type(k...) != "Hash" { // a table header is not a key
			set = append(set, k.String())
		}
	}
	return cfg, set, nil
}

// Unused returns the keys of set that none of used covers, in order: a
// section name ("btc") covers its keys, a key ("btc.api") itself.
func Unused(set []string, used ...string) []string {
	var out []string
	for _, k := range set {
		covered := false
		for _, u := range used {
			if k == u || strings.HasPrefix(k, u+".") {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out, k)
		}
	}
	return out
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
	if c.Devnet.P2PHandshakeTimeout.Duration <= 0 {
		bad("devnet.p2p_handshake_timeout must be positive")
	}
	c.validateHA(bad)
	if c.RPC.Listen != "" {
		if _, _, err := net.SplitHostPort(c.RPC.Listen); err != nil {
			bad("rpc.listen %q: want host:port (empty turns the server off)", c.RPC.Listen)
		}
	}
	for _, u := range c.RPC.SequencerURLs {
		if err := rpc.CheckSequencerURL(u); err != nil {
			bad("rpc.sequencer_urls entry %q: want http://host:port or https://host:port, a sequencer's public JSON-RPC", u)
		}
	}
	for _, a := range c.RPC.APIs {
		if !slices.Contains(rpc.KnownAPIs, a) {
			bad("rpc.apis entry %q: known are %s", a, strings.Join(rpc.KnownAPIs, ", "))
		}
	}
	if c.RPC.RequestTimeout.Duration <= 0 || c.RPC.TraceTimeout.Duration <= 0 {
		bad("rpc.request_timeout and rpc.trace_timeout must be positive")
	}
	for _, v := range []struct {
		name string
		n    int
	}{
		{"response_max_size", c.RPC.ResponseMaxSize}, {"trace_max_bytes", c.RPC.TraceMaxBytes},
		{"filters_max", c.RPC.FiltersMax}, {"filters_per_client", c.RPC.FiltersPerClient},
		{"filter_max_hashes", c.RPC.FilterMaxHashes}, {"subscriptions_per_conn", c.RPC.SubscriptionsPerConn},
	} {
		if v.n < 1 {
			bad("rpc.%s %d: must be at least 1", v.name, v.n)
		}
	}
	if _, err := netp2p.ParseListen(c.Net.Listen); err != nil {
		bad("net.listen: %v", err)
	}
	if _, err := netp2p.ParsePeers(c.Net.Peers); err != nil {
		bad("net.peers: %v", err)
	}
	if c.Net.MaxPeers < 1 {
		bad("net.max_peers %d: must be at least 1", c.Net.MaxPeers)
	}
	if c.TxPool.PriceLimit < 1 || c.TxPool.PriceBump < 1 {
		bad("txpool.price_limit and txpool.price_bump must be at least 1")
	}
	if c.TxPool.AccountSlots < 1 || c.TxPool.GlobalSlots < 1 || c.TxPool.AccountQueue < 1 || c.TxPool.GlobalQueue < 1 {
		bad("txpool slots and queues must be at least 1")
	}
	if c.TxPool.Lifetime.Duration <= 0 || c.TxPool.Rejournal.Duration <= 0 {
		bad("txpool.lifetime and txpool.rejournal must be positive")
	}
	if w := strings.ToLower(c.PoPM.Wallet); w != "p2wpkh" && w != "p2tr" {
		bad("popm.wallet %q: use p2wpkh or p2tr", c.PoPM.Wallet)
	}
	if u := c.PoPM.L2URL; !strings.HasPrefix(u, "ws://") && !strings.HasPrefix(u, "wss://") {
		bad("popm.l2_url %q: want the node's WebSocket endpoint (ws:// or wss://): keystones arrive by subscription", u)
	}
	if c.PoPM.FeeTarget < 1 || c.PoPM.FeeTarget > 1008 {
		bad("popm.fee_target %d: want 1 to 1008 blocks", c.PoPM.FeeTarget)
	}
	if c.PoPM.MaxFeeRate < 1 {
		bad("popm.max_fee_rate %d: must be at least 1 sat/vB", c.PoPM.MaxFeeRate)
	}
	if c.PoPM.BumpBlocks < 1 {
		bad("popm.bump_blocks %d: must be at least 1", c.PoPM.BumpBlocks)
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

// validateHA checks the [ha] section.
func (c *Config) validateHA(bad func(format string, args ...any)) {
	h := c.HA
	for _, a := range []struct{ key, v string }{{"ha.listen", h.Listen}, {"ha.advertise", h.Advertise}, {"ha.admin", h.Admin}} {
		if a.v != "" {
			if _, _, err := net.SplitHostPort(a.v); err != nil {
				bad("%s %q: want host:port", a.key, a.v)
			}
		}
	}
	if h.RPCURL != "" {
		if err := rpc.CheckSequencerURL(h.RPCURL); err != nil {
			bad("ha.rpc_url %q: want http://host:port or https://host:port, this member's JSON-RPC as the other members reach it", h.RPCURL)
		}
	}
	for _, p := range h.Peers {
		if _, err := ha.ParsePeer(p); err != nil {
			bad("ha.peers: %v", err)
		}
	}
	if h.Heartbeat.Duration <= 0 || h.Election.Duration <= 0 || h.LeaderLease.Duration <= 0 || h.Commit.Duration <= 0 {
		bad("ha.heartbeat, ha.election, ha.leader_lease and ha.commit must be positive")
	}
	if h.LeaderLease.Duration > h.Heartbeat.Duration {
		bad("ha.leader_lease %v must not exceed ha.heartbeat %v (raft's rule)", h.LeaderLease, h.Heartbeat)
	}
	if h.TrailingLogs == 0 || h.SnapshotThreshold == 0 {
		bad("ha.trailing_logs and ha.snapshot_threshold must be positive")
	}
	if h.MaxBitcoinLag < 1 {
		bad("ha.max_bitcoin_lag %d: must be at least 1 (a block just announced is still being indexed)", h.MaxBitcoinLag)
	}
}

package cluster

import (
	"context"
	"crypto/ecdsa"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/sync/errgroup"

	"github.com/hemi-go/hemi/internal/btc/regtest"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/devnet"
	"github.com/hemi-go/hemi/internal/ha"
	"github.com/hemi-go/hemi/internal/netp2p"
	"github.com/hemi-go/hemi/internal/node"
)

const (
	// DefaultMineInterval is how often the regtest node mines by default.
	DefaultMineInterval = 2 * time.Second
	// GenesisFile is the genesis file's name in the cluster's directory.
	GenesisFile = "genesis.json"
	// statusTimeout bounds one GET /status.
	statusTimeout = 2 * time.Second
	// stopWait is how long Stop waits for a process after SIGTERM before
	// SIGKILL.
	stopWait = 10 * time.Second
)

// Config configures a cluster.
type Config struct {
	// Bin is the hemi binary the nodes run (os.Executable() for `hemi
	// devnet`; tests build it once).
	Bin string
	// Dir holds everything (regtest chain, genesis, node directories).
	// Required; Start wipes it, like `hemi devnet`.
	Dir string
	// Sequencers is the raft group's size (1, 3 or 5 make sense);
	// Followers the number of non-sequencing nodes.
	Sequencers, Followers int
	// BlockTime overrides the genesis block time (default the devnet's).
	BlockTime time.Duration
	// MineInterval is the regtest mining interval (default
	// DefaultMineInterval; negative: no timed mining).
	MineInterval time.Duration
	// BTCListen is the regtest P2P listen address (default loopback, a
	// free port).
	BTCListen string
	// LogFormat is the nodes' --log-format ("" the default, text; json
	// for a harness that reads the logs, as `hemi bench net` does).
	LogFormat string
	// NodeConfig is TOML appended to every node's config file (e.g. an
	// [ha] section with other raft timings, for a benchmark).
	NodeConfig string
	// Genesis, when set, changes the genesis file before it is validated
	// and written (a test's shorter keystone interval, say).
	Genesis func(f *genesis.File)
	// NodeArgs, when set, returns extra `hemi node` arguments for n. It
	// is called at every (re)start, after every node's ports are chosen.
	NodeArgs func(c *Cluster, n *Node) []string
	// Logger receives the harness's and the regtest node's logs.
	Logger *slog.Logger
}

// Node is one node process.
type Node struct {
	// Index is the node's position: sequencers first, then followers.
	Index int
	// Sequencer is set for a raft group member.
	Sequencer bool
	// Name is seq-<i> or follower-<i>.
	Name string
	// Dir is the node's data directory; Log its log file.
	Dir, Log string
	// RPC, Raft, Admin and P2P are the node's loopback host:port
	// addresses (Raft and Admin empty for a follower); P2P is the L2
	// peer-to-peer (libp2p) listener.
	RPC, Raft, Admin, P2P string
	// PeerID is the node's libp2p peer id: its identity key is written
	// before the first start, so every node's static peer list can name
	// every other node.
	PeerID peer.ID
	// Addr is the sequencer's seal key address (zero for a follower).
	Addr common.Address

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd exits
}

// RPCURL is the node's JSON-RPC URL.
func (n *Node) RPCURL() string { return "http://" + n.RPC }

// Pid is the node's process id; 0 when it was never started.
func (n *Node) Pid() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil || n.cmd.Process == nil {
		return 0
	}
	return n.cmd.Process.Pid
}

// Cluster is a running local network.
type Cluster struct {
	cfg Config
	log *slog.Logger
	// BTC is the embedded regtest node the nodes sync Bitcoin from.
	BTC *regtest.Node
	// GenesisPath is the genesis file every node runs.
	GenesisPath string
	// Genesis is that file.
	Genesis *genesis.File
	// Accounts are the genesis's funded dev accounts.
	Accounts []genesis.DevAccount
	// Nodes are the sequencers, then the followers.
	Nodes []*Node

	cancel context.CancelFunc
	g      *errgroup.Group
	stop   sync.Once
}

// SequencerKeys returns the n deterministic dev seal keys: the dev
// mnemonic's accounts after the funded ones, so a seal key never holds
// the test's funds.
func SequencerKeys(n int) ([]*ecdsa.PrivateKey, error) {
	accs, err := genesis.DevAccounts(genesis.DevMnemonic, genesis.DevAccountCount+n)
	if err != nil {
		return nil, err
	}
	keys := make([]*ecdsa.PrivateKey, n)
	for i := range keys {
		keys[i] = accs[genesis.DevAccountCount+i].Key
	}
	return keys, nil
}

// Start mines the regtest chain's first blocks, writes the genesis file
// and the node directories, and starts every node. It returns once every
// process has started (not once they serve: WaitReady).
func Start(ctx context.Context, cfg Config) (c *Cluster, err error) {
	if cfg.Bin == "" || cfg.Dir == "" {
		return nil, errors.New("cluster: Bin and Dir are required")
	}
	if cfg.Sequencers < 1 || cfg.Followers < 0 {
		return nil, fmt.Errorf("cluster: %d sequencers and %d followers: want at least one sequencer", cfg.Sequencers, cfg.Followers)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MineInterval == 0 {
		cfg.MineInterval = DefaultMineInterval
	}
	if err := os.RemoveAll(cfg.Dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, err
	}
	c = &Cluster{cfg: cfg, log: cfg.Logger}
	var rctx context.Context
	rctx, c.cancel = context.WithCancel(context.Background())
	c.g, rctx = errgroup.WithContext(rctx)
	defer func() {
		if err != nil {
			c.Stop()
		}
	}()
	_, minerAddr, err := devnet.MinerKey()
	if err != nil {
		return nil, err
	}
	listen := cfg.BTCListen
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	mine := cfg.MineInterval
	if mine < 0 {
		mine = 0
	}
	if c.BTC, err = regtest.New(regtest.Config{DataDir: filepath.Join(cfg.Dir, "regtest"), ListenAddr: listen,
		MineInterval: mine, MiningAddr: minerAddr, Logger: c.log}); err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	c.g.Go(func() error { return c.BTC.Run(rctx) })
	if _, err := c.BTC.Mine(devnet.DefaultInitialBlocks, minerAddr); err != nil {
		return nil, fmt.Errorf("cluster: mine initial blocks: %w", err)
	}
	keys, err := SequencerKeys(cfg.Sequencers)
	if err != nil {
		return nil, err
	}
	if err := c.writeGenesis(keys); err != nil {
		return nil, err
	}
	if err := c.layout(keys); err != nil {
		return nil, err
	}
	for _, n := range c.Nodes {
		if err := c.start(n); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// writeGenesis writes the devnet genesis with keys as the sequencer set,
// its Bitcoin view the regtest tip minus the view lag (as the one-process
// devnet does).
func (c *Cluster) writeGenesis(keys []*ecdsa.PrivateKey) error {
	_, tip := c.BTC.Tip()
	vh := max(tip-int32(genesis.DefaultViewLag), 0)
	vhash, ok := c.BTC.HashAt(vh)
	if !ok {
		return fmt.Errorf("cluster: regtest has no block at %d", vh)
	}
	addrs := make([]common.Address, len(keys))
	names := make([]string, len(keys))
	for i, k := range keys {
		addrs[i], names[i] = crypto.PubkeyToAddress(k.PublicKey), fmt.Sprintf("seq-%d", i)
	}
	f, accs, err := genesis.DevnetFile(addrs[0], genesis.BitcoinBlock{Height: vh, Hash: vhash}, uint64(time.Now().Unix()))
	if err != nil {
		return fmt.Errorf("cluster: genesis: %w", err)
	}
	f.Config.Sequencers, f.SequencerNames = addrs, names
	if f.Config.Tunnel, err = genesis.DevTunnelConfig(); err != nil {
		return fmt.Errorf("cluster: genesis: %w", err)
	}
	if c.cfg.BlockTime > 0 {
		f.Config.BlockTime = c.cfg.BlockTime
	}
	if c.cfg.Genesis != nil {
		c.cfg.Genesis(f)
	}
	if err := f.Validate(); err != nil {
		return fmt.Errorf("cluster: genesis: %w", err)
	}
	data, err := f.Encode()
	if err != nil {
		return err
	}
	c.GenesisPath = filepath.Join(c.cfg.Dir, GenesisFile)
	if err := os.WriteFile(c.GenesisPath, data, 0o644); err != nil {
		return err
	}
	c.Genesis, c.Accounts = f, accs
	return nil
}

// layout picks every node's ports and writes its directory: config file
// and, for a sequencer, its 0600 seal key.
func (c *Cluster) layout(keys []*ecdsa.PrivateKey) error {
	total := c.cfg.Sequencers + c.cfg.Followers
	// Every node's ports at once: ports taken one node at a time were
	// free again for the next node (one node's JSON-RPC port was seen to
	// be another's libp2p port).
	all, err := freePorts(4 * total)
	if err != nil {
		return err
	}
	for i := range total {
		n := &Node{Index: i, Sequencer: i < c.cfg.Sequencers}
		if n.Sequencer {
			n.Name = fmt.Sprintf("seq-%d", i)
		} else {
			n.Name = fmt.Sprintf("follower-%d", i-c.cfg.Sequencers)
		}
		n.Dir = filepath.Join(c.cfg.Dir, n.Name)
		n.Log = filepath.Join(n.Dir, "node.log")
		if err := os.MkdirAll(n.Dir, 0o700); err != nil {
			return err
		}
		ports := all[4*i : 4*i+4]
		n.RPC, n.P2P = ports[0], ports[1]
		idPath := filepath.Join(n.Dir, "regtest", "l2", netp2p.IdentityFile)
		id, err := netp2p.LoadIdentity(idPath)
		if err != nil {
			return err
		}
		if n.PeerID, err = peer.IDFromPrivateKey(id); err != nil {
			return err
		}
		if n.Sequencer {
			n.Raft, n.Admin = ports[2], ports[3]
			n.Addr = crypto.PubkeyToAddress(keys[i].PublicKey)
			if err := os.WriteFile(filepath.Join(n.Dir, "seal.key"), []byte(hex.EncodeToString(crypto.FromECDSA(keys[i]))+"\n"), 0o600); err != nil {
				return err
			}
		}
		c.Nodes = append(c.Nodes, n)
	}
	for _, n := range c.Nodes {
		if err := os.WriteFile(filepath.Join(n.Dir, "node.toml"), []byte(nodeConfig(n)+c.cfg.NodeConfig), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// nodeConfig is a node's config file: what is not a flag (the key file)
// and what must differ per node but has a fixed default (the Bitcoin
// query API, off here).
func nodeConfig(n *Node) string {
	var b strings.Builder
	fmt.Fprintf(&b, "datadir = %q\n\n[btc]\napi = \"\"\n", n.Dir)
	if n.Sequencer {
		fmt.Fprintf(&b, "\n[sequencer]\nkey_file = %q\n", filepath.Join(n.Dir, "seal.key"))
	}
	return b.String()
}

// Args are n's `hemi node` arguments.
func (c *Cluster) Args(n *Node) []string {
	args := []string{"--config", filepath.Join(n.Dir, "node.toml")}
	if c.cfg.LogFormat != "" {
		args = append(args, "--log-format", c.cfg.LogFormat)
	}
	args = append(args, "node", "--genesis", c.GenesisPath,
		"--network", "regtest", "--peer", c.BTC.P2PAddr(), "--rpc", n.RPC)
	if n.Sequencer {
		args = append(args, "--sequencer", "--ha-listen", n.Raft, "--ha-admin", n.Admin)
		for _, m := range c.Nodes {
			if m.Sequencer {
				args = append(args, "--ha-peer", m.Addr.Hex()+"@"+m.Raft)
			}
		}
	}
	if !n.Sequencer {
		// A follower forwards the transactions sent to it to the
		// sequencers' JSON-RPC (rpc.sequencer_urls).
		for _, m := range c.Nodes {
			if m.Sequencer {
				args = append(args, "--sequencer-url", m.RPCURL())
			}
		}
	}
	args = append(args, "--net-listen", multiaddr(n.P2P, ""))
	for _, m := range c.Nodes {
		if m != n {
			args = append(args, "--net-peer", multiaddr(m.P2P, m.PeerID))
		}
	}
	if c.cfg.NodeArgs != nil {
		args = append(args, c.cfg.NodeArgs(c, n)...)
	}
	return args
}

// multiaddr is the libp2p TCP multiaddr of a loopback host:port, with
// /p2p/<id> when id is set.
func multiaddr(hostport string, id peer.ID) string {
	host, port, _ := net.SplitHostPort(hostport)
	a := "/ip4/" + host + "/tcp/" + port
	if id != "" {
		a += "/p2p/" + id.String()
	}
	return a
}

// start starts n's process, its output appended to n.Log.
func (c *Cluster) start(n *Node) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.done != nil {
		select {
		case <-n.done:
		default:
			return fmt.Errorf("cluster: %s is running", n.Name)
		}
	}
	lf, err := os.OpenFile(n.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	// --config must come before the command: it is a root flag.
	cmd := exec.Command(c.cfg.Bin, c.Args(n)...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		lf.Close()
		return fmt.Errorf("cluster: start %s: %w", n.Name, err)
	}
	done := make(chan struct{})
	n.cmd, n.done = cmd, done
	go func() {
		cmd.Wait()
		lf.Close()
		close(done)
	}()
	c.log.Info("cluster node started", "node", n.Name, "pid", cmd.Process.Pid, "rpc", n.RPC, "raft", n.Raft)
	return nil
}

// Kill sends SIGKILL to node i and waits until it exited.
func (c *Cluster) Kill(i int) error {
	n := c.Nodes[i]
	n.mu.Lock()
	cmd, done := n.cmd, n.done
	n.mu.Unlock()
	if cmd == nil {
		return fmt.Errorf("cluster: %s never started", n.Name)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	<-done
	return nil
}

// Restart starts node i again with the same directory and ports; it must
// have exited (Kill).
func (c *Cluster) Restart(i int) error { return c.start(c.Nodes[i]) }

// Running reports whether node i's process is alive.
func (c *Cluster) Running(i int) bool {
	n := c.Nodes[i]
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.done == nil {
		return false
	}
	select {
	case <-n.done:
		return false
	default:
		return true
	}
}

// Status is node i's GET /status.
func (c *Cluster) Status(ctx context.Context, i int) (*node.Status, error) {
	ctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Nodes[i].RPCURL()+"/status", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("cluster: %s /status: HTTP %d: %.200s", c.Nodes[i].Name, resp.StatusCode, body)
	}
	var st node.Status
	if err := json.Unmarshal(body, &st); err != nil {
		return nil, fmt.Errorf("cluster: %s /status: %w", c.Nodes[i].Name, err)
	}
	return &st, nil
}

// ErrNoLeader: no running sequencer says it leads.
var ErrNoLeader = errors.New("cluster: no leader")

// RaftStatus is sequencer i's raft member status, from its admin
// endpoint (what `hemi ha status --json` prints).
func (c *Cluster) RaftStatus(ctx context.Context, i int) (ha.Status, error) {
	n := c.Nodes[i]
	if !n.Sequencer {
		return ha.Status{}, fmt.Errorf("cluster: %s is not a sequencer", n.Name)
	}
	cl := ha.AdminClient{URL: "http://" + n.Admin, HTTP: &http.Client{Timeout: statusTimeout}}
	return cl.Status(ctx)
}

// Leader is the index of the running sequencer whose raft state is
// Leader. Two sequencers claiming it at once (possible for an instant
// after a partition, before the old leader's lease runs out) is an error.
func (c *Cluster) Leader(ctx context.Context) (int, error) {
	leader := -1
	for _, n := range c.Nodes {
		if !n.Sequencer || !c.Running(n.Index) {
			continue
		}
		st, err := c.RaftStatus(ctx, n.Index)
		if err != nil || st.State != "Leader" {
			continue
		}
		if leader >= 0 {
			return -1, fmt.Errorf("cluster: %s and %s both lead", c.Nodes[leader].Name, n.Name)
		}
		leader = n.Index
	}
	if leader < 0 {
		return -1, ErrNoLeader
	}
	return leader, nil
}

// WaitLeader polls until a sequencer leads or ctx ends.
func (c *Cluster) WaitLeader(ctx context.Context) (int, error) {
	for {
		i, err := c.Leader(ctx)
		if err == nil {
			return i, nil
		}
		select {
		case <-ctx.Done():
			return -1, fmt.Errorf("cluster: wait for a leader: %w (last: %w)", ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// WaitRejoined polls until sequencer i is a raft follower of a running
// leader, caught up (it may lead again), with its head at least the
// leader's head when the wait began, or ctx ends.
func (c *Cluster) WaitRejoined(ctx context.Context, i int) error {
	l, err := c.WaitLeader(ctx)
	if err != nil {
		return err
	}
	lst, err := c.RaftStatus(ctx, l)
	if err != nil {
		return err
	}
	var last string
	for {
		st, err := c.RaftStatus(ctx, i)
		switch {
		case err != nil:
			last = err.Error()
		case st.State == "Follower" && st.CaughtUp && st.Head.Number >= lst.Head.Number:
			return nil
		default:
			last = fmt.Sprintf("state %s, caught up %v (%s), head %d of %d", st.State, st.CaughtUp, st.Why, st.Head.Number, lst.Head.Number)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: wait for %s to rejoin: %w (last: %s)", c.Nodes[i].Name, ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// WaitHead polls until node i's head is at least number, or ctx ends.
func (c *Cluster) WaitHead(ctx context.Context, i int, number uint64) error {
	var last error
	for {
		st, err := c.Status(ctx, i)
		if err == nil && st.Head.Number >= number {
			return nil
		}
		if err != nil {
			last = err
		} else {
			last = fmt.Errorf("head %d", st.Head.Number)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: wait for %s to reach block %d: %w (last: %v)", c.Nodes[i].Name, number, ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Stop terminates every node (SIGTERM, SIGKILL after stopWait) and the
// regtest node. Safe to call more than once.
func (c *Cluster) Stop() {
	c.stop.Do(func() {
		var wg sync.WaitGroup
		for _, n := range c.Nodes {
			n.mu.Lock()
			cmd, done := n.cmd, n.done
			n.mu.Unlock()
			if cmd == nil {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				cmd.Process.Signal(syscall.SIGTERM)
				select {
				case <-done:
				case <-time.After(stopWait):
					cmd.Process.Signal(syscall.SIGKILL)
					<-done
				}
			}()
		}
		wg.Wait()
		if c.cancel != nil {
			c.cancel()
			c.g.Wait()
		}
	})
}

// freePorts returns n distinct free loopback host:port addresses (held
// open together so they differ; another process could take one before the
// node binds it, which is why nodes bind at once after).
func freePorts(n int) ([]string, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	out := make([]string, n)
	for i := range out {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		out[i] = ln.Addr().String()
	}
	return out, nil
}

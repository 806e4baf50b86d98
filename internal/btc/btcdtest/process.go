package btcdtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/rpcclient"

	"github.com/hemi-go/hemi/internal/testtools"
	"github.com/hemi-go/hemi/internal/testtools/testkit"
)

// Sentinel errors; callers match them with errors.Is.
var (
	// ErrNoBinary means no btcd executable was found: the lookup is
	// testtools.Find's, and so is its error.
	ErrNoBinary = testtools.ErrNotFound
	// ErrStart means btcd did not come up and answer RPC.
	ErrStart = errors.New("btcd did not start")
	// ErrExited means the btcd process ended while it was needed.
	ErrExited = errors.New("btcd exited")
	// ErrRPC wraps a failed RPC call.
	ErrRPC = errors.New("btcd rpc failed")
)

const (
	rpcUser        = "hemi"
	rpcPass        = "hemi"
	startTimeout   = 60 * time.Second
	stopGrace      = 10 * time.Second
	startAttempts  = 3
	defaultTrickle = 50 * time.Millisecond
)

// Options configure one btcd process. The zero value is a regtest node that
// mines to DefaultMiningAddress.
type Options struct {
	// Binary is the btcd executable; empty means FindBinary.
	Binary string
	// Dir holds the data directory, HOME and log; empty means a new
	// temporary directory that Stop removes.
	Dir string
	// MiningAddr receives the coinbase of generated blocks; nil means
	// DefaultMiningAddress.
	MiningAddr address.Address
	// TxIndex and AddrIndex enable btcd's --txindex and --addrindex.
	TxIndex   bool
	AddrIndex bool
	// DebugLevel is btcd's --debuglevel; empty means "info".
	DebugLevel string
	// ExtraArgs are appended to the command line.
	ExtraArgs []string
}

// Node is one running btcd process and an RPC client to it. Its methods are
// safe for concurrent use.
type Node struct {
	cmd      *exec.Cmd
	dir      string
	ownDir   bool
	logPath  string
	logFile  *os.File
	p2pAddr  string
	rpcAddr  string
	rpc      *rpcclient.Client
	exited   chan struct{}
	waitErr  error
	stopOnce sync.Once
	stopErr  error
}

// defaultKeyBytes is the fixed private key behind DefaultMiningAddress; it
// exists only so tests can spend btcd-mined coinbases.
var defaultKeyBytes = [32]byte{
	0x68, 0x65, 0x6d, 0x69, 0x2d, 0x62, 0x74, 0x63, 0x64, 0x74, 0x65, 0x73,
	0x74, 0x2d, 0x6d, 0x69, 0x6e, 0x69, 0x6e, 0x67, 0x2d, 0x6b, 0x65, 0x79,
	0x2d, 0x76, 0x31, 0x00, 0x00, 0x00, 0x00, 0x01,
}

// DefaultMiningKey returns the private key of DefaultMiningAddress.
func DefaultMiningKey() *btcec.PrivateKey {
	k, _ := btcec.PrivKeyFromBytes(defaultKeyBytes[:])
	return k
}

// DefaultMiningAddress is the regtest P2WPKH address of DefaultMiningKey,
// where nodes mine unless Options.MiningAddr says otherwise.
func DefaultMiningAddress() *address.AddressWitnessPubKeyHash {
	pub := DefaultMiningKey().PubKey().SerializeCompressed()
	a, err := address.NewAddressWitnessPubKeyHash(address.Hash160(pub), &chaincfg.RegressionNetParams)
	if err != nil {
		panic(fmt.Sprintf("btcdtest: default mining address: %v", err)) // a 20-byte program is always valid
	}
	return a
}

// FindBinary returns the btcd executable: $HEMI_BTCD, else
// <module root>/.tools/bin/btcd, else btcd on $PATH (testtools.Find).
func FindBinary() (string, error) {
	return testtools.Find("btcd")
}

// StartProcess starts btcd and waits until it answers RPC. ctx bounds the
// start only; the process runs until Stop. A port taken between choosing and
// binding makes btcd exit, so the start is retried with new ports.
func StartProcess(ctx context.Context, opts Options) (*Node, error) {
	bin := opts.Binary
	if bin == "" {
		var err error
		if bin, err = FindBinary(); err != nil {
			return nil, err
		}
	}
	var lastErr error
	for attempt := 0; attempt < startAttempts; attempt++ {
		n, err := startOnce(ctx, bin, opts, attempt)
		if err == nil {
			return n, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

func startOnce(ctx context.Context, bin string, opts Options, attempt int) (*Node, error) {
	n := &Node{dir: opts.Dir, exited: make(chan struct{})}
	if n.dir == "" {
		d, err := os.MkdirTemp("", "btcdtest-")
		if err != nil {
			return nil, fmt.Errorf("btcdtest: temp dir: %w", err)
		}
		n.dir, n.ownDir = d, true
	} else {
		n.dir = filepath.Join(n.dir, "btcd-"+strconv.Itoa(attempt))
	}
	home := filepath.Join(n.dir, "home")
	data := filepath.Join(n.dir, "data")
	logs := filepath.Join(n.dir, "logs")
	for _, d := range []string{home, data, logs} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			n.cleanupDir()
			return nil, fmt.Errorf("btcdtest: mkdir: %w", err)
		}
	}
	var err error
	if n.p2pAddr, err = testkit.PickAddr(); err != nil {
		n.cleanupDir()
		return nil, fmt.Errorf("btcdtest: free port: %w", err)
	}
	if n.rpcAddr, err = testkit.PickAddr(); err != nil {
		n.cleanupDir()
		return nil, fmt.Errorf("btcdtest: free port: %w", err)
	}
	mining := opts.MiningAddr
	if mining == nil {
		mining = DefaultMiningAddress()
	}
	level := opts.DebugLevel
	if level == "" {
		level = "info"
	}
	args := []string{
		"--regtest",
		"--datadir=" + data,
		"--logdir=" + logs,
		"--configfile=" + filepath.Join(n.dir, "btcd.conf"),
		"--listen=" + n.p2pAddr,
		"--rpclisten=" + n.rpcAddr,
		"--rpcuser=" + rpcUser,
		"--rpcpass=" + rpcPass,
		"--notls",
		"--rejectnonstd",
		"--nodnsseed",
		"--nostalldetect",
		"--nobanning",
		"--trickleinterval=" + defaultTrickle.String(),
		"--miningaddr=" + mining.EncodeAddress(),
		"--debuglevel=" + level,
	}
	if opts.TxIndex {
		args = append(args, "--txindex")
	}
	if opts.AddrIndex {
		args = append(args, "--addrindex")
	}
	args = append(args, opts.ExtraArgs...)
	if err := os.WriteFile(filepath.Join(n.dir, "btcd.conf"), nil, 0o600); err != nil {
		n.cleanupDir()
		return nil, fmt.Errorf("btcdtest: config file: %w", err)
	}

	n.logPath = filepath.Join(n.dir, "btcd.out")
	if n.logFile, err = os.Create(n.logPath); err != nil {
		n.cleanupDir()
		return nil, fmt.Errorf("btcdtest: log file: %w", err)
	}
	n.cmd = exec.Command(bin, args...)
	n.cmd.Env = append(os.Environ(), "HOME="+home)
	n.cmd.Stdout = n.logFile
	n.cmd.Stderr = n.logFile
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := n.cmd.Start(); err != nil {
		n.logFile.Close()
		n.cleanupDir()
		return nil, fmt.Errorf("btcdtest: exec %s: %w", bin, err)
	}
	go func() {
		n.waitErr = n.cmd.Wait()
		close(n.exited)
	}()

	n.rpc, err = rpcclient.New(&rpcclient.ConnConfig{
		Host:         n.rpcAddr,
		User:         rpcUser,
		Pass:         rpcPass,
		HTTPPostMode: true,
		DisableTLS:   true,
	}, nil)
	if err != nil {
		_ = n.Stop()
		return nil, fmt.Errorf("btcdtest: rpc client: %w", err)
	}
	if err := n.waitReady(ctx); err != nil {
		tail := n.LogTail(20)
		_ = n.Stop()
		return nil, fmt.Errorf("%w: %w\n%s", ErrStart, err, tail)
	}
	return n, nil
}

func (n *Node) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		// Dial first: rpcclient retries refused connections with a long
		// backoff, which would hide an early exit.
		if c, err := net.DialTimeout("tcp", n.rpcAddr, time.Second); err == nil {
			_ = c.Close()
			if _, err := n.rpc.GetBlockCount(); err == nil {
				return nil
			}
		}
		select {
		case <-n.exited:
			return fmt.Errorf("%w: %v", ErrExited, n.waitErr)
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

func (n *Node) cleanupDir() {
	if n.ownDir {
		_ = os.RemoveAll(n.dir)
	}
}

// Stop ends btcd (interrupt, then kill after a grace period), closes the
// RPC client and removes the directory StartProcess created. It is safe to
// call more than once.
func (n *Node) Stop() error {
	n.stopOnce.Do(func() {
		if n.rpc != nil {
			n.rpc.Shutdown()
		}
		select {
		case <-n.exited:
		default:
			_ = n.cmd.Process.Signal(os.Interrupt)
			select {
			case <-n.exited:
			case <-time.After(stopGrace):
				_ = syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL)
				<-n.exited
				n.stopErr = fmt.Errorf("btcdtest: btcd ignored interrupt for %s and was killed", stopGrace)
			}
		}
		_ = n.logFile.Close()
		n.cleanupDir()
	})
	return n.stopErr
}

// Exited is closed when the btcd process has ended.
func (n *Node) Exited() <-chan struct{} { return n.exited }

// P2PAddr is btcd's P2P listen address (127.0.0.1:port).
func (n *Node) P2PAddr() string { return n.p2pAddr }

// RPCAddr is btcd's RPC listen address (127.0.0.1:port).
func (n *Node) RPCAddr() string { return n.rpcAddr }

// RPC is the client to btcd's RPC server (HTTP POST mode, no TLS).
func (n *Node) RPC() *rpcclient.Client { return n.rpc }

// Dir is the directory holding btcd's data, HOME and output.
func (n *Node) Dir() string { return n.dir }

// Pid is the btcd process id, for resource measurements.
func (n *Node) Pid() int { return n.cmd.Process.Pid }

// LogTail returns the last lines of btcd's output.
func (n *Node) LogTail(lines int) string {
	b, err := os.ReadFile(n.logPath)
	if err != nil {
		return fmt.Sprintf("(btcd log unreadable: %v)", err)
	}
	b = bytes.TrimRight(b, "\n")
	all := strings.Split(string(b), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// rpcErr wraps err from an RPC call with the method name.
func rpcErr(method string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrRPC, method, err)
}

// alive reports ErrExited if btcd has ended.
func (n *Node) alive() error {
	select {
	case <-n.exited:
		return fmt.Errorf("%w: %v", ErrExited, n.waitErr)
	default:
		return nil
	}
}

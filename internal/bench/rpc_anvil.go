package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"time"

	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/hemi-go/hemi/internal/testtools"
	"github.com/hemi-go/hemi/internal/testtools/testkit"
)

// ErrNoAnvil is returned when the anvil binary is missing; a failed
// lookup wraps testtools' error, which says how to install it.
var ErrNoAnvil = errors.New("bench: anvil not found")

// FindAnvil returns the anvil binary: $HEMI_ANVIL, else the one `make
// test` installs under the module root's .tools/npm, else anvil on PATH
// (testtools.Find).
func FindAnvil() (string, error) {
	p, err := testtools.Find("anvil")
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrNoAnvil, err)
	}
	return p, nil
}

// anvilProcess is a running anvil.
type anvilProcess struct {
	url  string
	cmd  *exec.Cmd
	log  *testkit.LogBuffer
	done chan error
}

// anvilLogLines is how much of anvil's output is kept for error messages.
const anvilLogLines = 1000

// freePort returns a loopback port nobody listens on now.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("bench: free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Anvil's mining modes. anvilInterval is what the benchmark uses.
//
// Why not automine: anvil 1.7.1 in its default automine mode stops
// producing blocks partway through this load. Its auto miner mines only
// when its ready-transaction notification stream wakes it and sleeps once
// it has taken what was ready; under a sustained stream of sends the
// wake-up is lost, so thousands of transactions sit in its pool as ready
// (txpool_status pending > 0, queued 0) while no block is mined. It
// happens with 8 clients and batches of 100, with one client sending one
// unbatched transaction at a time, and with --order fifo; a single
// evm_mine then mines the waiting transactions, after which the miner
// keeps mining empty blocks. Interval mining (--block-time) does not
// stall: it drains the ready set every tick. This is anvil's automine bug
// foundry-rs/foundry#10122 ("block mining misses ready transactions",
// reproducible only in auto mode; workaround interval or mixed mining).
// Interval mining at our block time is also the fair peer: both chains
// then build a block of whatever is ready every block time.
const (
	anvilInterval = "interval" // --block-time <our block time>
	anvilAutomine = "auto"     // anvil's default: a block per ready batch
)

// anvilArgs is anvil's command line: --prune-history (keep no historic
// states, as a benchmark node need not), loopback port, the gas limit,
// and the mining mode.
func anvilArgs(port int, gasLimit uint64, mining string, blockTime time.Duration) ([]string, error) {
	args := []string{"--prune-history", "--host", "127.0.0.1", "--port", strconv.Itoa(port),
		"--gas-limit", strconv.FormatUint(gasLimit, 10), "--silent"}
	switch mining {
	case anvilInterval:
		if blockTime <= 0 {
			return nil, fmt.Errorf("bench: anvil interval mining needs a block time, got %v", blockTime)
		}
		args = append(args, "--block-time", strconv.FormatFloat(blockTime.Seconds(), 'f', -1, 64))
	case anvilAutomine:
	default:
		return nil, fmt.Errorf("bench: anvil mining mode %q: want %q or %q", mining, anvilInterval, anvilAutomine)
	}
	return args, nil
}

// startAnvil starts anvil (anvilArgs; its ten default accounts from the
// dev mnemonic) on a free loopback port, HOME set to home, and waits
// until it answers eth_chainId.
func startAnvil(ctx context.Context, bin, home string, gasLimit uint64, mining string, blockTime time.Duration) (*anvilProcess, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	args, err := anvilArgs(port, gasLimit, mining, blockTime)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "HOME="+home)
	cmd.Dir = home
	a := &anvilProcess{url: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd, log: &testkit.LogBuffer{Keep: anvilLogLines}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = a.log, a.log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start anvil: %w", err)
	}
	go func() { a.done <- cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := gethrpc.DialContext(ctx, a.url)
		if err == nil {
			var id string
			err = c.CallContext(ctx, &id, "eth_chainId")
			c.Close()
			if err == nil {
				return a, nil
			}
		}
		select {
		case werr := <-a.done:
			return nil, fmt.Errorf("bench: anvil exited at start: %v\n--- anvil output:\n%s", werr, a.log.String())
		case <-ctx.Done():
			_ = a.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = a.stop()
			return nil, fmt.Errorf("bench: anvil did not answer on %s within 30s: %w\n--- anvil output:\n%s", a.url, err, a.log.String())
		}
	}
}

// stop interrupts anvil and waits for it (killing it after 10 s).
func (a *anvilProcess) stop() error {
	_ = a.cmd.Process.Signal(os.Interrupt)
	select {
	case <-a.done:
	case <-time.After(10 * time.Second):
		_ = a.cmd.Process.Kill()
		<-a.done
	}
	return nil
}

package cluster

import (
	"context"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/ethclient"
)

// proc is one more hemi process of a test beside the cluster's nodes (a
// PoP miner, a tunnel signer): its output appended to its own log file,
// its secrets in files or the environment (never on the command line),
// killed with SIGKILL and restarted with the same arguments and data
// directory, as a crash and a supervisor would.
type proc struct {
	name string
	bin  string
	args []string
	env  []string // added to the test's environment
	log  string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// start starts p; it must not be running.
func (p *proc) start(t *testing.T) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done != nil {
		select {
		case <-p.done:
		default:
			t.Fatalf("%s is running", p.name)
		}
	}
	lf, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		lf.Close()
		t.Fatalf("start %s: %v", p.name, err)
	}
	done := make(chan struct{})
	p.cmd, p.done = cmd, done
	go func() {
		cmd.Wait()
		lf.Close()
		close(done)
	}()
}

// kill sends SIGKILL and waits until p exited; a p that is not running
// is left alone.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Fatalf("kill %s: %v", p.name, err)
	}
	<-done
}

// running reports whether p's process is alive.
func (p *proc) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// logSize is p's log length: where a later waitLog starts reading.
func (p *proc) logSize() int64 {
	fi, err := os.Stat(p.log)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// waitLog polls p's log from offset from until a line holds every one of
// parts, and returns that line; it fails the test when ctx ends first.
func (p *proc) waitLog(ctx context.Context, t *testing.T, from int64, parts ...string) string {
	t.Helper()
	for {
		if b, err := os.ReadFile(p.log); err == nil && int64(len(b)) > from {
			for _, line := range strings.Split(string(b[from:]), "\n") {
				all := true
				for _, part := range parts {
					all = all && strings.Contains(line, part)
				}
				if all {
					return line
				}
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s logged no line with %q", p.name, parts)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// tail is the end of p's log, for a failed test's output.
func (p *proc) tail(n int) string {
	b, err := os.ReadFile(p.log)
	if err != nil {
		return err.Error()
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// rpcState reads contract storage at one L2 block over
// eth_getStorageAt (tunnel.StateReader); the first error is kept.
type rpcState struct {
	ctx   context.Context
	c     *ethclient.Client
	block *big.Int
	err   error
}

func (s *rpcState) GetState(addr common.Address, slot common.Hash) common.Hash {
	if s.err != nil {
		return common.Hash{}
	}
	v, err := s.c.StorageAt(s.ctx, addr, slot, s.block)
	if err != nil {
		s.err = err
		return common.Hash{}
	}
	return common.BytesToHash(v)
}

package cluster

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/params"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
)

// hemiBin is the hemi binary, built once by TestMain.
var hemiBin string

func TestMain(m *testing.M) {
	os.Exit(func() int {
		flag.Parse()
		if testing.Short() {
			return m.Run()
		}
		dir, err := os.MkdirTemp("", "hemi-cluster-bin")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		hemiBin = filepath.Join(dir, "hemi")
		out, err := exec.Command("go", "build", "-o", hemiBin, "github.com/hemi-go/hemi/cmd/hemi").CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "build hemi: %v\n%s", err, out)
			return 1
		}
		return m.Run()
	}())
}

func startCluster(t *testing.T, seqs, followers int) *Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("runs node processes")
	}
	dir := t.TempDir()
	c, err := Start(context.Background(), Config{Bin: hemiBin, Dir: dir, Sequencers: seqs, Followers: followers,
		BlockTime: time.Second, MineInterval: 2 * time.Second,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Stop()
		if t.Failed() {
			for _, n := range c.Nodes {
				if b, err := os.ReadFile(n.Log); err == nil {
					if len(b) > 6000 {
						b = b[len(b)-6000:]
					}
					t.Logf("---- %s log tail ----\n%s", n.Name, b)
				}
			}
		}
	})
	return c
}

// startLeading starts a cluster (startCluster) and waits until its
// leader has built block 2; ctx ends after d or with the test.
func startLeading(t *testing.T, seqs, followers int, d time.Duration) (c *Cluster, ctx context.Context, leader int) {
	t.Helper()
	c = startCluster(t, seqs, followers)
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	leader, err := c.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WaitHead(ctx, leader, 2); err != nil {
		t.Fatal(err)
	}
	return c, ctx, leader
}

// blockHash is node i's hash at number via eth_getBlockByNumber's hash
// field (not recomputed from the header: the node's header has fields
// go-ethereum's does not).
func blockHash(ctx context.Context, c *Cluster, i int, number uint64) (common.Hash, error) {
	cl, err := gethrpc.DialContext(ctx, c.Nodes[i].RPCURL())
	if err != nil {
		return common.Hash{}, err
	}
	defer cl.Close()
	var b *struct {
		Hash common.Hash `json:"hash"`
	}
	if err := cl.CallContext(ctx, &b, "eth_getBlockByNumber", hexutil.EncodeUint64(number), false); err != nil {
		return common.Hash{}, err
	}
	if b == nil {
		return common.Hash{}, fmt.Errorf("%s has no block %d", c.Nodes[i].Name, number)
	}
	return b.Hash, nil
}

// heights records every (height, hash) seen on any node: two hashes at one
// height is the failure the test exists for.
type heights struct {
	mu   sync.Mutex
	seen map[uint64]common.Hash
	who  map[uint64]string
}

func (h *heights) sample(t *testing.T, ctx context.Context, c *Cluster, i int, from, to uint64) {
	t.Helper()
	for n := from; n <= to; n++ {
		hash, err := blockHash(ctx, c, i, n)
		if err != nil {
			t.Fatalf("sample %s block %d: %v", c.Nodes[i].Name, n, err)
		}
		h.mu.Lock()
		if prev, ok := h.seen[n]; ok && prev != hash {
			h.mu.Unlock()
			t.Fatalf("height %d has two blocks: %v on %s, %v on %s", n, prev, h.who[n], hash, c.Nodes[i].Name)
		}
		h.seen[n], h.who[n] = hash, c.Nodes[i].Name
		h.mu.Unlock()
	}
}

type committed struct {
	tx    common.Hash
	block common.Hash
	num   uint64
}

// load sends transfers from dev account acc to the current leader,
// one at a time, and records each receipt. Sends that fail (the leader was
// killed) are retried against the next leader with a fresh nonce.
func load(ctx context.Context, c *Cluster, acc int, out chan<- committed) {
	sender := c.Accounts[acc]
	chainID := new(big.Int).SetUint64(c.Genesis.Config.ChainID)
	signer := types.LatestSignerForChainID(chainID)
	to := common.HexToAddress("0x000000000000000000000000000000000000dEaD")
	for ctx.Err() == nil {
		l, err := c.Leader(ctx)
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		func() {
			ec, err := ethclient.DialContext(ctx, c.Nodes[l].RPCURL())
			if err != nil {
				return
			}
			defer ec.Close()
			nonce, err := ec.NonceAt(ctx, sender.Address, nil)
			if err != nil {
				return
			}
			tx, err := types.SignNewTx(sender.Key, signer, &types.DynamicFeeTx{ChainID: chainID, Nonce: nonce, To: &to,
				Value: big.NewInt(1), Gas: params.TxGas, GasFeeCap: big.NewInt(100 * params.GWei), GasTipCap: big.NewInt(params.GWei)})
			if err != nil {
				return
			}
			if err := ec.SendTransaction(ctx, tx); err != nil {
				time.Sleep(100 * time.Millisecond)
				return
			}
			deadline := time.Now().Add(5 * time.Second)
			for time.Now().Before(deadline) && ctx.Err() == nil {
				r, err := ec.TransactionReceipt(ctx, tx.Hash())
				if err == nil {
					select {
					case out <- committed{tx: tx.Hash(), block: r.BlockHash, num: r.BlockNumber.Uint64()}:
					case <-ctx.Done():
					}
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		}()
	}
}

// TestLeaderKill9 is issue 10's failover test: 3 sequencers and 2
// followers (over L2 gossip) under transaction load; the leader is killed with SIGKILL 3 times, each time
// restarted and rejoined before the next. Each time another member
// leads and commits the next blocks, no receipt seen before a kill is
// lost, no height has two blocks on any node, and every node ends on the
// same head.
func TestLeaderKill9(t *testing.T) {
	c, ctx, leader := startLeading(t, 3, 2, 4*time.Minute)
	lctx, stopLoad := context.WithCancel(ctx)
	receipts := make(chan committed, 1024)
	loadDone := make(chan struct{})
	// Four senders, each one transfer in flight at a time.
	var senders sync.WaitGroup
	for acc := range 4 {
		senders.Add(1)
		go func() { defer senders.Done(); load(lctx, c, acc, receipts) }()
	}
	go func() { senders.Wait(); close(loadDone) }()
	var seen []committed
	drain := func() {
		for {
			select {
			case r := <-receipts:
				seen = append(seen, r)
			default:
				return
			}
		}
	}
	hs := &heights{seen: map[uint64]common.Hash{}, who: map[uint64]string{}}
	for kill := range 3 {
		// Wait for a few receipts under this leader.
		for want := len(seen) + 8; len(seen) < want; {
			select {
			case r := <-receipts:
				seen = append(seen, r)
			case <-ctx.Done():
				t.Fatalf("kill %d: %d receipts, waiting for %d: %v", kill, len(seen), want, ctx.Err())
			}
		}
		st, err := c.Status(ctx, leader)
		if err != nil {
			t.Fatal(err)
		}
		before := st.Head.Number
		killedAt := time.Now()
		if err := c.Kill(leader); err != nil {
			t.Fatal(err)
		}
		killed := leader
		if leader, err = c.WaitLeader(ctx); err != nil {
			t.Fatalf("kill %d: %v", kill, err)
		}
		if leader == killed {
			t.Fatalf("kill %d: the killed %s still leads", kill, c.Nodes[killed].Name)
		}
		// Another member commits the next block.
		if err := c.WaitHead(ctx, leader, before+1); err != nil {
			t.Fatalf("kill %d: new leader %s: %v", kill, c.Nodes[leader].Name, err)
		}
		// Printed, not asserted (a figure, polled every 100 ms): kill to the
		// new leader's first block.
		failover := time.Since(killedAt)
		if err := c.Restart(killed); err != nil {
			t.Fatal(err)
		}
		// Rejoined: the restarted member is a caught-up raft follower
		// with the leader's head of now.
		if err := c.WaitRejoined(ctx, killed); err != nil {
			t.Fatalf("kill %d: %v", kill, err)
		}
		for i := range c.Nodes {
			st, err := c.Status(ctx, i)
			if err != nil {
				t.Fatal(err)
			}
			hs.sample(t, ctx, c, i, 0, st.Head.Number)
		}
		drain()
		t.Logf("kill %d: %s killed at head %d, %s leads, its first block after %d ms, %d receipts so far",
			kill, c.Nodes[killed].Name, before, c.Nodes[leader].Name, failover.Milliseconds(), len(seen))
	}
	stopLoad()
	<-loadDone
	drain()

	// Every node ends on the same head: all reach the leader's head of
	// now, and hold the same block there.
	st, err := c.Status(ctx, leader)
	if err != nil {
		t.Fatal(err)
	}
	end := st.Head.Number
	for i := range c.Nodes {
		if err := c.WaitHead(ctx, i, end); err != nil {
			t.Fatal(err)
		}
		hs.sample(t, ctx, c, i, 0, end)
	}
	// No committed block lost: every receipt seen is on every node, in the
	// same block.
	for i := range c.Nodes {
		ec, err := ethclient.DialContext(ctx, c.Nodes[i].RPCURL())
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range seen {
			got, err := ec.TransactionReceipt(ctx, r.tx)
			if err != nil {
				ec.Close()
				t.Fatalf("%s lost tx %v (was in block %d %v): %v", c.Nodes[i].Name, r.tx, r.num, r.block, err)
			}
			if got.BlockHash != r.block {
				ec.Close()
				t.Fatalf("%s has tx %v in block %v, was in %v", c.Nodes[i].Name, r.tx, got.BlockHash, r.block)
			}
		}
		ec.Close()
	}
	if len(seen) < 24 {
		t.Fatalf("only %d transfers committed", len(seen))
	}
	t.Logf("%d transfers committed, %d heights checked on %d nodes", len(seen), end+1, len(c.Nodes))
}

// TestKillStopsProcess checks the harness itself: Kill leaves no process,
// Stop ends all, and a node's log says why it runs.
func TestKillStopsProcess(t *testing.T) {
	c := startCluster(t, 1, 0)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.WaitLeader(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Kill(0); err != nil {
		t.Fatal(err)
	}
	if c.Running(0) {
		t.Fatal("killed node still running")
	}
	if _, err := c.Leader(ctx); !errors.Is(err, ErrNoLeader) {
		t.Fatalf("Leader after the only sequencer was killed: %v, want ErrNoLeader", err)
	}
	info, err := os.Stat(filepath.Join(c.Nodes[0].Dir, "seal.key"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("seal key mode %v, want 0600", info.Mode().Perm())
	}
}

package bench

import (
	"context"
	"crypto/ecdsa"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"runtime"
	"slices"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
	"golang.org/x/sync/errgroup"
)

// Fees and amounts of the benchmark's transactions. The fee cap is far
// above both targets' base fees (1 gwei at genesis, falling while blocks
// use less than half their gas limit), so no transaction waits on price.
var (
	rpcTip       = big.NewInt(params.GWei)
	rpcFeeCap    = big.NewInt(20 * params.GWei)
	rpcFunding   = new(big.Int).Mul(big.NewInt(10), big.NewInt(params.Ether))
	rpcTransfer  = big.NewInt(1)
	rpcRecipient = 1024 // distinct transfer recipients
)

// signedTx is a transaction encoded for eth_sendRawTransaction.
type signedTx struct {
	raw  hexutil.Bytes
	hash common.Hash
}

// transfer is one transfer to sign: from keys[from] at nonce.
type transfer struct {
	from  int
	nonce uint64
	to    common.Address
	value *big.Int
}

// senderKeys derives n sender keys from a fixed seed: the workload is the
// same in every run and on both targets.
func senderKeys(n int) ([]*ecdsa.PrivateKey, error) {
	keys := make([]*ecdsa.PrivateKey, n)
	for i := range keys {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(i))
		k, err := crypto.ToECDSA(crypto.Keccak256([]byte("hemi-bench-rpc sender"), b[:]))
		if err != nil {
			return nil, fmt.Errorf("bench: sender key %d: %w", i, err)
		}
		keys[i] = k
	}
	return keys, nil
}

// recipient is the k-th transfer's recipient.
func recipient(k int) common.Address {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(k%rpcRecipient))
	return common.BytesToAddress(crypto.Keccak256([]byte("hemi-bench-rpc recipient"), b[:])[12:])
}

// signAll signs ts for chainID on all CPUs.
func signAll(ctx context.Context, chainID uint64, keys []*ecdsa.PrivateKey, ts []transfer) ([]signedTx, error) {
	signer := types.LatestSignerForChainID(new(big.Int).SetUint64(chainID))
	out := make([]signedTx, len(ts))
	workers := runtime.NumCPU()
	g, ctx := errgroup.WithContext(ctx)
	for w := range workers {
		g.Go(func() error {
			for k := w; k < len(ts); k += workers {
				if k%1024 == 0 && ctx.Err() != nil {
					return ctx.Err()
				}
				t := ts[k]
				tx, err := types.SignNewTx(keys[t.from], signer, &types.DynamicFeeTx{
					ChainID: signer.ChainID(), Nonce: t.nonce, GasTipCap: rpcTip, GasFeeCap: rpcFeeCap,
					Gas: params.TxGas, To: &t.to, Value: t.value,
				})
				if err != nil {
					return fmt.Errorf("bench: sign transfer %d: %w", k, err)
				}
				raw, err := tx.MarshalBinary()
				if err != nil {
					return fmt.Errorf("bench: encode transfer %d: %w", k, err)
				}
				out[k] = signedTx{raw: raw, hash: tx.Hash()}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// streams splits transfer indices among clients so that all of one
// sender's transfers go through one client in nonce order (a client sends
// its batches one after the other), interleaved across that client's
// senders; each stream is then cut into batches of batch.
func streams(ts []transfer, clients, batch int) [][][]int {
	per := make([][]int, clients)
	for k, t := range ts {
		c := t.from % clients
		per[c] = append(per[c], k)
	}
	out := make([][][]int, clients)
	for c, s := range per {
		for len(s) > 0 {
			n := min(batch, len(s))
			out[c] = append(out[c], s[:n])
			s = s[n:]
		}
	}
	return out
}

// newClient dials url with its own HTTP transport, so the clients do not
// share (and churn) a small idle-connection pool.
func newClient(ctx context.Context, url string) (*gethrpc.Client, error) {
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4, DisableCompression: true}}
	c, err := gethrpc.DialOptions(ctx, url, gethrpc.WithHTTPClient(hc))
	if err != nil {
		return nil, fmt.Errorf("bench: dial %s: %w", url, err)
	}
	return c, nil
}

// nonces returns the nonces of addrs at block tag ("pending", "latest").
func nonces(ctx context.Context, c *gethrpc.Client, addrs []common.Address, tag string) ([]uint64, error) {
	res, err := batchPerAddress[hexutil.Uint64](ctx, c, "eth_getTransactionCount", addrs, tag)
	if err != nil {
		return nil, err
	}
	out := make([]uint64, len(res))
	for i, n := range res {
		out[i] = uint64(n)
	}
	return out, nil
}

// balances returns the balances of addrs at block tag.
func balances(ctx context.Context, c *gethrpc.Client, addrs []common.Address, tag string) ([]*big.Int, error) {
	res, err := batchPerAddress[hexutil.Big](ctx, c, "eth_getBalance", addrs, tag)
	if err != nil {
		return nil, err
	}
	out := make([]*big.Int, len(res))
	for i := range res {
		out[i] = (*big.Int)(&res[i])
	}
	return out, nil
}

// batchPerAddress calls method(addr, tag) for every one of addrs in
// batches of 500.
func batchPerAddress[T any](ctx context.Context, c *gethrpc.Client, method string, addrs []common.Address, tag string) ([]T, error) {
	res := make([]T, len(addrs))
	for lo := 0; lo < len(addrs); lo += 500 {
		hi := min(lo+500, len(addrs))
		elems := make([]gethrpc.BatchElem, 0, hi-lo)
		for i := lo; i < hi; i++ {
			elems = append(elems, gethrpc.BatchElem{Method: method, Args: []any{addrs[i], tag}, Result: &res[i]})
		}
		if err := c.BatchCallContext(ctx, elems); err != nil {
			return nil, fmt.Errorf("bench: %s: %w", method, err)
		}
		for i, e := range elems {
			if e.Error != nil {
				return nil, fmt.Errorf("bench: %s %v: %w", method, addrs[lo+i], e.Error)
			}
		}
	}
	return res, nil
}

// errNoBlock: the target produced no block in time.
var errNoBlock = errors.New("bench: no new block")

// waitNextBlock returns as soon as c's head moves past the head it has
// now (both targets build a block every block time, empty or not).
func waitNextBlock(ctx context.Context, c *gethrpc.Client, timeout time.Duration) error {
	var head, now hexutil.Uint64
	if err := c.CallContext(ctx, &head, "eth_blockNumber"); err != nil {
		return fmt.Errorf("bench: eth_blockNumber: %w", err)
	}
	deadline := time.Now().Add(timeout)
	for {
		if err := c.CallContext(ctx, &now, "eth_blockNumber"); err != nil {
			return fmt.Errorf("bench: eth_blockNumber: %w", err)
		}
		if now > head {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w after block %d within %s", errNoBlock, head, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// loadResult is what sendAndWait measured.
type loadResult struct {
	start    time.Time       // first batch sent
	sent     time.Time       // last batch answered
	end      time.Time       // block holding the last transaction seen
	latency  []time.Duration // per transaction: its batch sent -> its block seen
	blocks   []blockSeen     // blocks that held benchmark transactions
	included int
}

// blockSeen is one block the watcher fetched.
type blockSeen struct {
	number uint64
	txs    int // benchmark transactions in it
	seen   time.Time
}

func (r *loadResult) txPerSec() float64 {
	return float64(len(r.latency)) / r.end.Sub(r.start).Seconds()
}

// percentile returns the p-th percentile (0..100) of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(p / 100 * float64(len(s)-1))
	return s[i]
}

// rpcBlock is the part of eth_getBlockByNumber(n, false) the watcher reads.
type rpcBlock struct {
	Number       hexutil.Uint64 `json:"number"`
	Transactions []common.Hash  `json:"transactions"`
}

// sendAndWait sends txs over JSON-RPC from len(batches) concurrent
// clients, each sending its batches (batches[c], from encodePlan) one
// after the other, while a watcher
// polls the head and fetches every new block until all txs are in blocks.
// It fails when no transaction is included for stall (30 s). A
// transaction's latency is from the moment its batch was sent to the
// moment a head poll showed the block holding it (polled every 5 ms while
// idle).
func sendAndWait(ctx context.Context, url string, txs []signedTx, batches [][]sendBatch, timeout time.Duration) (*loadResult, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	watcher, err := newClient(ctx, url)
	if err != nil {
		return nil, err
	}
	defer watcher.Close()
	var head hexutil.Uint64
	if err := watcher.CallContext(ctx, &head, "eth_blockNumber"); err != nil {
		return nil, fmt.Errorf("bench: eth_blockNumber: %w", err)
	}
	want := make(map[common.Hash]int, len(txs))
	for i, t := range txs {
		want[t.hash] = i
	}
	// Each client has its own HTTP transport (keep-alive), so clients do
	// not share connections.
	clients := make([]*http.Client, len(batches))
	for c := range batches {
		tr := &http.Transport{MaxIdleConnsPerHost: 4, DisableCompression: true}
		defer tr.CloseIdleConnections()
		clients[c] = &http.Client{Transport: tr}
	}
	sendAt := make([]time.Time, len(txs))
	seenAt := make([]time.Time, len(txs))
	res := &loadResult{}
	sendDone := make([]time.Time, len(batches))
	g, gctx := errgroup.WithContext(ctx)
	res.start = time.Now()
	for c := range batches {
		g.Go(func() error {
			for _, b := range batches[c] {
				now := time.Now()
				for _, k := range b.idx {
					sendAt[k] = now
				}
				if err := b.post(gctx, clients[c], url, txs); err != nil {
					return fmt.Errorf("bench: client %d: %w", c, err)
				}
			}
			sendDone[c] = time.Now()
			return nil
		})
	}
	const stall = 30 * time.Second
	g.Go(func() error {
		next := uint64(head) + 1
		for res.included < len(txs) {
			var tip hexutil.Uint64
			if err := watcher.CallContext(gctx, &tip, "eth_blockNumber"); err != nil {
				return fmt.Errorf("bench: watch: eth_blockNumber: %w", err)
			}
			// The blocks up to tip were in the chain when the head poll
			// answered: that is when they count as seen, not after their
			// transaction lists (up to 20,000 hashes) were fetched.
			tipAt := time.Now()
			if uint64(tip) < next {
				if !res.end.IsZero() && time.Since(res.end) > stall || res.end.IsZero() && time.Since(res.start) > 2*stall {
					var pool map[string]hexutil.Uint
					perr := watcher.CallContext(gctx, &pool, "txpool_status")
					return fmt.Errorf("bench: watch: %d of %d transactions in blocks, none more for %s (head %d; txpool_status %v %v)",
						res.included, len(txs), stall, tip, pool, perr)
				}
				select {
				case <-gctx.Done():
					return fmt.Errorf("bench: watch: %d of %d transactions in blocks: %w", res.included, len(txs), gctx.Err())
				case <-time.After(5 * time.Millisecond):
				}
				continue
			}
			for next <= uint64(tip) {
				hi := min(uint64(tip), next+199)
				blocks := make([]*rpcBlock, hi-next+1)
				elems := make([]gethrpc.BatchElem, len(blocks))
				for i := range blocks {
					elems[i] = gethrpc.BatchElem{Method: "eth_getBlockByNumber", Args: []any{hexutil.Uint64(next + uint64(i)), false}, Result: &blocks[i]}
				}
				if err := watcher.BatchCallContext(gctx, elems); err != nil {
					return fmt.Errorf("bench: watch: eth_getBlockByNumber: %w", err)
				}
				now := tipAt
				for i, e := range elems {
					if e.Error != nil {
						return fmt.Errorf("bench: watch: block %d: %w", next+uint64(i), e.Error)
					}
					if blocks[i] == nil {
						return fmt.Errorf("bench: watch: block %d not found below the head %d", next+uint64(i), tip)
					}
					n := 0
					for _, h := range blocks[i].Transactions {
						if k, ok := want[h]; ok && seenAt[k].IsZero() {
							seenAt[k] = now
							n++
						}
					}
					if n > 0 {
						res.blocks = append(res.blocks, blockSeen{number: uint64(blocks[i].Number), txs: n, seen: now})
						res.included += n
						res.end = now
					}
				}
				next = hi + 1
			}
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for _, t := range sendDone {
		if t.After(res.sent) {
			res.sent = t
		}
	}
	res.latency = make([]time.Duration, len(txs))
	for k := range txs {
		if seenAt[k].IsZero() || sendAt[k].IsZero() {
			return nil, fmt.Errorf("bench: transaction %s has no send or inclusion time", txs[k].hash)
		}
		res.latency[k] = seenAt[k].Sub(sendAt[k])
	}
	return res, nil
}

// rpcReceipt is the part of a receipt checkReceipts reads.
type rpcReceipt struct {
	TxHash common.Hash    `json:"transactionHash"`
	Status hexutil.Uint64 `json:"status"`
}

// errNotIncluded: a transaction has no receipt or a failed one.
var errNotIncluded = errors.New("bench: transaction not included")

// errTransfers: the state at the head is not what the transfers should
// have left.
var errTransfers = errors.New("bench: transfers not applied")

// checkTransfers checks the state the transfers ts (from the accounts
// from, which had the nonces start before them) should leave at the head:
// each sender's nonce is its start nonce plus its transfer count, and each
// recipient holds the sum of the values sent to it (recipients are fresh
// accounts that held nothing before). A transfer that failed, was dropped
// or ran twice fails the check. It reads one nonce per sender and one
// balance per recipient, not one receipt per transfer: anvil 1.7.1 takes
// one to two minutes to answer the receipts of 20,000 transfers in blocks
// of thousands (eth_getBlockReceipts or eth_getTransactionReceipt alike),
// so a receipt check would dominate every run (not timed either way).
func checkTransfers(ctx context.Context, url string, from []common.Address, start []uint64, ts []transfer) error {
	c, err := newClient(ctx, url)
	if err != nil {
		return err
	}
	defer c.Close()
	wantNonce := slices.Clone(start)
	wantBal := map[common.Address]*big.Int{}
	var to []common.Address
	for _, t := range ts {
		wantNonce[t.from]++
		b, ok := wantBal[t.to]
		if !ok {
			b = new(big.Int)
			wantBal[t.to] = b
			to = append(to, t.to)
		}
		b.Add(b, t.value)
	}
	got, err := nonces(ctx, c, from, "latest")
	if err != nil {
		return err
	}
	for i, n := range got {
		if n != wantNonce[i] {
			return fmt.Errorf("%w: %v has nonce %d, want %d", errTransfers, from[i], n, wantNonce[i])
		}
	}
	bals, err := balances(ctx, c, to, "latest")
	if err != nil {
		return err
	}
	for i, b := range bals {
		if b.Cmp(wantBal[to[i]]) != 0 {
			return fmt.Errorf("%w: %v holds %v wei, want %v", errTransfers, to[i], b, wantBal[to[i]])
		}
	}
	return nil
}

// checkReceipts fetches the receipts of blocks (eth_getBlockReceipts, one
// call a block, batched) and checks every one of txs has a successful
// receipt there (not timed). Per-transaction eth_getTransactionReceipt is
// not used: on blocks of 10,000 transfers it is far slower on our server.
func checkReceipts(ctx context.Context, url string, txs []signedTx, blocks []blockSeen) error {
	c, err := newClient(ctx, url)
	if err != nil {
		return err
	}
	defer c.Close()
	status := make(map[common.Hash]uint64, len(txs))
	for lo := 0; lo < len(blocks); lo += 100 {
		hi := min(lo+100, len(blocks))
		rs := make([][]rpcReceipt, hi-lo)
		elems := make([]gethrpc.BatchElem, hi-lo)
		for i := range elems {
			elems[i] = gethrpc.BatchElem{Method: "eth_getBlockReceipts", Args: []any{hexutil.Uint64(blocks[lo+i].number)}, Result: &rs[i]}
		}
		if err := c.BatchCallContext(ctx, elems); err != nil {
			return fmt.Errorf("bench: eth_getBlockReceipts: %w", err)
		}
		for i, e := range elems {
			if e.Error != nil {
				return fmt.Errorf("bench: receipts of block %d: %w", blocks[lo+i].number, e.Error)
			}
			for _, r := range rs[i] {
				status[r.TxHash] = uint64(r.Status)
			}
		}
	}
	for _, t := range txs {
		st, ok := status[t.hash]
		switch {
		case !ok:
			return fmt.Errorf("%w: %s has no receipt", errNotIncluded, t.hash)
		case st != 1:
			return fmt.Errorf("%w: %s has status %d", errNotIncluded, t.hash, st)
		}
	}
	return nil
}

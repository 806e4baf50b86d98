package bench

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"runtime"
	"sync"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/consensus/beacon"
	"github.com/ethereum/go-ethereum/consensus/ethash"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/hemi-go/hemi/internal/btc/index"
	"github.com/hemi-go/hemi/internal/btc/txgen"
	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/clock"
	"github.com/hemi-go/hemi/internal/hvm"
	"github.com/hemi-go/hemi/internal/node"
)

// l2Kind is one kind of transfer the benchmark fills blocks with.
type l2Kind struct {
	name string
	// gas is each transaction's gas limit; the block gas limit is
	// perBlock*gas plus l2GasMargin, so a full block fits.
	gas uint64
	// erc20 selects BenchToken transfers instead of ETH transfers.
	erc20 bool
}

// The kinds of l2-import, in the order they run.
var l2Kinds = []l2Kind{
	{name: "eth", gas: params.TxGas},
	// A BenchToken transfer to a new holder uses about 52,000 gas (a cold
	// zero-to-nonzero SSTORE, a warm update, LOG3, calldata).
	{name: "erc20", gas: 60_000, erc20: true},
}

const (
	// l2GasMargin is the least block gas limit above the transactions'
	// gas: room for the system transactions (see l2GasLimit).
	l2GasMargin = 2_000_000
	// l2GenesisTime is the genesis timestamp of the benchmark chains.
	l2GenesisTime = 1_700_000_000
	// l2TransferWei is the value of each ETH transfer, l2TransferUnits
	// of each token transfer.
	l2TransferWei   = 1000
	l2TransferUnits = 7
	// l2FeeCap is every transaction's fee cap: far above the base fee,
	// which grows 12.5% per full block from 1 gwei.
	l2FeeCap = 100 * params.GWei
	// l2Recipients spaces the new recipients of the two kinds apart.
	l2RecipientBase = 0x1_0000_0000
)

// l2Genesis values.
var (
	l2SenderEth   = new(big.Int).Mul(big.NewInt(1_000), big.NewInt(params.Ether))
	l2SenderToken = new(big.Int).Mul(big.NewInt(1_000_000), big.NewInt(1e18))
)

// l2Workload is one kind's blocks, built once and encoded, for both
// importers: the same genesis alloc and the same signed transactions in
// the same order. Each importer's blocks carry its own headers (ours have
// a sealed Extra with the Bitcoin view and system transactions first).
type l2Workload struct {
	kind     l2Kind
	perBlock int
	blocks   int
	gasLimit uint64

	senders []common.Address
	spec    *genesis.Spec // our genesis
	geth    *core.Genesis // go-ethereum's genesis: same config and alloc

	oursHeaders [][]byte // RLP headers of our sealed blocks
	oursBodies  [][]byte // block.EncodeBody of our blocks
	gethBlocks  [][]byte // RLP of go-ethereum's blocks
}

// txs is the number of user transactions in the workload.
func (w *l2Workload) txs() int { return w.perBlock * w.blocks }

// recipient is the new account block n's transfer from sender i pays.
func (w *l2Workload) recipient(n, i int) common.Address {
	base := int64(l2RecipientBase)
	if w.kind.erc20 {
		base *= 2
	}
	return common.BigToAddress(big.NewInt(base + int64(n*w.perBlock+i)))
}

// l2Keys derives the benchmark's sender keys (deterministic, so a profile
// of one run matches another's).
func l2Keys(n int) ([]*ecdsa.PrivateKey, error) {
	keys := make([]*ecdsa.PrivateKey, n)
	for i := range keys {
		k, err := crypto.ToECDSA(crypto.Keccak256([]byte(fmt.Sprintf("hemi l2-import sender %d", i))))
		if err != nil {
			return nil, fmt.Errorf("bench: sender key %d: %w", i, err)
		}
		keys[i] = k
	}
	return keys, nil
}

// l2SequencerKey seals our blocks.
func l2SequencerKey() (*ecdsa.PrivateKey, error) {
	k, err := crypto.ToECDSA(crypto.Keccak256([]byte("hemi l2-import sequencer")))
	if err != nil {
		return nil, fmt.Errorf("bench: sequencer key: %w", err)
	}
	return k, nil
}

// l2Bitcoin is the Bitcoin side our chain needs: an index holding a short
// regtest chain, and the view every benchmark block executes against (the
// chain allows a block to keep its parent's view).
type l2Bitcoin struct {
	ix   *index.Index
	btc  *node.Bitcoin
	view hvm.Header
}

// openL2Bitcoin mines a short regtest chain with txgen, feeds it to a new
// index in dir, and picks the view lag blocks below the tip.
func openL2Bitcoin(dir string, lag uint32) (*l2Bitcoin, error) {
	params := &chaincfg.RegressionNetParams
	ix, err := index.Open(index.Config{Dir: dir, Params: params, MaxBatchDelay: 5 * time.Millisecond,
		MemTableSize: 4 << 20, CacheSize: 8 << 20})
	if err != nil {
		return nil, fmt.Errorf("bench: open bitcoin index: %w", err)
	}
	b, err := feedL2Bitcoin(ix, params, int(lag)+2)
	if err != nil {
		ix.Close()
		return nil, err
	}
	return b, nil
}

// reopenL2Bitcoin opens an index that openL2Bitcoin filled in dir (a
// cached benchmark chain's): txgen mines the same blocks again, so the
// view is found without feeding them twice.
func reopenL2Bitcoin(dir string, lag uint32) (*l2Bitcoin, error) {
	params := &chaincfg.RegressionNetParams
	ix, err := index.Open(index.Config{Dir: dir, Params: params, MaxBatchDelay: 5 * time.Millisecond,
		MemTableSize: 4 << 20, CacheSize: 8 << 20})
	if err != nil {
		return nil, fmt.Errorf("bench: open bitcoin index: %w", err)
	}
	blocks, err := mineL2Bitcoin(params, int(lag)+2)
	if err != nil {
		ix.Close()
		return nil, err
	}
	if tip, _ := ix.BlockTip(); tip != blocks[len(blocks)-1].BlockHash() {
		ix.Close()
		return nil, fmt.Errorf("bench: the bitcoin index in %s is not the benchmark's (tip %s)", dir, tip)
	}
	btc := node.NewBitcoin(ix)
	view, _, err := btc.ViewHeader(blocks[0].BlockHash())
	if err != nil {
		ix.Close()
		return nil, fmt.Errorf("bench: bitcoin view: %w", err)
	}
	return &l2Bitcoin{ix: ix, btc: btc, view: view}, nil
}

// mineL2Bitcoin mines the benchmark's n regtest blocks (deterministic:
// txgen's times follow the genesis').
func mineL2Bitcoin(params *chaincfg.Params, n int) ([]*wire.MsgBlock, error) {
	script, err := txgen.NewWallet([]byte("hemi l2-import bitcoin")).Key(0).PkScript(txgen.P2WPKH)
	if err != nil {
		return nil, fmt.Errorf("bench: bitcoin payout script: %w", err)
	}
	gen := txgen.NewChain(params)
	blocks := make([]*wire.MsgBlock, n)
	for i := range blocks {
		if blocks[i], err = gen.NextBlock(txgen.BlockSpec{PayTo: script}); err != nil {
			return nil, fmt.Errorf("bench: mine bitcoin block %d: %w", i+1, err)
		}
	}
	return blocks, nil
}

func feedL2Bitcoin(ix *index.Index, params *chaincfg.Params, n int) (*l2Bitcoin, error) {
	blocks, err := mineL2Bitcoin(params, n)
	if err != nil {
		return nil, err
	}
	hdrs := make([]wire.BlockHeader, n)
	for i := range blocks {
		hdrs[i] = blocks[i].Header
	}
	if _, _, err := ix.AcceptHeaders(hdrs); err != nil {
		return nil, fmt.Errorf("bench: bitcoin headers: %w", err)
	}
	for i, b := range blocks {
		if err := ix.AcceptBlock(b); err != nil {
			return nil, fmt.Errorf("bench: bitcoin block %d: %w", i+1, err)
		}
	}
	tip := blocks[n-1].BlockHash()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Millisecond) {
		if h, _ := ix.BlockTip(); h == tip {
			break
		}
		if time.Now().After(deadline) {
			return nil, errors.New("bench: the bitcoin index did not connect the benchmark's blocks in 30s")
		}
	}
	btc := node.NewBitcoin(ix)
	view, _, err := btc.ViewHeader(blocks[0].BlockHash())
	if err != nil {
		return nil, fmt.Errorf("bench: bitcoin view: %w", err)
	}
	return &l2Bitcoin{ix: ix, btc: btc, view: view}, nil
}

// Close closes the index.
func (b *l2Bitcoin) Close() error { return b.ix.Close() }

// ourChain opens the chain of both our builder and our importer for w
// (through the node's OpenChain): dir "" keeps the chain in memory. Its
// clock is fixed: the block timestamps are synthetic, and the "not in
// the future" rule reads the clock.
func ourChain(w *l2Workload, btc *l2Bitcoin, dir string) (*chain.Chain, error) {
	return node.OpenChain(w.spec, btc.btc, node.ChainOptions{Dir: dir, NoSync: true, CacheMB: l2CacheMB, TrieCacheMB: l2CacheMB,
		Clock: clock.Fixed{T: time.Unix(l2GenesisTime+1_000_000, 0)}, Logger: slog.New(slog.DiscardHandler)})
}

// newL2Workload funds perBlock senders in a genesis (ETH, and BenchToken
// balances in its storage), signs blocks*perBlock transfers, and builds
// both importers' blocks from them.
func newL2Workload(ctx context.Context, kind l2Kind, perBlock, blocks int, keys []*ecdsa.PrivateKey, btc *l2Bitcoin) (*l2Workload, error) {
	w, seq, err := newL2Genesis(kind, perBlock, blocks, keys, btc.view)
	if err != nil {
		return nil, err
	}
	txs, err := w.sign(ctx, keys[:perBlock])
	if err != nil {
		return nil, err
	}
	if err := w.buildOurs(ctx, txs, seq, btc); err != nil {
		return nil, err
	}
	if err := w.buildGeth(ctx, txs, crypto.PubkeyToAddress(seq.PublicKey)); err != nil {
		return nil, err
	}
	return w, nil
}

// newL2Genesis is a workload's genesis (ours and go-ethereum's) over the
// Bitcoin view and sealing key, before any block is built.
func newL2Genesis(kind l2Kind, perBlock, blocks int, keys []*ecdsa.PrivateKey, view hvm.Header) (*l2Workload, *ecdsa.PrivateKey, error) {
	seq, err := l2SequencerKey()
	if err != nil {
		return nil, nil, err
	}
	w := &l2Workload{kind: kind, perBlock: perBlock, blocks: blocks}
	keys = keys[:perBlock]
	alloc := types.GenesisAlloc{}
	tokenStorage := map[common.Hash]common.Hash{}
	for _, k := range keys {
		a := crypto.PubkeyToAddress(k.PublicKey)
		w.senders = append(w.senders, a)
		alloc[a] = types.Account{Balance: new(big.Int).Set(l2SenderEth)}
		tokenStorage[tokenBalanceSlot(a)] = common.BigToHash(l2SenderToken)
	}
	// Both kinds deploy the token, so the genesis state differs only in
	// what the transactions touch.
	alloc[BenchTokenAddress] = types.Account{Code: BenchTokenCode(), Storage: tokenStorage, Balance: new(big.Int), Nonce: 1}
	seqAddr := crypto.PubkeyToAddress(seq.PublicKey)
	gcfg := genesis.DevnetConfig(seqAddr)
	w.gasLimit = l2GasLimit(uint64(perBlock)*kind.gas, &gcfg)
	gcfg.GasLimit = w.gasLimit
	w.spec = &genesis.Spec{Config: gcfg, Timestamp: l2GenesisTime, View: view, Alloc: alloc}
	full, err := w.spec.FullAlloc()
	if err != nil {
		return nil, nil, fmt.Errorf("bench: genesis alloc: %w", err)
	}
	w.geth = &core.Genesis{
		Config:     gcfg.ChainConfig(),
		Timestamp:  l2GenesisTime,
		GasLimit:   w.gasLimit,
		BaseFee:    new(big.Int).SetUint64(gcfg.InitialBaseFee),
		Difficulty: new(big.Int),
		Alloc:      full,
	}
	return w, seq, nil
}

// sign signs every block's transactions in parallel: block n holds one
// transfer from each sender (nonce n) to a new recipient. A large
// workload takes minutes: each worker stops at ctx's end, and sign then
// returns ctx's error.
func (w *l2Workload) sign(ctx context.Context, keys []*ecdsa.PrivateKey) ([][]*types.Transaction, error) {
	cc := w.spec.Config.ChainConfig()
	signer := types.LatestSigner(cc)
	out := make([][]*types.Transaction, w.blocks)
	for n := range out {
		out[n] = make([]*types.Transaction, w.perBlock)
	}
	var (
		wg      sync.WaitGroup
		errOnce sync.Once
		first   error
	)
	workers := runtime.GOMAXPROCS(0)
	for wk := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := wk; j < w.txs(); j += workers {
				if ctx.Err() != nil {
					return
				}
				n, i := j/w.perBlock, j%w.perBlock
				to, value, data := w.recipient(n, i), big.NewInt(l2TransferWei), []byte(nil)
				if w.kind.erc20 {
					data = tokenTransferData(to, big.NewInt(l2TransferUnits))
					to, value = BenchTokenAddress, new(big.Int)
				}
				tx, err := types.SignNewTx(keys[i], signer, &types.DynamicFeeTx{ChainID: cc.ChainID, Nonce: uint64(n),
					GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(l2FeeCap), Gas: w.kind.gas, To: &to, Value: value, Data: data})
				if err != nil {
					errOnce.Do(func() { first = fmt.Errorf("bench: sign tx %d of block %d: %w", i, n+1, err) })
					return
				}
				out[n][i] = tx
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, first
}

// buildOurs builds and seals our blocks on an in-memory chain, checking
// that every transaction was included.
func (w *l2Workload) buildOurs(ctx context.Context, txs [][]*types.Transaction, seq *ecdsa.PrivateKey, btc *l2Bitcoin) error {
	c, err := ourChain(w, btc, "")
	if err != nil {
		return fmt.Errorf("bench: our builder chain: %w", err)
	}
	defer c.Close()
	return w.buildOn(ctx, c, txs, seq, btc, true)
}

// buildOn builds and seals w's blocks of txs on c, checking that every
// transaction was included; keep records their encodings in w. It stops
// between blocks at ctx's end (the chain is crash safe: a source build
// resumes from its head, see resumeSource).
func (w *l2Workload) buildOn(ctx context.Context, c *chain.Chain, txs [][]*types.Transaction, seq *ecdsa.PrivateKey, btc *l2Bitcoin, keep bool) error {
	coinbase := crypto.PubkeyToAddress(seq.PublicKey)
	for n, list := range txs {
		if err := ctx.Err(); err != nil {
			return err
		}
		head := c.Head()
		b, err := c.BuildBlock(chain.BuildParams{Parent: head, Time: head.Time + 2, View: btc.view, Coinbase: coinbase, Txs: list})
		if err != nil {
			return fmt.Errorf("bench: build our block %d: %w", n+1, err)
		}
		if len(b.Skipped) > 0 {
			return fmt.Errorf("bench: our block %d left out %d txs, first: %w", n+1, len(b.Skipped), b.Skipped[0].Err)
		}
		if err := block.Seal(b.Block.Header, seq); err != nil {
			return fmt.Errorf("bench: seal block %d: %w", n+1, err)
		}
		if err := c.CommitBuilt(b); err != nil {
			return fmt.Errorf("bench: commit our block %d: %w", n+1, err)
		}
		if !keep {
			continue
		}
		hdr, err := rlp.EncodeToBytes(b.Block.Header)
		if err != nil {
			return fmt.Errorf("bench: encode header %d: %w", n+1, err)
		}
		body, err := block.EncodeBody(b.Block.Body)
		if err != nil {
			return fmt.Errorf("bench: encode body %d: %w", n+1, err)
		}
		w.oursHeaders = append(w.oursHeaders, hdr)
		w.oursBodies = append(w.oursBodies, body)
	}
	return nil
}

// buildGeth builds go-ethereum's blocks with core.GenerateChain (post-merge
// headers under the beacon engine) from the same transactions. It stops
// at ctx's end (GenerateChain has no context: the block callback panics
// with ctx's error, returned as it is).
func (w *l2Workload) buildGeth(ctx context.Context, txs [][]*types.Transaction, coinbase common.Address) (err error) {
	// GenerateChain panics when a transaction fails to apply.
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(error); ok && ctx.Err() != nil && errors.Is(e, ctx.Err()) {
				err = e
				return
			}
			err = fmt.Errorf("bench: go-ethereum block generation: %v", r)
		}
	}()
	engine := beacon.New(ethash.NewFaker())
	defer engine.Close()
	_, blocks, _ := core.GenerateChainWithGenesis(w.geth, engine, w.blocks, func(n int, g *core.BlockGen) {
		if err := ctx.Err(); err != nil {
			panic(err)
		}
		g.SetCoinbase(coinbase)
		for _, tx := range txs[n] {
			g.AddTx(tx)
		}
	})
	for n, b := range blocks {
		if got := len(b.Transactions()); got != w.perBlock {
			return fmt.Errorf("bench: go-ethereum block %d has %d txs, want %d", n+1, got, w.perBlock)
		}
		enc, err := rlp.EncodeToBytes(b)
		if err != nil {
			return fmt.Errorf("bench: encode go-ethereum block %d: %w", n+1, err)
		}
		w.gethBlocks = append(w.gethBlocks, enc)
	}
	return w.checkSameTxs()
}

// checkSameTxs checks that both importers' blocks carry byte-identical
// user transactions in the same order.
func (w *l2Workload) checkSameTxs() error {
	for n := range w.blocks {
		ours, err := block.DecodeBody(w.oursBodies[n])
		if err != nil {
			return fmt.Errorf("bench: decode our body %d: %w", n+1, err)
		}
		var gb types.Block
		if err := rlp.DecodeBytes(w.gethBlocks[n], &gb); err != nil {
			return fmt.Errorf("bench: decode go-ethereum block %d: %w", n+1, err)
		}
		theirs := gb.Transactions()
		if len(ours.Txs) != len(theirs) {
			return fmt.Errorf("bench: block %d: %d user txs in ours, %d in go-ethereum's", n+1, len(ours.Txs), len(theirs))
		}
		for i := range theirs {
			a, err1 := ours.Txs[i].MarshalBinary()
			b, err2 := theirs[i].MarshalBinary()
			if err := errors.Join(err1, err2); err != nil {
				return fmt.Errorf("bench: encode tx: %w", err)
			}
			if !bytes.Equal(a, b) {
				return fmt.Errorf("bench: block %d tx %d differs between the importers", n+1, i)
			}
		}
	}
	return nil
}

// oursBlocks decodes fresh copies of our blocks (new transaction objects,
// no cached senders or hashes).
func (w *l2Workload) oursBlocks() ([]*chain.Block, error) {
	out := make([]*chain.Block, w.blocks)
	for n := range out {
		h := new(types.Header)
		if err := rlp.DecodeBytes(w.oursHeaders[n], h); err != nil {
			return nil, fmt.Errorf("bench: decode our header %d: %w", n+1, err)
		}
		body, err := block.DecodeBody(w.oursBodies[n])
		if err != nil {
			return nil, fmt.Errorf("bench: decode our body %d: %w", n+1, err)
		}
		out[n] = &chain.Block{Header: h, Body: body}
	}
	return out, nil
}

// gethBlocksFresh decodes fresh copies of go-ethereum's blocks.
func (w *l2Workload) gethBlocksFresh() (types.Blocks, error) {
	out := make(types.Blocks, w.blocks)
	for n := range out {
		b := new(types.Block)
		if err := rlp.DecodeBytes(w.gethBlocks[n], b); err != nil {
			return nil, fmt.Errorf("bench: decode go-ethereum block %d: %w", n+1, err)
		}
		out[n] = b
	}
	return out, nil
}

// l2GasLimit is a bench block's gas limit for txGas of transactions: the
// system transactions' worst case must fit in half the limit (genesis
// validation), so the margin above txGas is at least twice it.
func l2GasLimit(txGas uint64, c *genesis.Config) uint64 {
	return txGas + max(l2GasMargin, 2*c.SystemGas().Total())
}

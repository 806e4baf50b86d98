package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"golang.org/x/sync/errgroup"

	"github.com/hemi-go/hemi/internal/btc/txgen"
	"github.com/hemi-go/hemi/internal/pop"
)

// GeneratorVersion changes whenever the generator would produce a different
// chain for the same parameters; it is part of the cache key.
const GeneratorVersion = 1

// Shape of the generated chain.
const (
	maxWalletKeys   = 2048   // distinct keys outputs pay to (fewer for small chains)
	txsPerKey       = 100    // small chains get one key per this many txs (at least 64)
	fanoutCoinbases = 150    // coinbases (50 BTC each on regtest) fanned out
	fanoutOutputs   = 100    // outputs of a fan-out transaction
	minPoolForMulti = 2000   // below this pool size every spend has one input
	minSplit        = 50_000 // smallest input total split into two outputs
	maxBlockTxs     = 4000   // keeps every block far below the weight limit
	opReturnPermil  = 40     // transactions with a random OP_RETURN, per mille
	popPermil       = 10     // transactions with a PoP keystone output, per mille
	signChunk       = 32     // transactions per signing task
	plannedAhead    = 16     // blocks planned ahead of the block being finalized
	progressDefault = 2 * time.Second
)

// ErrGenConfig is returned for generator parameters that cannot give a
// valid chain.
var ErrGenConfig = errors.New("bench: bad chain parameters")

// GenConfig are the parameters of a generated chain.
type GenConfig struct {
	Params  *chaincfg.Params // regtest-like (no retarget, trivial PoW)
	Blocks  int32            // chain height, at least 110
	Txs     int              // non-coinbase transactions, spread over blocks 101..Blocks
	Seed    string           // wallet and shuffle seed
	Workers int              // signing goroutines; 0 means GOMAXPROCS

	Progress      io.Writer     // progress lines; nil means none
	ProgressEvery time.Duration // 0 means 2s
}

func (c *GenConfig) check() error {
	if c.Params == nil {
		return fmt.Errorf("%w: no chain parameters", ErrGenConfig)
	}
	if c.Blocks < 110 {
		return fmt.Errorf("%w: %d blocks; at least 110 are needed (coinbases mature after 100)", ErrGenConfig, c.Blocks)
	}
	spendBlocks := int(c.Blocks) - 100
	if c.Txs < 0 || c.Txs > spendBlocks*maxBlockTxs {
		return fmt.Errorf("%w: %d transactions do not fit %d spending blocks of at most %d", ErrGenConfig, c.Txs, spendBlocks, maxBlockTxs)
	}
	return nil
}

// GenStats describes a generated chain.
type GenStats struct {
	Blocks     int32
	Txs        uint64 // coinbases included
	Inputs     map[txgen.Kind]int
	OpReturns  int
	PoPs       int
	MaxPool    int
	Duration   time.Duration
	Signatures int
}

// plannedTx is an unsigned transaction and the outputs it spends.
type plannedTx struct {
	tx    *wire.MsgTx
	prevs []txgen.UTXO
}

// plannedBlock is a block's transactions while they are signed.
type plannedBlock struct {
	height int32
	txs    []plannedTx
	fees   int64
	payTo  *txgen.Key
	kind   txgen.Kind
	signed sync.WaitGroup

	errMu sync.Mutex
	err   error
}

func (b *plannedBlock) fail(err error) {
	b.errMu.Lock()
	if b.err == nil {
		b.err = err
	}
	b.errMu.Unlock()
}

type signTask struct {
	b      *plannedBlock
	lo, hi int
}

// Generate builds the chain described by cfg and writes it to w (which it
// does not close). It plans spends sequentially (txids do not depend on
// witnesses), signs on cfg.Workers goroutines and assembles, solves and
// writes blocks in order.
func Generate(ctx context.Context, cfg GenConfig, w *ChainWriter) (GenStats, error) {
	if err := cfg.check(); err != nil {
		return GenStats{}, err
	}
	workers := cfg.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	every := cfg.ProgressEvery
	if every <= 0 {
		every = progressDefault
	}
	start := time.Now()
	p := newPlanner(cfg)
	planned := make(chan *plannedBlock, plannedAhead)
	tasks := make(chan signTask, 4*workers)
	cbs := newCoinbaseBoard(cfg.Blocks)

	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(planned)
		defer close(tasks)
		for h := int32(1); h <= cfg.Blocks; h++ {
			b, err := p.plan(ctx, h, cbs)
			if err != nil {
				return err
			}
			chunks := (len(b.txs) + signChunk - 1) / signChunk
			b.signed.Add(chunks)
			select {
			case planned <- b:
			case <-ctx.Done():
				return ctx.Err()
			}
			for lo := 0; lo < len(b.txs); lo += signChunk {
				select {
				case tasks <- signTask{b: b, lo: lo, hi: min(lo+signChunk, len(b.txs))}:
				case <-ctx.Done():
					// Release the finalizer from the chunks never sent.
					b.fail(ctx.Err())
					for ; lo < len(b.txs); lo += signChunk {
						b.signed.Done()
					}
					return ctx.Err()
				}
			}
		}
		return nil
	})
	for range workers {
		g.Go(func() error {
			for t := range tasks {
				for _, pt := range t.b.txs[t.lo:t.hi] {
					if err := txgen.Sign(pt.tx, pt.prevs); err != nil {
						t.b.fail(fmt.Errorf("bench: sign tx in block %d: %w", t.b.height, err))
						break
					}
				}
				t.b.signed.Done()
			}
			return nil
		})
	}
	var stats GenStats
	g.Go(func() error {
		chain := txgen.NewChain(cfg.Params)
		var txs uint64
		last := time.Now()
		for b := range planned {
			if err := ctx.Err(); err != nil {
				return err
			}
			b.signed.Wait()
			if b.err != nil {
				return b.err
			}
			msgs := make([]*wire.MsgTx, len(b.txs))
			for i := range b.txs {
				msgs[i] = b.txs[i].tx
			}
			payTo, err := b.payTo.PkScript(b.kind)
			if err != nil {
				return err
			}
			blk, err := chain.NextBlock(txgen.BlockSpec{PayTo: payTo, Txs: msgs, Fees: b.fees, ExtraNonce: uint64(b.height)})
			if err != nil {
				return fmt.Errorf("bench: block %d: %w", b.height, err)
			}
			cb := blk.Transactions[0]
			cbs.publish(b.height, txgen.UTXO{
				OutPoint: wire.OutPoint{Hash: cb.TxHash()},
				Value:    cb.TxOut[0].Value,
				Key:      b.payTo,
				Kind:     b.kind,
			})
			if err := w.Add(blk); err != nil {
				return err
			}
			txs += uint64(len(blk.Transactions))
			if cfg.Progress != nil && (time.Since(last) >= every || b.height == cfg.Blocks) {
				last = time.Now()
				el := time.Since(start)
				rate := float64(txs) / el.Seconds()
				// Blocks 1..100 hold only coinbases; time goes with the txs.
				want := float64(cfg.Txs) + float64(cfg.Blocks) + float64(cfg.Blocks-100)
				eta := time.Duration(0)
				if done := float64(txs) / want; done > 0 && done < 1 {
					eta = time.Duration(float64(el)/done - float64(el))
				}
				fmt.Fprintf(cfg.Progress, "generate: block %d/%d txs %d (%.0f tx/s) eta %s\n",
					b.height, cfg.Blocks, txs, rate, eta.Round(time.Second))
			}
		}
		stats.Txs = txs
		_, stats.Blocks = chain.Tip()
		return nil
	})
	if err := g.Wait(); err != nil {
		return GenStats{}, err
	}
	if stats.Blocks != cfg.Blocks {
		return GenStats{}, fmt.Errorf("bench: generated %d of %d blocks", stats.Blocks, cfg.Blocks)
	}
	stats.Inputs = p.inputs
	stats.OpReturns, stats.PoPs, stats.MaxPool = p.opReturns, p.pops, p.maxPool
	for _, n := range p.inputs {
		stats.Signatures += n
	}
	stats.Duration = time.Since(start)
	return stats, nil
}

// coinbaseBoard hands each block's coinbase output from the finalizer to
// the planner, which spends it 100 blocks later.
type coinbaseBoard struct {
	utxos []txgen.UTXO
	ready []chan struct{}
}

func newCoinbaseBoard(blocks int32) *coinbaseBoard {
	b := &coinbaseBoard{utxos: make([]txgen.UTXO, blocks+1), ready: make([]chan struct{}, blocks+1)}
	for i := range b.ready {
		b.ready[i] = make(chan struct{})
	}
	return b
}

func (b *coinbaseBoard) publish(h int32, u txgen.UTXO) {
	b.utxos[h] = u
	close(b.ready[h])
}

func (b *coinbaseBoard) wait(ctx context.Context, h int32) (txgen.UTXO, error) {
	select {
	case <-b.ready[h]:
		return b.utxos[h], nil
	case <-ctx.Done():
		return txgen.UTXO{}, ctx.Err()
	}
}

// planner chooses every transaction of the chain from a deterministic
// random stream. It runs on one goroutine.
type planner struct {
	cfg       GenConfig
	rng       *rand.Rand
	keys      []*txgen.Key
	pool      []txgen.UTXO
	remaining int
	inputs    map[txgen.Kind]int
	opReturns int
	pops      int
	maxPool   int
}

func newPlanner(cfg GenConfig) *planner {
	seed := chainhash.HashB([]byte(cfg.Seed))
	var s1, s2 uint64
	for i := range 8 {
		s1 = s1<<8 | uint64(seed[i])
		s2 = s2<<8 | uint64(seed[8+i])
	}
	keys := make([]*txgen.Key, min(max(cfg.Txs/txsPerKey, 64), maxWalletKeys))
	// Derive in parallel: three scalar multiplications per key.
	var wg sync.WaitGroup
	workers := max(runtime.GOMAXPROCS(0), 1)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(keys); i += workers {
				keys[i] = txgen.DeriveKey([]byte(cfg.Seed), uint32(i))
			}
		})
	}
	wg.Wait()
	return &planner{
		cfg:       cfg,
		rng:       rand.New(rand.NewPCG(s1, s2)),
		keys:      keys,
		remaining: cfg.Txs,
		inputs:    make(map[txgen.Kind]int),
	}
}

func (p *planner) dest() (*txgen.Key, txgen.Kind) {
	k := p.keys[p.rng.IntN(len(p.keys))]
	if p.rng.IntN(2) == 0 {
		return k, txgen.P2WPKH
	}
	return k, txgen.P2TR
}

func (p *planner) script() (*txgen.Key, txgen.Kind, []byte) {
	k, kind := p.dest()
	s, _ := k.PkScript(kind) // kind is always valid here
	return k, kind, s
}

// take removes and returns a random pool output.
func (p *planner) take() txgen.UTXO {
	i := p.rng.IntN(len(p.pool))
	u := p.pool[i]
	p.pool[i] = p.pool[len(p.pool)-1]
	p.pool = p.pool[:len(p.pool)-1]
	return u
}

// plan chooses the transactions of block h.
func (p *planner) plan(ctx context.Context, h int32, cbs *coinbaseBoard) (*plannedBlock, error) {
	b := &plannedBlock{height: h}
	b.payTo, b.kind = p.dest()
	if m := h - int32(p.cfg.Params.CoinbaseMaturity); m >= 1 {
		cb, err := cbs.wait(ctx, m)
		if err != nil {
			return nil, err
		}
		outs := 1
		if m <= fanoutCoinbases {
			outs = fanoutOutputs
		}
		if err := p.spend(b, []txgen.UTXO{cb}, outs, h); err != nil {
			return nil, err
		}
	}
	if h <= int32(p.cfg.Params.CoinbaseMaturity) {
		return b, nil
	}
	blocksLeft := int(p.cfg.Blocks - h + 1)
	n := p.remaining
	if blocksLeft > 1 {
		avg := float64(p.remaining) / float64(blocksLeft)
		n = min(int(avg*(0.6+0.8*p.rng.Float64())+0.5), p.remaining)
	}
	n = min(n, maxBlockTxs)
	for made := 0; made < n; {
		if len(p.pool) == 0 {
			break
		}
		nin := 1
		if len(p.pool) >= minPoolForMulti {
			switch r := p.rng.IntN(100); {
			case r < 45:
				nin = 1
			case r < 80:
				nin = 2
			default:
				nin = 3
			}
		}
		ins := make([]txgen.UTXO, 0, 3)
		var total int64
		for len(ins) < nin || (total < minSplit && len(ins) < 3 && len(p.pool) > 0) {
			if len(p.pool) == 0 {
				break
			}
			u := p.take()
			ins = append(ins, u)
			total += u.Value
		}
		if err := p.spend(b, ins, 1, h); err != nil {
			return nil, err
		}
		made++
		p.remaining--
	}
	return b, nil
}

// spend plans a transaction spending ins into pays outputs of random
// shares plus change (one output only when the inputs are too small to
// split), sometimes with an OP_RETURN or PoP output, and adds its outputs
// to the pool.
func (p *planner) spend(b *plannedBlock, ins []txgen.UTXO, pays int, h int32) error {
	var total int64
	for _, u := range ins {
		total += u.Value
	}
	var outs []*wire.TxOut
	var owners []txgen.UTXO // parallel to outs; zero for OP_RETURNs
	if total >= minSplit {
		each := total / int64(pays+1)
		for range pays {
			k, kind, s := p.script()
			v := each
			if pays == 1 {
				v = total * int64(10+p.rng.IntN(81)) / 100
			}
			outs = append(outs, wire.NewTxOut(v, s))
			owners = append(owners, txgen.UTXO{Key: k, Kind: kind})
		}
	}
	switch r := p.rng.IntN(1000); {
	case r < popPermil:
		ks := pop.Keystone{Version: pop.KeystoneVersion, BTCViewHeight: uint32(h - 2), L2Number: uint32(h) * 25}
		p.fill(ks.ParentPrefix[:], ks.PrevKeystone[:], ks.StateRoot[:], ks.BlockPrefix[:])
		outs = append(outs, wire.NewTxOut(0, ks.Script()))
		owners = append(owners, txgen.UTXO{})
		p.pops++
	case r < popPermil+opReturnPermil:
		data := make([]byte, 8+p.rng.IntN(txgen.MaxOpReturn-7))
		p.fill(data)
		s, err := txgen.OpReturnScript(data)
		if err != nil {
			return err
		}
		outs = append(outs, wire.NewTxOut(0, s))
		owners = append(owners, txgen.UTXO{})
		p.opReturns++
	}
	ck, ckind, change := p.script()
	owners = append(owners, txgen.UTXO{Key: ck, Kind: ckind})
	sp := txgen.Spend{Inputs: ins, Outputs: outs, Change: change, FeeRate: 1 + int64(p.rng.IntN(10))}
	tx, fee, _, err := sp.Build()
	if errors.Is(err, txgen.ErrInsufficient) {
		// Too little to split at this fee: pay it all back as change.
		sp.Outputs, sp.FeeRate = nil, 1
		owners = owners[len(owners)-1:]
		tx, fee, _, err = sp.Build()
	}
	if err != nil {
		return fmt.Errorf("bench: plan tx in block %d: %w", h, err)
	}
	txid := tx.TxHash()
	for i, o := range tx.TxOut {
		if o.Value == 0 {
			continue
		}
		u := owners[i]
		u.OutPoint = wire.OutPoint{Hash: txid, Index: uint32(i)}
		u.Value = o.Value
		p.pool = append(p.pool, u)
	}
	p.maxPool = max(p.maxPool, len(p.pool))
	for _, u := range ins {
		p.inputs[u.Kind]++
	}
	b.txs = append(b.txs, plannedTx{tx: tx, prevs: ins})
	b.fees += fee
	return nil
}

func (p *planner) fill(bufs ...[]byte) {
	for _, b := range bufs {
		for i := range b {
			b[i] = byte(p.rng.Uint32())
		}
	}
}

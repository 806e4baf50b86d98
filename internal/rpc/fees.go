package rpc

import (
	"context"
	"math/big"
	"slices"
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/consensus/misc/eip1559"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
)

// Tip suggestion, go-ethereum's oracle simplified: the 60th percentile of
// the effective tips of user transactions in the last tipBlocks blocks,
// never below MinSuggestedTip (anvil's 1 gwei) nor the pool's MinTip, so
// a transaction priced from it is not refused by the pool.
const (
	tipBlocks       = 20
	tipPercentile   = 60
	MinSuggestedTip = params.GWei
)

// tipCache remembers the tip suggested for one head: eth_gasPrice is
// called for nearly every transaction a tool sends, and the suggestion
// reads tipBlocks blocks.
type tipCache struct {
	mu   sync.Mutex
	head common.Hash
	tip  *big.Int
}

// suggestTip is the tip eth_maxPriorityFeePerGas suggests.
func (s *Server) suggestTip(ctx context.Context) (*big.Int, error) {
	head := s.chain.Head()
	s.tips.mu.Lock()
	if s.tips.head == head.Hash() && s.tips.tip != nil {
		tip := new(big.Int).Set(s.tips.tip)
		s.tips.mu.Unlock()
		return tip, nil
	}
	s.tips.mu.Unlock()
	tip, err := s.computeTip(ctx, head)
	if err != nil {
		return nil, err
	}
	s.tips.mu.Lock()
	s.tips.head, s.tips.tip = head.Hash(), new(big.Int).Set(tip)
	s.tips.mu.Unlock()
	return tip, nil
}

// computeTip is the suggestion for head.
func (s *Server) computeTip(ctx context.Context, head *types.Header) (*big.Int, error) {
	var tips []*big.Int
	for n, i := head.Number.Uint64(), 0; i < tipBlocks; n, i = n-1, i+1 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		b, err := s.blockByNumber(n)
		if err != nil {
			return nil, err
		}
		for _, tx := range b.Body.Txs {
			if tip, err := tx.EffectiveGasTip(b.Header.BaseFee); err == nil {
				tips = append(tips, tip)
			}
		}
		if n == 0 {
			break
		}
	}
	floor := big.NewInt(MinSuggestedTip)
	if s.pool != nil {
		if t := s.pool.MinTip(); t != nil && t.Cmp(floor) > 0 {
			floor = t
		}
	}
	if len(tips) == 0 {
		return floor, nil
	}
	slices.SortFunc(tips, func(a, b *big.Int) int { return a.Cmp(b) })
	tip := tips[(len(tips)-1)*tipPercentile/100]
	if tip.Cmp(floor) < 0 {
		return floor, nil
	}
	return new(big.Int).Set(tip), nil
}

// nextBaseFee is the base fee of the block after the head.
func (s *Server) nextBaseFee() *big.Int {
	return eip1559.CalcBaseFee(s.config, s.chain.Head())
}

// feeHistoryResult is eth_feeHistory's answer.
type feeHistoryResult struct {
	OldestBlock  *hexutil.Big     `json:"oldestBlock"`
	Reward       [][]*hexutil.Big `json:"reward,omitempty"`
	BaseFee      []*hexutil.Big   `json:"baseFeePerGas,omitempty"`
	GasUsedRatio []float64        `json:"gasUsedRatio"`
}

// FeeHistory is eth_feeHistory: base fees (one more than blocks, the
// next block's last), gas used ratios, and per-block rewards at the
// given percentiles weighted by gas used, as go-ethereum computes them.
func (api *ethAPI) FeeHistory(ctx context.Context, blockCount hexutil.Uint64, last gethrpc.BlockNumber, percentiles []float64) (*feeHistoryResult, error) {
	s := api.s
	if len(percentiles) > 100 {
		return nil, invalidParams("too many reward percentiles: %d, at most 100", len(percentiles))
	}
	for i, p := range percentiles {
		if p < 0 || p > 100 {
			return nil, invalidParams("invalid reward percentile %f", p)
		}
		if i > 0 && p <= percentiles[i-1] {
			return nil, invalidParams("reward percentiles must be strictly increasing: #%d (%f) >= #%d (%f)", i-1, percentiles[i-1], i, p)
		}
	}
	newest, err := s.resolveNumber(last)
	if err != nil {
		return nil, err
	}
	count := uint64(blockCount)
	if count > s.cfg.FeeHistoryMaxBlocks {
		count = s.cfg.FeeHistoryMaxBlocks
	}
	if count > newest+1 {
		count = newest + 1
	}
	res := &feeHistoryResult{OldestBlock: (*hexutil.Big)(new(big.Int).SetUint64(newest + 1 - count)), GasUsedRatio: []float64{}}
	if count == 0 {
		return res, nil
	}
	var lastHeader *types.Header
	for n := newest + 1 - count; n <= newest; n++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		b, err := s.blockByNumber(n)
		if err != nil {
			return nil, err
		}
		h := b.Header
		lastHeader = h
		base := new(big.Int)
		if h.BaseFee != nil {
			base.Set(h.BaseFee)
		}
		res.BaseFee = append(res.BaseFee, (*hexutil.Big)(base))
		res.GasUsedRatio = append(res.GasUsedRatio, float64(h.GasUsed)/float64(max(h.GasLimit, 1)))
		if len(percentiles) == 0 {
			continue
		}
		rewards, err := s.blockRewards(b.Hash(), b.Body.Txs, len(b.Body.SystemTxs), base, percentiles)
		if err != nil {
			return nil, err
		}
		res.Reward = append(res.Reward, rewards)
	}
	res.BaseFee = append(res.BaseFee, (*hexutil.Big)(eip1559.CalcBaseFee(s.config, lastHeader)))
	return res, nil
}

// blockRewards are the tips at percentiles of a block's user
// transactions, weighted by their gas used (zeros for an empty block).
func (s *Server) blockRewards(hash [32]byte, txs types.Transactions, nsys int, base *big.Int, percentiles []float64) ([]*hexutil.Big, error) {
	out := make([]*hexutil.Big, len(percentiles))
	for i := range out {
		out[i] = (*hexutil.Big)(new(big.Int))
	}
	if len(txs) == 0 {
		return out, nil
	}
	rs, err := s.receipts(hash)
	if err != nil {
		return nil, err
	}
	type txGas struct {
		gas uint64
		tip *big.Int
	}
	sorted := make([]txGas, 0, len(txs))
	var total uint64
	for i, tx := range txs {
		tip, _ := tx.EffectiveGasTip(base)
		if tip == nil {
			tip = new(big.Int)
		}
		var gas uint64
		if nsys+i < len(rs) {
			gas = rs[nsys+i].GasUsed
		}
		total += gas
		sorted = append(sorted, txGas{gas, tip})
	}
	slices.SortStableFunc(sorted, func(a, b txGas) int { return a.tip.Cmp(b.tip) })
	var idx int
	sum := sorted[0].gas
	for i, p := range percentiles {
		threshold := uint64(float64(total) * p / 100)
		for sum < threshold && idx < len(sorted)-1 {
			idx++
			sum += sorted[idx].gas
		}
		out[i] = (*hexutil.Big)(new(big.Int).Set(sorted[idx].tip))
	}
	return out, nil
}

// BlobBaseFee is eth_blobBaseFee: the chain carries no blobs, and its
// blocks execute with the minimum blob base fee (1 wei).
func (api *ethAPI) BlobBaseFee() *hexutil.Big {
	return (*hexutil.Big)(big.NewInt(params.BlobTxMinBlobGasprice))
}

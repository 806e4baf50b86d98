package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/tracing"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/eth/tracers"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/explorer/addrindex"
	"github.com/hemi-go/hemi/internal/hvm"
)

// otsAPILevel is the level of Otterscan's API this namespace serves
// (Erigon's API_LEVEL; Otterscan 2 asks for 8).
const otsAPILevel = 8

// otsMaxPageSize bounds the page size of ots_searchTransactions* (a
// page may exceed it by the rest of its last block, as Erigon's does).
const otsMaxPageSize = 100

// ErrNoAddressIndex: the node runs without the explorer's address index.
var ErrNoAddressIndex = errors.New("this node has no address index (explorer off)")

// otsAPI is Otterscan's ots namespace, as Erigon serves it
// (otterscan/otterscan docs/custom-jsonrpc.md; Erigon's
// turbo/jsonrpc/otterscan_*.go): address history from the explorer's
// index, block pages, and traces re-executed under the debug_trace*
// limits.
type otsAPI struct{ s *Server }

// erigonAPI serves erigon_getHeaderByNumber, which Otterscan calls
// beside the ots namespace.
type erigonAPI struct{ s *Server }

// GetHeaderByNumber is erigon_getHeaderByNumber.
func (api *erigonAPI) GetHeaderByNumber(n gethrpc.BlockNumber) (map[string]any, error) {
	return (&ethAPI{api.s}).GetHeaderByNumber(n)
}

// GetApiLevel is ots_getApiLevel.
func (api *otsAPI) GetApiLevel() int { return otsAPILevel } //nolint:revive // the method name is the RPC's

// HasCode is ots_hasCode: whether addr has code at the block.
func (api *otsAPI) HasCode(addr common.Address, bnh gethrpc.BlockNumberOrHash) (bool, error) {
	s := api.s
	h, err := s.stateHeader(&bnh)
	if err != nil {
		return false, err
	}
	st, err := s.chain.StateAt(h.Root)
	if err != nil {
		return false, err
	}
	return st.GetCodeSize(addr) > 0, nil
}

// otsTxsWithReceipts is the answer of ots_searchTransactions*.
type otsTxsWithReceipts struct {
	Txs       []*rpcTransaction `json:"txs"`
	Receipts  []map[string]any  `json:"receipts"`
	FirstPage bool              `json:"firstPage"`
	LastPage  bool              `json:"lastPage"`
}

// SearchTransactionsBefore is ots_searchTransactionsBefore: addr's
// transactions in blocks below blockNum (0: from the newest), newest
// first, at least pageSize unless the history ends, completed to the
// end of the last block.
func (api *otsAPI) SearchTransactionsBefore(addr common.Address, blockNum count, pageSize count) (*otsTxsWithReceipts, error) {
	ix, err := api.index(pageSize)
	if err != nil {
		return nil, err
	}
	p, err := ix.Before(addr, uint64(blockNum), int(pageSize), 0)
	if err != nil {
		return nil, err
	}
	out, err := api.s.otsPage(p.Entries)
	if err != nil {
		return nil, err
	}
	out.FirstPage, out.LastPage = blockNum == 0, !p.More
	return out, nil
}

// SearchTransactionsAfter is ots_searchTransactionsAfter: addr's
// transactions in blocks above blockNum (0: from the genesis), returned
// newest first like Before.
func (api *otsAPI) SearchTransactionsAfter(addr common.Address, blockNum count, pageSize count) (*otsTxsWithReceipts, error) {
	ix, err := api.index(pageSize)
	if err != nil {
		return nil, err
	}
	p, err := ix.After(addr, uint64(blockNum), int(pageSize), 0)
	if err != nil {
		return nil, err
	}
	out, err := api.s.otsPage(p.Entries)
	if err != nil {
		return nil, err
	}
	out.FirstPage, out.LastPage = !p.More, blockNum == 0
	return out, nil
}

func (api *otsAPI) index(pageSize count) (AddressIndex, error) {
	if api.s.cfg.AddressIndex == nil {
		return nil, &rpcError{code: codeServer, msg: ErrNoAddressIndex.Error(), err: ErrNoAddressIndex}
	}
	if pageSize == 0 || pageSize > otsMaxPageSize {
		return nil, invalidParams("page size %d: want 1 to %d", pageSize, otsMaxPageSize)
	}
	return api.s.cfg.AddressIndex, nil
}

// otsPage shows the index entries' transactions and receipts (with the
// block's timestamp, as Erigon adds it).
func (s *Server) otsPage(entries []addrindex.Entry) (*otsTxsWithReceipts, error) {
	out := &otsTxsWithReceipts{Txs: []*rpcTransaction{}, Receipts: []map[string]any{}}
	for _, e := range entries {
		b, err := s.blockByHash(e.BlockHash)
		if err != nil {
			return nil, fmt.Errorf("indexed block %d %s: %w", e.Number, e.BlockHash, err)
		}
		rs, err := s.receipts(e.BlockHash)
		if err != nil {
			return nil, err
		}
		i := uint64(e.Index)
		if i >= uint64(len(rs)) || i >= uint64(b.Body.Len()) {
			return nil, fmt.Errorf("indexed transaction %d of block %d: %w", i, e.Number, chain.ErrCorrupt)
		}
		tx, err := s.txAt(b, i)
		if err != nil {
			return nil, err
		}
		loc := txLocation(b, i)
		r := marshalReceipt(rs[i], loc, s.sender(loc, b.Header))
		r["timestamp"] = b.Header.Time
		out.Txs = append(out.Txs, tx)
		out.Receipts = append(out.Receipts, r)
	}
	return out, nil
}

// txLocation is transaction i of b (system transactions first).
func txLocation(b *chain.Block, i uint64) *chain.TxLocation {
	loc := &chain.TxLocation{BlockHash: b.Hash(), BlockNumber: b.NumberU64(), Index: i}
	if nsys := uint64(len(b.Body.SystemTxs)); i < nsys {
		loc.System = b.Body.SystemTxs[i]
	} else {
		loc.Tx = b.Body.Txs[i-nsys]
	}
	return loc
}

// GetBlockDetails is ots_getBlockDetails: the block without its
// transactions (their count instead), its logs bloom null, the issuance
// (none: a Hemi block mints only through system transactions) and the
// fees its senders paid.
func (api *otsAPI) GetBlockDetails(n gethrpc.BlockNumber) (map[string]any, error) {
	b, err := api.s.blockByNumberOrHash(gethrpc.BlockNumberOrHashWithNumber(n))
	if b == nil || err != nil {
		return nil, err
	}
	return api.s.otsBlockDetails(b)
}

// GetBlockDetailsByHash is ots_getBlockDetailsByHash.
func (api *otsAPI) GetBlockDetailsByHash(hash common.Hash) (map[string]any, error) {
	b, err := api.s.blockByNumberOrHash(gethrpc.BlockNumberOrHashWithHash(hash, false))
	if b == nil || err != nil {
		return nil, err
	}
	return api.s.otsBlockDetails(b)
}

func (s *Server) otsBlockDetails(b *chain.Block) (map[string]any, error) {
	blk, err := s.marshalBlock(b, false)
	if err != nil {
		return nil, err
	}
	delete(blk, "transactions")
	blk["transactionCount"] = b.Body.Len()
	blk["logsBloom"] = nil
	rs, err := s.receipts(b.Hash())
	if err != nil {
		return nil, err
	}
	fees := new(big.Int)
	for i, r := range rs {
		if i < len(b.Body.SystemTxs) || r.EffectiveGasPrice == nil {
			continue // system transactions pay no fee
		}
		fees.Add(fees, new(big.Int).Mul(r.EffectiveGasPrice, new(big.Int).SetUint64(r.GasUsed)))
	}
	zero := (*hexutil.Big)(new(big.Int))
	return map[string]any{
		"block":     blk,
		"issuance":  map[string]any{"blockReward": zero, "uncleReward": zero, "issuance": zero},
		"totalFees": (*hexutil.Big)(fees),
	}, nil
}

// GetBlockTransactions is ots_getBlockTransactions: one page of the
// block's transactions (input cut to the 4-byte selector) and receipts
// (logs and bloom null), paged from the end as Erigon pages.
func (api *otsAPI) GetBlockTransactions(n gethrpc.BlockNumber, pageNumber, pageSize count) (map[string]any, error) {
	s := api.s
	if pageSize == 0 || pageSize > otsMaxPageSize {
		return nil, invalidParams("page size %d: want 1 to %d", pageSize, otsMaxPageSize)
	}
	b, err := s.blockByNumberOrHash(gethrpc.BlockNumberOrHashWithNumber(n))
	if b == nil || err != nil {
		return nil, err
	}
	blk, err := s.marshalBlock(b, true)
	if err != nil {
		return nil, err
	}
	rs, err := s.receipts(b.Hash())
	if err != nil {
		return nil, err
	}
	total := b.Body.Len()
	if len(rs) != total {
		return nil, fmt.Errorf("block %s: %d receipts for %d transactions: %w", b.Hash(), len(rs), total, chain.ErrCorrupt)
	}
	end := total - min(int(pageNumber)*int(pageSize), total)
	start := max(end-int(pageSize), 0)
	txs := blk["transactions"].([]any)[start:end]
	receipts := make([]map[string]any, 0, end-start)
	for i := start; i < end; i++ {
		t := txs[i-start].(*rpcTransaction)
		if len(t.Input) > 4 {
			t.Input = t.Input[:4]
		}
		loc := txLocation(b, uint64(i))
		r := marshalReceipt(rs[i], loc, s.sender(loc, b.Header))
		r["logs"], r["logsBloom"] = nil, nil
		receipts = append(receipts, r)
	}
	blk["transactions"] = txs
	return map[string]any{"fullblock": blk, "receipts": receipts}, nil
}

// otsReplayTx re-executes transaction hash under the tracer newTracer
// builds, under the debug_trace* limits, and returns its result.
func (s *Server) otsReplayTx(ctx context.Context, hash common.Hash, newTracer func(b *chain.Block) func() *tracers.Tracer) (json.RawMessage, error) {
	loc, err := s.chain.TxLookup(hash)
	if err != nil {
		if errors.Is(err, chain.ErrNotFound) {
			return nil, &rpcError{code: codeServer, msg: fmt.Sprintf("transaction %s not found", hash), err: err}
		}
		return nil, err
	}
	b, err := s.blockByHash(loc.BlockHash)
	if err != nil {
		return nil, err
	}
	r, err := s.newReplay(b)
	if err != nil {
		return nil, err
	}
	target := int(loc.Index)
	cfg := &traceConfig{native: newTracer(b)}
	res, err := r.run(ctx, target, func(i int) *traceConfig {
		if i == target {
			return cfg
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(res) != 1 {
		return nil, fmt.Errorf("transaction %s: index %d not in block: %w", hash, target, chain.ErrCorrupt)
	}
	if res[0].Error != "" {
		return nil, &rpcError{code: codeServer, msg: res[0].Error}
	}
	return res[0].Result, nil
}

// precompilesOf are the precompiles active in b: go-ethereum's and the
// hVM's.
func (s *Server) precompilesOf(b *chain.Block) []common.Address {
	return hvm.WarmAddresses(s.config.Rules(b.Header.Number, true, b.Header.Time))
}

// TraceTransaction is ots_traceTransaction: the transaction's call
// frames in order (type, depth, from, to, value, input, output).
func (api *otsAPI) TraceTransaction(ctx context.Context, hash common.Hash) (json.RawMessage, error) {
	return api.s.otsReplayTx(ctx, hash, func(b *chain.Block) func() *tracers.Tracer {
		pre := api.s.precompilesOf(b)
		return func() *tracers.Tracer { return newOTSTracer(pre) }
	})
}

// GetInternalOperations is ots_getInternalOperations: value transfers,
// creations and self-destructs inside the transaction.
func (api *otsAPI) GetInternalOperations(ctx context.Context, hash common.Hash) (json.RawMessage, error) {
	return api.s.otsReplayTx(ctx, hash, func(*chain.Block) func() *tracers.Tracer { return newOTSOperationsTracer })
}

// GetTransactionError is ots_getTransactionError: the raw revert output
// of a failed transaction, "0x" for a successful one.
func (api *otsAPI) GetTransactionError(ctx context.Context, hash common.Hash) (json.RawMessage, error) {
	return api.s.otsReplayTx(ctx, hash, func(*chain.Block) func() *tracers.Tracer { return newOTSErrorTracer })
}

// firstBlockWhere is the smallest block number in [lo, hi] whose state
// satisfies pred, which must be monotonic (false then true); ok false
// when none does. It reads O(log(hi-lo)) states.
func (s *Server) firstBlockWhere(ctx context.Context, lo, hi uint64, pred func(st stateReader) bool) (uint64, bool, error) {
	at := func(n uint64) (bool, error) {
		h, err := s.chain.HeaderByNumber(n)
		if err != nil {
			return false, err
		}
		st, err := s.chain.StateAt(h.Root)
		if err != nil {
			return false, err
		}
		return pred(st), nil
	}
	ok, err := at(hi)
	if err != nil || !ok {
		return 0, false, err
	}
	for lo < hi {
		if err := ctx.Err(); err != nil {
			return 0, false, err
		}
		mid := lo + (hi-lo)/2
		yes, err := at(mid)
		if err != nil {
			return 0, false, err
		}
		if yes {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo, true, nil
}

// stateReader is what the searches read of a block's state.
type stateReader interface {
	GetNonce(common.Address) uint64
	GetCodeSize(common.Address) int
}

// GetTransactionBySenderAndNonce is ots_getTransactionBySenderAndNonce:
// the hash of addr's transaction with nonce, or null. The block is found
// by bisecting the sender's nonce over the kept states (as Erigon
// bisects its history), then the block is searched.
func (api *otsAPI) GetTransactionBySenderAndNonce(ctx context.Context, addr common.Address, nonce hexutil.Uint64) (*common.Hash, error) {
	s := api.s
	head := s.chain.Head().Number.Uint64()
	n, ok, err := s.firstBlockWhere(ctx, 0, head, func(st stateReader) bool { return st.GetNonce(addr) > uint64(nonce) })
	if err != nil || !ok || n == 0 {
		return nil, err
	}
	b, err := s.blockByNumber(n)
	if err != nil {
		return nil, err
	}
	signer := types.MakeSigner(s.config, b.Header.Number, b.Header.Time)
	for _, tx := range b.Body.Txs {
		if tx.Nonce() != uint64(nonce) {
			continue
		}
		if from, err := types.Sender(signer, tx); err == nil && from == addr {
			h := tx.Hash()
			return &h, nil
		}
	}
	nonces, err := s.systemNonces(b)
	if err != nil {
		return nil, err
	}
	for i, stx := range b.Body.SystemTxs {
		if stx.From == addr && nonces[i] == uint64(nonce) {
			h := b.Body.TxHashes()[i]
			return &h, nil
		}
	}
	return nil, nil // the nonce moved without a transaction of addr's (a contract's CREATE)
}

// otsContractCreator is ots_getContractCreator's answer.
type otsContractCreator struct {
	Hash    common.Hash    `json:"hash"`
	Creator common.Address `json:"creator"`
}

// GetContractCreator is ots_getContractCreator: the transaction that
// created contract addr and the address that created it (the sender, or
// the factory contract), or null for an address without code. The block
// is found by bisecting the code's presence over the kept states, then
// its transactions are traced until one creates addr. A contract
// destroyed and created again at the same address is found at a block
// where it has code after one where it had none, not necessarily its
// first creation.
func (api *otsAPI) GetContractCreator(ctx context.Context, addr common.Address) (*otsContractCreator, error) {
	s := api.s
	head := s.chain.Head().Number.Uint64()
	n, ok, err := s.firstBlockWhere(ctx, 0, head, func(st stateReader) bool { return st.GetCodeSize(addr) > 0 })
	if err != nil || !ok || n == 0 {
		return nil, err // no code, or genesis code (no creating transaction)
	}
	b, err := s.blockByNumber(n)
	if err != nil {
		return nil, err
	}
	r, err := s.newReplay(b)
	if err != nil {
		return nil, err
	}
	var found *otsContractCreator
	hashes := b.Body.TxHashes()
	cur := -1
	onEnter := func(_ int, typ byte, from, to common.Address, _ []byte, _ uint64, _ *big.Int) {
		if found == nil && to == addr && (typ == 0xf0 || typ == 0xf5) { // CREATE, CREATE2
			found = &otsContractCreator{Hash: hashes[cur], Creator: from}
		}
	}
	cfg := &traceConfig{native: func() *tracers.Tracer {
		return &tracers.Tracer{Hooks: &tracing.Hooks{OnEnter: onEnter},
			GetResult: func() (json.RawMessage, error) { return json.RawMessage("null"), nil }, Stop: func(error) {}}
	}}
	// The selector is called before each transaction runs: it names
	// the transaction the hooks see, and stops tracing once found.
	if _, err := r.run(ctx, len(hashes)-1, func(i int) *traceConfig {
		if found != nil {
			return nil
		}
		cur = i
		return cfg
	}); err != nil {
		return nil, err
	}
	if found != nil {
		return found, nil
	}
	return nil, nil
}

package rpc

import (
	"context"
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/hemi-go/hemi/internal/chain"
)

// ethAPI is the eth namespace.
type ethAPI struct{ s *Server }

// notFound turns a chain.ErrNotFound into a null answer (nil, nil), as
// go-ethereum answers unknown blocks and transactions.
func notFound(err error) error {
	if errors.Is(err, chain.ErrNotFound) {
		return nil
	}
	return err
}

// ChainId is eth_chainId.
func (api *ethAPI) ChainId() *hexutil.Big { return (*hexutil.Big)(api.s.config.ChainID) }

// BlockNumber is eth_blockNumber.
func (api *ethAPI) BlockNumber() hexutil.Uint64 {
	return hexutil.Uint64(api.s.chain.Head().Number.Uint64())
}

// Syncing is eth_syncing: false, or while the node catches up with its
// peers (Config.Sync), go-ethereum's progress object with the fields an
// L2 has: the head when the sync started, the head now and the target.
// The node serves RPC for the blocks it has meanwhile.
func (api *ethAPI) Syncing() (any, error) {
	if api.s.cfg.Sync == nil {
		return false, nil
	}
	starting, current, highest, syncing := api.s.cfg.Sync.SyncProgress()
	if !syncing {
		return false, nil
	}
	return map[string]hexutil.Uint64{
		"startingBlock": hexutil.Uint64(starting),
		"currentBlock":  hexutil.Uint64(current),
		"highestBlock":  hexutil.Uint64(highest),
	}, nil
}

// Accounts is eth_accounts: the node holds no keys.
func (api *ethAPI) Accounts() []common.Address { return []common.Address{} }

// GetBalance is eth_getBalance.
func (api *ethAPI) GetBalance(addr common.Address, bnh gethrpc.BlockNumberOrHash) (*hexutil.Big, error) {
	env, err := api.s.callEnvAt(&bnh, nil)
	if err != nil {
		return nil, err
	}
	return (*hexutil.Big)(env.state.GetBalance(addr).ToBig()), nil
}

// GetCode is eth_getCode.
func (api *ethAPI) GetCode(addr common.Address, bnh gethrpc.BlockNumberOrHash) (hexutil.Bytes, error) {
	env, err := api.s.callEnvAt(&bnh, nil)
	if err != nil {
		return nil, err
	}
	return env.state.GetCode(addr), nil
}

// GetStorageAt is eth_getStorageAt; the slot is a hex quantity or a
// 32-byte hex string.
func (api *ethAPI) GetStorageAt(addr common.Address, slot string, bnh gethrpc.BlockNumberOrHash) (hexutil.Bytes, error) {
	key, err := decodeSlot(slot)
	if err != nil {
		return nil, invalidParams("invalid storage slot %q: %v", slot, err)
	}
	env, err := api.s.callEnvAt(&bnh, nil)
	if err != nil {
		return nil, err
	}
	v := env.state.GetState(addr, key)
	return v[:], nil
}

// decodeSlot decodes a storage key of at most 32 bytes of hex, with or
// without 0x, left-padded.
func decodeSlot(s string) (common.Hash, error) {
	if len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		s = s[2:]
	}
	if len(s) > 64 {
		return common.Hash{}, errors.New("longer than 32 bytes")
	}
	if len(s)%2 == 1 {
		s = "0" + s
	}
	b, err := hexutil.Decode("0x" + s)
	if err != nil && len(s) > 0 {
		return common.Hash{}, err
	}
	return common.BytesToHash(b), nil
}

// GetTransactionCount is eth_getTransactionCount; "pending" counts the
// pool's executable transactions.
func (api *ethAPI) GetTransactionCount(addr common.Address, bnh gethrpc.BlockNumberOrHash) (*hexutil.Uint64, error) {
	if n, ok := bnh.Number(); ok && n == gethrpc.PendingBlockNumber && api.s.pool != nil {
		nonce := api.s.pool.Nonce(addr)
		return (*hexutil.Uint64)(&nonce), nil
	}
	env, err := api.s.callEnvAt(&bnh, nil)
	if err != nil {
		return nil, err
	}
	nonce := env.state.GetNonce(addr)
	return (*hexutil.Uint64)(&nonce), nil
}

// blockByNumberOrHash resolves a block; nil if unknown.
func (s *Server) blockByNumberOrHash(bnh gethrpc.BlockNumberOrHash) (*chain.Block, error) {
	h, err := s.headerByNumberOrHash(bnh)
	if err != nil {
		return nil, notFound(err)
	}
	b, err := s.blockByHash(h.Hash())
	if err != nil {
		return nil, notFound(err)
	}
	return b, nil
}

// GetBlockByNumber is eth_getBlockByNumber ("pending" is the head).
func (api *ethAPI) GetBlockByNumber(n gethrpc.BlockNumber, fullTx bool) (map[string]any, error) {
	b, err := api.s.blockByNumberOrHash(gethrpc.BlockNumberOrHashWithNumber(n))
	if b == nil || err != nil {
		return nil, err
	}
	return api.s.marshalBlock(b, fullTx)
}

// GetBlockByHash is eth_getBlockByHash.
func (api *ethAPI) GetBlockByHash(hash common.Hash, fullTx bool) (map[string]any, error) {
	b, err := api.s.blockByNumberOrHash(gethrpc.BlockNumberOrHashWithHash(hash, false))
	if b == nil || err != nil {
		return nil, err
	}
	return api.s.marshalBlock(b, fullTx)
}

// GetHeaderByNumber is eth_getHeaderByNumber (go-ethereum's extension).
func (api *ethAPI) GetHeaderByNumber(n gethrpc.BlockNumber) (map[string]any, error) {
	h, err := api.s.headerByNumberOrHash(gethrpc.BlockNumberOrHashWithNumber(n))
	if err != nil {
		return nil, notFound(err)
	}
	return marshalHeader(h), nil
}

// GetHeaderByHash is eth_getHeaderByHash.
func (api *ethAPI) GetHeaderByHash(hash common.Hash) (map[string]any, error) {
	h, err := api.s.chain.HeaderByHash(hash)
	if err != nil {
		return nil, notFound(err)
	}
	return marshalHeader(h), nil
}

// GetBlockTransactionCountByNumber is eth_getBlockTransactionCountByNumber.
func (api *ethAPI) GetBlockTransactionCountByNumber(n gethrpc.BlockNumber) (*hexutil.Uint, error) {
	b, err := api.s.blockByNumberOrHash(gethrpc.BlockNumberOrHashWithNumber(n))
	if b == nil || err != nil {
		return nil, err
	}
	c := hexutil.Uint(b.Body.Len())
	return &c, nil
}

// GetBlockTransactionCountByHash is eth_getBlockTransactionCountByHash.
func (api *ethAPI) GetBlockTransactionCountByHash(hash common.Hash) (*hexutil.Uint, error) {
	b, err := api.s.blockByNumberOrHash(gethrpc.BlockNumberOrHashWithHash(hash, false))
	if b == nil || err != nil {
		return nil, err
	}
	c := hexutil.Uint(b.Body.Len())
	return &c, nil
}

// GetUncleCountByBlockNumber is eth_getUncleCountByBlockNumber: 0 (no
// uncles on this chain), null for an unknown block.
func (api *ethAPI) GetUncleCountByBlockNumber(n gethrpc.BlockNumber) (*hexutil.Uint, error) {
	b, err := api.s.blockByNumberOrHash(gethrpc.BlockNumberOrHashWithNumber(n))
	if b == nil || err != nil {
		return nil, err
	}
	return new(hexutil.Uint), nil
}

// GetUncleCountByBlockHash is eth_getUncleCountByBlockHash.
func (api *ethAPI) GetUncleCountByBlockHash(hash common.Hash) (*hexutil.Uint, error) {
	b, err := api.s.blockByNumberOrHash(gethrpc.BlockNumberOrHashWithHash(hash, false))
	if b == nil || err != nil {
		return nil, err
	}
	return new(hexutil.Uint), nil
}

// GetUncleByBlockNumberAndIndex is always null.
func (api *ethAPI) GetUncleByBlockNumberAndIndex(gethrpc.BlockNumber, hexutil.Uint) (map[string]any, error) {
	return nil, nil
}

// GetUncleByBlockHashAndIndex is always null.
func (api *ethAPI) GetUncleByBlockHashAndIndex(common.Hash, hexutil.Uint) (map[string]any, error) {
	return nil, nil
}

// txAt shows transaction index of b (system transactions first), nil
// if out of range.
func (s *Server) txAt(b *chain.Block, index uint64) (*rpcTransaction, error) {
	place := &txPlace{hash: b.Hash(), number: b.NumberU64(), time: b.Header.Time, index: index, baseFee: b.Header.BaseFee}
	nsys := uint64(len(b.Body.SystemTxs))
	switch {
	case index < nsys:
		nonces, err := s.systemNonces(b)
		if err != nil {
			return nil, err
		}
		return newRPCSystemTx(b.Body.SystemTxs[index], place, nonces[index]), nil
	case index-nsys < uint64(len(b.Body.Txs)):
		return newRPCTransaction(b.Body.Txs[index-nsys], place, s.config), nil
	}
	return nil, nil
}

// GetTransactionByBlockNumberAndIndex is eth_getTransactionByBlockNumberAndIndex.
func (api *ethAPI) GetTransactionByBlockNumberAndIndex(n gethrpc.BlockNumber, index hexutil.Uint) (*rpcTransaction, error) {
	b, err := api.s.blockByNumberOrHash(gethrpc.BlockNumberOrHashWithNumber(n))
	if b == nil || err != nil {
		return nil, err
	}
	return api.s.txAt(b, uint64(index))
}

// GetTransactionByBlockHashAndIndex is eth_getTransactionByBlockHashAndIndex.
func (api *ethAPI) GetTransactionByBlockHashAndIndex(hash common.Hash, index hexutil.Uint) (*rpcTransaction, error) {
	b, err := api.s.blockByNumberOrHash(gethrpc.BlockNumberOrHashWithHash(hash, false))
	if b == nil || err != nil {
		return nil, err
	}
	return api.s.txAt(b, uint64(index))
}

// GetTransactionByHash is eth_getTransactionByHash: a canonical
// transaction (system or user), else a pool transaction (no block
// fields), else null.
func (api *ethAPI) GetTransactionByHash(hash common.Hash) (*rpcTransaction, error) {
	s := api.s
	loc, err := s.chain.TxLookup(hash)
	if err == nil {
		b, err := s.blockByHash(loc.BlockHash)
		if err != nil {
			return nil, notFound(err)
		}
		return s.txAt(b, loc.Index)
	}
	if !errors.Is(err, chain.ErrNotFound) {
		return nil, err
	}
	if s.pool != nil {
		if tx := s.pool.Get(hash); tx != nil {
			return newRPCTransaction(tx, nil, s.config), nil
		}
	}
	return nil, nil
}

// GetRawTransactionByHash is eth_getRawTransactionByHash.
func (api *ethAPI) GetRawTransactionByHash(hash common.Hash) (hexutil.Bytes, error) {
	s := api.s
	loc, err := s.chain.TxLookup(hash)
	if err == nil {
		if loc.System != nil {
			return loc.System.MarshalBinary()
		}
		return loc.Tx.MarshalBinary()
	}
	if !errors.Is(err, chain.ErrNotFound) {
		return nil, err
	}
	if s.pool != nil {
		if tx := s.pool.Get(hash); tx != nil {
			return tx.MarshalBinary()
		}
	}
	return nil, nil
}

// sender of the transaction at loc (the system sender for system txs).
func (s *Server) sender(loc *chain.TxLocation, header *types.Header) common.Address {
	if loc.System != nil {
		return loc.System.From
	}
	from, _ := types.Sender(types.MakeSigner(s.config, header.Number, header.Time), loc.Tx)
	return from
}

// GetTransactionReceipt is eth_getTransactionReceipt; null while the
// transaction is not in a canonical block.
func (api *ethAPI) GetTransactionReceipt(hash common.Hash) (map[string]any, error) {
	s := api.s
	loc, err := s.chain.TxLookup(hash)
	if err != nil {
		return nil, notFound(err)
	}
	h, err := s.chain.HeaderByHash(loc.BlockHash)
	if err != nil {
		return nil, notFound(err)
	}
	rs, err := s.receipts(loc.BlockHash)
	if err != nil {
		return nil, notFound(err)
	}
	if loc.Index >= uint64(len(rs)) {
		return nil, fmt.Errorf("receipt %d of block %s: %w", loc.Index, loc.BlockHash, chain.ErrCorrupt)
	}
	return marshalReceipt(rs[loc.Index], loc, s.sender(loc, h)), nil
}

// GetBlockReceipts is eth_getBlockReceipts.
func (api *ethAPI) GetBlockReceipts(bnh gethrpc.BlockNumberOrHash) ([]map[string]any, error) {
	s := api.s
	b, err := s.blockByNumberOrHash(bnh)
	if b == nil || err != nil {
		return nil, err
	}
	rs, err := s.receipts(b.Hash())
	if err != nil {
		return nil, notFound(err)
	}
	if len(rs) != b.Body.Len() {
		return nil, fmt.Errorf("block %s: %d receipts for %d transactions: %w", b.Hash(), len(rs), b.Body.Len(), chain.ErrCorrupt)
	}
	out := make([]map[string]any, len(rs))
	for i, r := range rs {
		loc := &chain.TxLocation{BlockHash: b.Hash(), BlockNumber: b.NumberU64(), Index: uint64(i)}
		if i < len(b.Body.SystemTxs) {
			loc.System = b.Body.SystemTxs[i]
		} else {
			loc.Tx = b.Body.Txs[i-len(b.Body.SystemTxs)]
		}
		out[i] = marshalReceipt(r, loc, s.sender(loc, b.Header))
	}
	return out, nil
}

// GasPrice is eth_gasPrice: the suggested tip plus the next block's base
// fee, as go-ethereum answers.
func (api *ethAPI) GasPrice(ctx context.Context) (*hexutil.Big, error) {
	tip, err := api.s.suggestTip(ctx)
	if err != nil {
		return nil, err
	}
	return (*hexutil.Big)(new(big.Int).Add(tip, api.s.nextBaseFee())), nil
}

// MaxPriorityFeePerGas is eth_maxPriorityFeePerGas.
func (api *ethAPI) MaxPriorityFeePerGas(ctx context.Context) (*hexutil.Big, error) {
	tip, err := api.s.suggestTip(ctx)
	if err != nil {
		return nil, err
	}
	return (*hexutil.Big)(tip), nil
}

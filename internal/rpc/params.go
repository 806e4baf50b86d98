package rpc

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/hemi-go/hemi/internal/chain"
)

// resolveNumber turns a block number or tag into a canonical number:
// latest and pending are the head (pending state is the head's: the
// pool's pending nonces are answered separately), safe the newest block
// with at least one Bitcoin confirmation and finalized the newest
// superfinal block (DESIGN 4; the genesis while none is, or without a
// finality service), earliest 0. A number above the head is not found.
func (s *Server) resolveNumber(n gethrpc.BlockNumber) (uint64, error) {
	head := s.chain.Head().Number.Uint64()
	switch n {
	case gethrpc.LatestBlockNumber, gethrpc.PendingBlockNumber:
		return head, nil
	case gethrpc.SafeBlockNumber, gethrpc.FinalizedBlockNumber:
		return s.finalityTag(n, head), nil
	case gethrpc.EarliestBlockNumber:
		return 0, nil
	}
	if n < 0 {
		return 0, invalidParams("invalid block number %d", n)
	}
	if uint64(n) > head {
		return 0, fmt.Errorf("block %d: %w", n, chain.ErrNotFound)
	}
	return uint64(n), nil
}

// headerByNumberOrHash resolves a block parameter to a header. A block
// that does not exist is an error wrapping chain.ErrNotFound.
func (s *Server) headerByNumberOrHash(bnh gethrpc.BlockNumberOrHash) (*types.Header, error) {
	if hash, ok := bnh.Hash(); ok {
		h, err := s.chain.HeaderByHash(hash)
		if err != nil {
			return nil, err
		}
		if bnh.RequireCanonical {
			c, err := s.chain.HeaderByNumber(h.Number.Uint64())
			if err != nil || c.Hash() != hash {
				return nil, invalidParams("hash %s is not currently canonical", hash)
			}
		}
		return h, nil
	}
	n, ok := bnh.Number()
	if !ok {
		return nil, invalidParams("block parameter: neither a number nor a hash")
	}
	num, err := s.resolveNumber(n)
	if err != nil {
		return nil, err
	}
	return s.chain.HeaderByNumber(num)
}

// stateHeader resolves a block parameter for a state query; a missing
// block is go-ethereum's "header not found".
func (s *Server) stateHeader(bnh *gethrpc.BlockNumberOrHash) (*types.Header, error) {
	b := gethrpc.BlockNumberOrHashWithNumber(gethrpc.LatestBlockNumber)
	if bnh != nil {
		b = *bnh
	}
	h, err := s.headerByNumberOrHash(b)
	if errors.Is(err, chain.ErrNotFound) {
		return nil, &rpcError{code: codeServer, msg: ErrHeaderNotFound.Error(), err: err}
	}
	return h, err
}

// filterCriteria is the filter object of eth_getLogs and eth_newFilter:
// a block range or a block hash, addresses and topics.
type filterCriteria struct {
	BlockHash *common.Hash
	FromBlock gethrpc.BlockNumber // valid when BlockHash is nil
	ToBlock   gethrpc.BlockNumber
	Addresses []common.Address
	Topics    [][]common.Hash
}

// maxFilterTopics is how many topic positions a log can have.
const maxFilterTopics = 4

// maxFilterTopicHashes bounds the alternatives of one topic position.
const maxFilterTopicHashes = 1000

// maxFilterAddresses bounds the address list of one filter.
const maxFilterAddresses = 1000

// UnmarshalJSON decodes the filter object strictly: blockHash excludes
// fromBlock/toBlock; address is an address or a list; topics is a list of
// null, a topic, or a list of topics, at most four positions.
func (f *filterCriteria) UnmarshalJSON(data []byte) error {
	var raw struct {
		BlockHash *common.Hash         `json:"blockHash"`
		FromBlock *gethrpc.BlockNumber `json:"fromBlock"`
		ToBlock   *gethrpc.BlockNumber `json:"toBlock"`
		Addresses json.RawMessage      `json:"address"`
		Topics    []json.RawMessage    `json:"topics"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	*f = filterCriteria{FromBlock: gethrpc.LatestBlockNumber, ToBlock: gethrpc.LatestBlockNumber}
	if raw.BlockHash != nil {
		if raw.FromBlock != nil || raw.ToBlock != nil {
			return errors.New("cannot specify both blockHash and fromBlock/toBlock")
		}
		f.BlockHash = raw.BlockHash
	}
	if raw.FromBlock != nil {
		f.FromBlock = *raw.FromBlock
	}
	if raw.ToBlock != nil {
		f.ToBlock = *raw.ToBlock
	}
	if len(raw.Addresses) > 0 && string(raw.Addresses) != "null" {
		var one common.Address
		if err := json.Unmarshal(raw.Addresses, &one); err == nil {
			f.Addresses = []common.Address{one}
		} else if err := json.Unmarshal(raw.Addresses, &f.Addresses); err != nil {
			return fmt.Errorf("invalid address: %w", err)
		}
		if len(f.Addresses) > maxFilterAddresses {
			return fmt.Errorf("too many addresses: %d, at most %d", len(f.Addresses), maxFilterAddresses)
		}
	}
	if len(raw.Topics) > maxFilterTopics {
		return fmt.Errorf("too many topic positions: %d, at most %d", len(raw.Topics), maxFilterTopics)
	}
	for i, t := range raw.Topics {
		var pos []common.Hash
		if len(t) > 0 && string(t) != "null" {
			var one common.Hash
			if err := json.Unmarshal(t, &one); err == nil {
				pos = []common.Hash{one}
			} else {
				var list []*common.Hash
				if err := json.Unmarshal(t, &list); err != nil {
					return fmt.Errorf("invalid topic %d: %w", i, err)
				}
				if len(list) > maxFilterTopicHashes {
					return fmt.Errorf("too many alternatives for topic %d: %d, at most %d", i, len(list), maxFilterTopicHashes)
				}
				for _, h := range list {
					if h == nil { // null inside a list matches anything
						pos = nil
						break
					}
					pos = append(pos, *h)
				}
			}
		}
		f.Topics = append(f.Topics, pos)
	}
	return nil
}

// callArgs are the transaction fields of eth_call, eth_estimateGas,
// eth_createAccessList and debug_traceCall (go-ethereum's
// TransactionArgs).
type callArgs struct {
	From                 *common.Address              `json:"from"`
	To                   *common.Address              `json:"to"`
	Gas                  *hexutil.Uint64              `json:"gas"`
	GasPrice             *hexutil.Big                 `json:"gasPrice"`
	MaxFeePerGas         *hexutil.Big                 `json:"maxFeePerGas"`
	MaxPriorityFeePerGas *hexutil.Big                 `json:"maxPriorityFeePerGas"`
	Value                *hexutil.Big                 `json:"value"`
	Nonce                *hexutil.Uint64              `json:"nonce"`
	Data                 *hexutil.Bytes               `json:"data"`
	Input                *hexutil.Bytes               `json:"input"`
	AccessList           *types.AccessList            `json:"accessList"`
	ChainID              *hexutil.Big                 `json:"chainId"`
	AuthorizationList    []types.SetCodeAuthorization `json:"authorizationList"`
	BlobHashes           []common.Hash                `json:"blobVersionedHashes"`
	Type                 *hexutil.Uint64              `json:"type"`
}

// data returns input, or data if input is unset.
func (a *callArgs) data() []byte {
	if a.Input != nil {
		return *a.Input
	}
	if a.Data != nil {
		return *a.Data
	}
	return nil
}

func (a *callArgs) from() common.Address {
	if a.From == nil {
		return common.Address{}
	}
	return *a.From
}

// validate checks the arguments as go-ethereum's setDefaults does.
func (a *callArgs) validate(chainID *big.Int) error {
	if a.Data != nil && a.Input != nil && string(*a.Data) != string(*a.Input) {
		return invalidParams(`both "data" and "input" are set and not equal. Please use "input" to pass transaction call data`)
	}
	if a.GasPrice != nil && (a.MaxFeePerGas != nil || a.MaxPriorityFeePerGas != nil) {
		return invalidParams("both gasPrice and (maxFeePerGas or maxPriorityFeePerGas) specified")
	}
	if a.MaxFeePerGas != nil && a.MaxPriorityFeePerGas != nil && a.MaxFeePerGas.ToInt().Cmp(a.MaxPriorityFeePerGas.ToInt()) < 0 {
		return invalidParams("maxFeePerGas (%v) < maxPriorityFeePerGas (%v)", a.MaxFeePerGas, a.MaxPriorityFeePerGas)
	}
	for name, v := range map[string]*hexutil.Big{"gasPrice": a.GasPrice, "maxFeePerGas": a.MaxFeePerGas,
		"maxPriorityFeePerGas": a.MaxPriorityFeePerGas, "value": a.Value} {
		if v != nil && (v.ToInt().Sign() < 0 || v.ToInt().BitLen() > 256) {
			return invalidParams("%s out of range", name)
		}
	}
	if a.ChainID != nil && a.ChainID.ToInt().Cmp(chainID) != 0 {
		return invalidParams("chainId does not match node's (have=%v, want=%v)", a.ChainID, chainID)
	}
	if len(a.BlobHashes) > 0 {
		return invalidParams("blob transactions are not supported")
	}
	if a.To == nil && len(a.AuthorizationList) > 0 {
		return invalidParams("transaction with authorization list must have a recipient")
	}
	return nil
}

package rpc

import (
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/block"
)

// rpcTransaction is a transaction as go-ethereum's JSON-RPC shows it,
// extended with the OP Stack deposit fields (sourceHash, mint,
// isSystemTx) that a system transaction (type 0x7E) carries. A system
// transaction has no signature; like op-geth (and the OP spec: "API
// responses contain zeroed signature v, r, s values for backwards
// compatibility") it shows v, r and s as 0x0 and no yParity, because
// ethers v6 refuses a transaction without r while viem's and alloy's OP
// formatters ignore them.
type rpcTransaction struct {
	BlockHash           *common.Hash                 `json:"blockHash"`
	BlockNumber         *hexutil.Big                 `json:"blockNumber"`
	BlockTimestamp      *hexutil.Uint64              `json:"blockTimestamp"`
	From                common.Address               `json:"from"`
	Gas                 hexutil.Uint64               `json:"gas"`
	GasPrice            *hexutil.Big                 `json:"gasPrice"`
	GasFeeCap           *hexutil.Big                 `json:"maxFeePerGas,omitempty"`
	GasTipCap           *hexutil.Big                 `json:"maxPriorityFeePerGas,omitempty"`
	MaxFeePerBlobGas    *hexutil.Big                 `json:"maxFeePerBlobGas,omitempty"`
	Hash                common.Hash                  `json:"hash"`
	Input               hexutil.Bytes                `json:"input"`
	Nonce               hexutil.Uint64               `json:"nonce"`
	To                  *common.Address              `json:"to"`
	TransactionIndex    *hexutil.Uint64              `json:"transactionIndex"`
	Value               *hexutil.Big                 `json:"value"`
	Type                hexutil.Uint64               `json:"type"`
	Accesses            *types.AccessList            `json:"accessList,omitempty"`
	ChainID             *hexutil.Big                 `json:"chainId,omitempty"`
	BlobVersionedHashes []common.Hash                `json:"blobVersionedHashes,omitempty"`
	AuthorizationList   []types.SetCodeAuthorization `json:"authorizationList,omitempty"`
	V                   *hexutil.Big                 `json:"v,omitempty"`
	R                   *hexutil.Big                 `json:"r,omitempty"`
	S                   *hexutil.Big                 `json:"s,omitempty"`
	YParity             *hexutil.Uint64              `json:"yParity,omitempty"`

	// System (deposit) transaction fields.
	SourceHash *common.Hash `json:"sourceHash,omitempty"`
	Mint       *hexutil.Big `json:"mint,omitempty"`
	IsSystemTx *bool        `json:"isSystemTx,omitempty"`
}

// txPlace is where a transaction sits (zero for a pool transaction).
type txPlace struct {
	hash    common.Hash
	number  uint64
	time    uint64
	index   uint64
	baseFee *big.Int
}

func (p *txPlace) fill(r *rpcTransaction) {
	if p == nil || p.hash == (common.Hash{}) {
		return
	}
	h, idx, t := p.hash, p.index, p.time
	r.BlockHash = &h
	r.BlockNumber = (*hexutil.Big)(new(big.Int).SetUint64(p.number))
	r.BlockTimestamp = (*hexutil.Uint64)(&t)
	r.TransactionIndex = (*hexutil.Uint64)(&idx)
}

// newRPCTransaction shows a user transaction (go-ethereum's shape).
func newRPCTransaction(tx *types.Transaction, place *txPlace, config *params.ChainConfig) *rpcTransaction {
	num := new(big.Int)
	var t uint64
	if place != nil {
		num.SetUint64(place.number)
		t = place.time
	}
	signer := types.MakeSigner(config, num, t)
	from, _ := types.Sender(signer, tx)
	v, r, s := tx.RawSignatureValues()
	res := &rpcTransaction{
		Type:     hexutil.Uint64(tx.Type()),
		From:     from,
		Gas:      hexutil.Uint64(tx.Gas()),
		GasPrice: (*hexutil.Big)(tx.GasPrice()),
		Hash:     tx.Hash(),
		Input:    hexutil.Bytes(tx.Data()),
		Nonce:    hexutil.Uint64(tx.Nonce()),
		To:       tx.To(),
		Value:    (*hexutil.Big)(tx.Value()),
		V:        (*hexutil.Big)(v),
		R:        (*hexutil.Big)(r),
		S:        (*hexutil.Big)(s),
	}
	place.fill(res)
	mined := place != nil && place.hash != (common.Hash{})
	if tx.Type() == types.LegacyTxType {
		if id := tx.ChainId(); id.Sign() != 0 {
			res.ChainID = (*hexutil.Big)(id)
		}
		return res
	}
	al := tx.AccessList()
	yparity := hexutil.Uint64(v.Sign())
	res.Accesses = &al
	res.ChainID = (*hexutil.Big)(tx.ChainId())
	res.YParity = &yparity
	if tx.Type() == types.AccessListTxType {
		return res
	}
	res.GasFeeCap = (*hexutil.Big)(tx.GasFeeCap())
	res.GasTipCap = (*hexutil.Big)(tx.GasTipCap())
	if mined && place.baseFee != nil {
		res.GasPrice = (*hexutil.Big)(effectiveGasPrice(tx, place.baseFee))
	} else {
		res.GasPrice = (*hexutil.Big)(tx.GasFeeCap())
	}
	switch tx.Type() {
	case types.BlobTxType:
		res.MaxFeePerBlobGas = (*hexutil.Big)(tx.BlobGasFeeCap())
		res.BlobVersionedHashes = tx.BlobHashes()
	case types.SetCodeTxType:
		res.AuthorizationList = tx.SetCodeAuthorizations()
	}
	return res
}

// effectiveGasPrice is min(tip + baseFee, feeCap).
func effectiveGasPrice(tx *types.Transaction, baseFee *big.Int) *big.Int {
	p := new(big.Int).Add(tx.GasTipCap(), baseFee)
	if p.Cmp(tx.GasFeeCap()) > 0 {
		return new(big.Int).Set(tx.GasFeeCap())
	}
	return p
}

// newRPCSystemTx shows a system transaction as op-geth shows an OP Stack
// deposit: type 0x7e, sourceHash, mint, gasPrice 0, zeroed v, r, s.
// nonce is the sender's nonce when it executed.
func newRPCSystemTx(stx *block.SystemTx, place *txPlace, nonce uint64) *rpcTransaction {
	value := stx.Value
	if value == nil {
		value = new(big.Int)
	}
	src := stx.SourceHash
	zero := (*hexutil.Big)(new(big.Int))
	res := &rpcTransaction{
		Type:       block.SystemTxType,
		From:       stx.From,
		Gas:        hexutil.Uint64(stx.Gas),
		GasPrice:   (*hexutil.Big)(new(big.Int)),
		Hash:       stx.Hash(),
		Input:      hexutil.Bytes(stx.Data),
		Nonce:      hexutil.Uint64(nonce),
		To:         stx.To,
		Value:      (*hexutil.Big)(value),
		SourceHash: &src,
		Mint:       (*hexutil.Big)(new(big.Int)),
		V:          zero,
		R:          zero,
		S:          zero,
	}
	if stx.IsSystemTx { // op-geth shows the flag only when set
		sys := true
		res.IsSystemTx = &sys
	}
	if stx.Mint != nil {
		res.Mint = (*hexutil.Big)(stx.Mint)
	}
	place.fill(res)
	return res
}

// marshalHeader is go-ethereum's RPCMarshalHeader.
func marshalHeader(head *types.Header) map[string]any {
	res := map[string]any{
		"number":           (*hexutil.Big)(head.Number),
		"hash":             head.Hash(),
		"parentHash":       head.ParentHash,
		"nonce":            head.Nonce,
		"mixHash":          head.MixDigest,
		"sha3Uncles":       head.UncleHash,
		"logsBloom":        head.Bloom,
		"stateRoot":        head.Root,
		"miner":            head.Coinbase,
		"difficulty":       (*hexutil.Big)(head.Difficulty),
		"extraData":        hexutil.Bytes(head.Extra),
		"gasLimit":         hexutil.Uint64(head.GasLimit),
		"gasUsed":          hexutil.Uint64(head.GasUsed),
		"timestamp":        hexutil.Uint64(head.Time),
		"transactionsRoot": head.TxHash,
		"receiptsRoot":     head.ReceiptHash,
	}
	if head.BaseFee != nil {
		res["baseFeePerGas"] = (*hexutil.Big)(head.BaseFee)
	}
	if head.WithdrawalsHash != nil {
		res["withdrawalsRoot"] = head.WithdrawalsHash
	}
	if head.BlobGasUsed != nil {
		res["blobGasUsed"] = hexutil.Uint64(*head.BlobGasUsed)
	}
	if head.ExcessBlobGas != nil {
		res["excessBlobGas"] = hexutil.Uint64(*head.ExcessBlobGas)
	}
	if head.ParentBeaconRoot != nil {
		res["parentBeaconBlockRoot"] = head.ParentBeaconRoot
	}
	if head.RequestsHash != nil {
		res["requestsHash"] = head.RequestsHash
	}
	if head.BlockAccessListHash != nil {
		res["blockAccessListHash"] = head.BlockAccessListHash
	}
	if head.SlotNumber != nil {
		res["slotNumber"] = hexutil.Uint64(*head.SlotNumber)
	}
	return res
}

// blockSize is the RLP size of the header plus the body's encoding.
func blockSize(b *chain.Block) uint64 {
	hb, _ := rlp.EncodeToBytes(b.Header)
	bb, _ := block.EncodeBody(b.Body)
	return uint64(len(hb) + len(bb))
}

// marshalBlock shows a block with its transaction hashes (fullTx false)
// or transactions, system transactions first. nonces are the system
// transactions' nonces (needed only when fullTx).
func (s *Server) marshalBlock(b *chain.Block, fullTx bool) (map[string]any, error) {
	res := marshalHeader(b.Header)
	res["size"] = hexutil.Uint64(blockSize(b))
	res["uncles"] = []common.Hash{}
	if b.Header.WithdrawalsHash != nil {
		res["withdrawals"] = types.Withdrawals{}
	}
	txs := make([]any, 0, b.Body.Len())
	if !fullTx {
		for _, h := range b.Body.TxHashes() {
			txs = append(txs, h)
		}
		res["transactions"] = txs
		return res, nil
	}
	nonces, err := s.systemNonces(b)
	if err != nil {
		return nil, err
	}
	place := &txPlace{hash: b.Hash(), number: b.NumberU64(), time: b.Header.Time, baseFee: b.Header.BaseFee}
	for i, stx := range b.Body.SystemTxs {
		p := *place
		p.index = uint64(i)
		txs = append(txs, newRPCSystemTx(stx, &p, nonces[i]))
	}
	for i, tx := range b.Body.Txs {
		p := *place
		p.index = uint64(len(b.Body.SystemTxs) + i)
		txs = append(txs, newRPCTransaction(tx, &p, s.config))
	}
	res["transactions"] = txs
	return res, nil
}

// systemNonces are the nonces each system transaction of b executed
// with: its sender's nonce in the parent state, plus one per earlier
// system transaction of the same sender (each uses one nonce).
func (s *Server) systemNonces(b *chain.Block) ([]uint64, error) {
	out := make([]uint64, len(b.Body.SystemTxs))
	if len(out) == 0 {
		return out, nil
	}
	parent, err := s.chain.HeaderByHash(b.Header.ParentHash)
	if err != nil {
		return nil, err
	}
	st, err := s.chain.StateAt(parent.Root)
	if err != nil {
		return nil, err
	}
	used := map[common.Address]uint64{}
	for i, stx := range b.Body.SystemTxs {
		out[i] = st.GetNonce(stx.From) + used[stx.From]
		used[stx.From]++
	}
	return out, nil
}

// marshalReceipt is go-ethereum's MarshalReceipt, for user and system
// transactions (type 0x7e, from the system sender).
func marshalReceipt(r *types.Receipt, loc *chain.TxLocation, from common.Address) map[string]any {
	var to *common.Address
	typ := uint8(block.SystemTxType)
	if loc.Tx != nil {
		to, typ = loc.Tx.To(), loc.Tx.Type()
	} else {
		to = loc.System.To
	}
	price := r.EffectiveGasPrice
	if price == nil {
		price = new(big.Int)
	}
	res := map[string]any{
		"blockHash":         loc.BlockHash,
		"blockNumber":       hexutil.Uint64(loc.BlockNumber),
		"transactionHash":   r.TxHash,
		"transactionIndex":  hexutil.Uint64(loc.Index),
		"from":              from,
		"to":                to,
		"gasUsed":           hexutil.Uint64(r.GasUsed),
		"cumulativeGasUsed": hexutil.Uint64(r.CumulativeGasUsed),
		"contractAddress":   nil,
		"logs":              r.Logs,
		"logsBloom":         r.Bloom,
		"type":              hexutil.Uint(typ),
		"effectiveGasPrice": (*hexutil.Big)(price),
	}
	if len(r.PostState) > 0 {
		res["root"] = hexutil.Bytes(r.PostState)
	} else {
		res["status"] = hexutil.Uint(r.Status)
	}
	if r.Logs == nil {
		res["logs"] = []*types.Log{}
	}
	if r.ContractAddress != (common.Address{}) {
		res["contractAddress"] = r.ContractAddress
	}
	return res
}

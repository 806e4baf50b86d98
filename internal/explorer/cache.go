package explorer

import (
	"context"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/hemi-go/hemi/internal/tunnel"
)

// summaryCacheSize is how many block summaries the explorer remembers:
// the home page's 20 latest blocks many times over.
const summaryCacheSize = 4096

// blockSummary is a block's row in a list and its parent, remembered by
// the block's hash (a hash fixes the block, so a summary never goes
// stale; the finality badge is not part of it and is set per request).
type blockSummary struct {
	blockRow
	parent common.Hash
}

// summary returns the summary of block hash, reading the block once.
func (e *Explorer) summary(hash common.Hash) (blockSummary, error) {
	if s, ok := e.summaries.Get(hash); ok {
		return s, nil
	}
	b, err := e.cfg.Chain.BlockByHash(hash)
	if err != nil {
		return blockSummary{}, err
	}
	h := b.Header
	s := blockSummary{blockRow: blockRow{Number: h.Number.Uint64(), Hash: hash, Time: h.Time, Txs: b.Body.Len(), GasUsed: h.GasUsed}, parent: h.ParentHash}
	e.summaries.Add(hash, s)
	return s, nil
}

// headCacheSize is how many heads the per-head memos keep (a reorg or
// two, and the head before).
const headCacheSize = 4

// keystoneList returns the newest keystonesPage canonical keystones at or
// below head, newest first, without their finality (which moves with
// Bitcoin, not with the head): computed once per head. A list is kept
// only if head is still the head after it is built, so a reorg during
// the reads cannot leave a list that mixes branches.
func (e *Explorer) keystoneList(head *types.Header) []keystoneRow {
	hash := head.Hash()
	if rows, ok := e.keystoneLists.Get(hash); ok {
		return rows
	}
	c := e.cfg.Chain
	var rows []keystoneRow
	for num := head.Number.Uint64(); len(rows) < keystonesPage && num > 0; num-- {
		if !c.IsKeystone(num) {
			continue
		}
		k, err := c.KeystoneAt(num)
		if err != nil {
			continue
		}
		rows = append(rows, keystoneRow{Number: num, Hash: k.Hash, ID: hexutil.Encode(k.ID[:]), BTCViewHeight: k.K.BTCViewHeight})
	}
	if c.Head().Hash() == hash {
		e.keystoneLists.Add(hash, rows)
	}
	return rows
}

// tokenKey names a token's metadata as of a head.
type tokenKey struct {
	token, head common.Hash
}

// tokenMeta is what the token page calls the token for.
type tokenMeta struct {
	Name, Symbol, Supply, Error string
	Decimals                    int
}

// tokenMetaAt calls token's name, symbol, decimals and totalSupply at
// block head, once per head.
func (e *Explorer) tokenMetaAt(ctx context.Context, token common.Address, head common.Hash) tokenMeta {
	key := tokenKey{common.BytesToHash(token[:]), head}
	if m, ok := e.tokenMetas.Get(key); ok {
		return m
	}
	m := tokenMeta{Decimals: 18}
	failed := false
	call := func(sel []byte) ([]byte, error) {
		out, err := e.callAt(ctx, token, sel, head)
		if err != nil && ctx.Err() != nil {
			failed = true // the request's end, not the token's answer
		}
		return out, err
	}
	if out, err := call(selName); err == nil {
		m.Name = abiString(out)
	}
	if out, err := call(selSymbol); err == nil {
		m.Symbol = abiString(out)
	}
	if out, err := call(selDecimals); err == nil && len(out) == 32 && new(big.Int).SetBytes(out).IsUint64() && new(big.Int).SetBytes(out).Uint64() <= 77 {
		m.Decimals = int(new(big.Int).SetBytes(out).Uint64())
	}
	if out, err := call(selTotalSupply); err == nil && len(out) >= 32 {
		m.Supply = formatUnits(new(big.Int).SetBytes(out[:32]), m.Decimals)
	} else {
		m.Error = "This address does not answer totalSupply(): it is not an ERC-20 token."
	}
	if !failed {
		e.tokenMetas.Add(key, m)
	}
	return m
}

// accountKey names an address's account as of a head.
type accountKey struct {
	head common.Hash
	addr common.Address
}

// account is what the address page shows of an address's state at a
// head. Its values are never modified once remembered.
type account struct {
	balance  *big.Int
	nonce    uint64
	codeSize int
	hbtc     *big.Int // nil without a tunnel
}

// accountCacheSize is how many accounts the memo keeps: the addresses
// people look at while a head is the head, and those of the head before.
const accountCacheSize = 1024

// accountAt reads addr's balance, nonce, code size and hBTC balance in
// the state of head, once per head: a head's state never changes, so a
// remembered account is never stale; a new head is a new key. hBTC's
// balance is read from its storage (HBTC.sol's balanceOf mapping, as
// the holder list reads it), not by an eth_call through the RPC, which
// builds an EVM for one storage read.
func (e *Explorer) accountAt(head *types.Header, addr common.Address) (account, error) {
	key := accountKey{head.Hash(), addr}
	if a, ok := e.accounts.Get(key); ok {
		return a, nil
	}
	st, err := e.cfg.Chain.StateAt(head.Root)
	if err != nil {
		return account{}, err
	}
	a := account{balance: st.GetBalance(addr).ToBig(), nonce: st.GetNonce(addr), codeSize: st.GetCodeSize(addr)}
	if e.cfg.HBTC != nil {
		a.hbtc = tunnel.HBTCBalance(st, *e.cfg.HBTC, addr)
	}
	e.accounts.Add(key, a)
	return a, nil
}

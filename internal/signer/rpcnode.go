package signer

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/hemi-go/hemi/internal/popm"
	"github.com/hemi-go/hemi/internal/tunnel"
)

// postedLookback is how far back (L2 blocks) a signer that first sees an
// attempt looks for its SignaturesPosted events: within the node's
// eth_getLogs range limit (10,000 by default).
const postedLookback = 9_000

// RPCNode is a signer's own node reached over its JSON-RPC (L2 state,
// logs, the signer's postSignatures transactions) and its Bitcoin query
// API (broadcast, confirmation). It is used from one goroutine.
type RPCNode struct {
	eth *ethclient.Client
	// submit is where the posts are sent (SubmitTo; eth until then): a
	// follower forwards them to the sequencer given rpc.sequencer_urls;
	// without it a signer whose node is a follower sends its posts to
	// the sequencer's JSON-RPC and still reads everything, its posts'
	// receipts included, from its own node.
	submit  *ethclient.Client
	btc     popm.Bitcoin
	tunnel  common.Address
	account *ecdsa.PrivateKey
	from    common.Address
	chainID *big.Int

	head      uint64            // block the last OpenBatch read at
	postedMin map[string]uint64 // (batch/attempt) -> first block to scan
}

var _ Node = (*RPCNode)(nil)

// DialRPCNode connects to the node's JSON-RPC at rpcURL; btc is the
// node's Bitcoin side (popm.APIBitcoin over its query API, or an
// in-process index adapter), account the signer's funded L2 key that pays
// for its posts.
func DialRPCNode(ctx context.Context, rpcURL string, btc popm.Bitcoin, tunnelAddr common.Address, account *ecdsa.PrivateKey) (*RPCNode, error) {
	if account == nil {
		return nil, fmt.Errorf("%w: no L2 account key", ErrConfig)
	}
	c, err := ethclient.DialContext(ctx, rpcURL)
	if err != nil {
		return nil, fmt.Errorf("signer: dial %s: %w", rpcURL, err)
	}
	id, err := c.ChainID(ctx)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("signer: chain id from %s: %w (is the node running?)", rpcURL, err)
	}
	return &RPCNode{
		eth: c, submit: c, btc: btc, tunnel: tunnelAddr, account: account,
		from: crypto.PubkeyToAddress(account.PublicKey), chainID: id, postedMin: map[string]uint64{},
	}, nil
}

// SubmitTo makes the node send the signer's postSignatures transactions
// to the JSON-RPC at url (the sequencer's, where transactions are
// ordered) instead of its own node's; reads, the posts' receipts
// included, stay on its own node. Call it before the node is used; the
// endpoint must serve the same chain.
func (n *RPCNode) SubmitTo(ctx context.Context, url string) error {
	c, err := ethclient.DialContext(ctx, url)
	if err != nil {
		return fmt.Errorf("signer: dial %s: %w", url, err)
	}
	id, err := c.ChainID(ctx)
	if err != nil {
		c.Close()
		return fmt.Errorf("signer: chain id from %s: %w (is the sequencer's JSON-RPC there?)", url, err)
	}
	if id.Cmp(n.chainID) != 0 {
		c.Close()
		return fmt.Errorf("%w: %s serves chain %s, the signer's node chain %s", ErrConfig, url, id, n.chainID)
	}
	if n.submit != n.eth {
		n.submit.Close()
	}
	n.submit = c
	return nil
}

// Close closes the JSON-RPC connections.
func (n *RPCNode) Close() {
	if n.submit != n.eth {
		n.submit.Close()
	}
	n.eth.Close()
}

// From is the signer's L2 account.
func (n *RPCNode) From() common.Address { return n.from }

// rpcState reads storage at one block over eth_getStorageAt; the first
// error is kept (tunnel's readers take an infallible StateReader).
type rpcState struct {
	ctx   context.Context
	c     *ethclient.Client
	block *big.Int
	err   error
}

func (s *rpcState) GetState(addr common.Address, slot common.Hash) common.Hash {
	if s.err != nil {
		return common.Hash{}
	}
	v, err := s.c.StorageAt(s.ctx, addr, slot, s.block)
	if err != nil {
		s.err = err
		return common.Hash{}
	}
	return common.BytesToHash(v)
}

func (n *RPCNode) stateAt(ctx context.Context, block uint64) *rpcState {
	return &rpcState{ctx: ctx, c: n.eth, block: new(big.Int).SetUint64(block)}
}

// ReadBatch reads the tunnel's batch (open or last; Number 0: none yet)
// from the state at the node's head over JSON-RPC, and the head's number.
func ReadBatch(ctx context.Context, c *ethclient.Client, tunnelAddr common.Address) (*tunnel.Batch, uint64, error) {
	head, err := c.BlockNumber(ctx)
	if err != nil {
		return nil, 0, err
	}
	st := &rpcState{ctx: ctx, c: c, block: new(big.Int).SetUint64(head)}
	b, err := tunnel.ReadBatch(st, tunnelAddr)
	if st.err != nil {
		return nil, 0, st.err
	}
	if err != nil {
		return nil, 0, err
	}
	return b, head, nil
}

// OpenBatch implements Node.
func (n *RPCNode) OpenBatch(ctx context.Context) (*tunnel.Batch, error) {
	b, head, err := ReadBatch(ctx, n.eth, n.tunnel)
	if err != nil {
		return nil, err
	}
	n.head = head
	if b.Number == 0 || !b.Open {
		return nil, nil
	}
	return b, nil
}

// Finalized implements Node: 0 while no block is superfinal.
func (n *RPCNode) Finalized(ctx context.Context) (uint64, error) {
	h, err := n.eth.HeaderByNumber(ctx, big.NewInt(int64(rpc.FinalizedBlockNumber)))
	if errors.Is(err, ethereum.NotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return h.Number.Uint64(), nil
}

// Claims implements Node: each output's id is looked up in the state (its
// status, batch, the L2 block that queued it) and its WithdrawalQueued or
// RefundQueued log is read from that block's receipts: the claim carries
// the log's script and amounts, so a state that disagrees with the burn
// the user made is caught by CheckPayout.
func (n *RPCNode) Claims(ctx context.Context, b *tunnel.Batch) (map[uint64]Claim, error) {
	st := n.stateAt(ctx, n.head)
	out := map[uint64]Claim{}
	for _, o := range b.Outputs {
		it, ok, err := tunnel.ReadItem(st, n.tunnel, o.ID)
		if st.err != nil {
			return nil, st.err
		}
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		c, found, err := n.claimFromLog(ctx, it)
		if err != nil {
			return nil, err
		}
		if found {
			out[o.ID] = c
		}
	}
	return out, nil
}

func idTopic(id uint64) common.Hash { return common.BigToHash(new(big.Int).SetUint64(id)) }

func (n *RPCNode) claimFromLog(ctx context.Context, it tunnel.QueueItem) (Claim, bool, error) {
	name := "WithdrawalQueued"
	if it.Kind == tunnel.KindRefund {
		name = "RefundQueued"
	}
	ev := tunnel.WithdrawalsABI.Events[name]
	block := new(big.Int).SetUint64(it.L2Block)
	logs, err := n.eth.FilterLogs(ctx, ethereum.FilterQuery{
		FromBlock: block, ToBlock: block, Addresses: []common.Address{n.tunnel},
		Topics: [][]common.Hash{{ev.ID}, {idTopic(it.ID)}},
	})
	if err != nil {
		return Claim{}, false, fmt.Errorf("logs of item %d: %w", it.ID, err)
	}
	for _, l := range logs {
		vals, err := ev.Inputs.NonIndexed().Unpack(l.Data)
		if err != nil {
			continue
		}
		c := Claim{ID: it.ID, Refund: it.Kind == tunnel.KindRefund, L2Block: l.BlockNumber,
			Paid: it.Status == tunnel.StatusPaid, Batch: it.Batch}
		if c.Refund { // txid, vout, script, amountSat; its maxFee is the queue's
			c.Script, _ = vals[2].([]byte)
			c.Amount, _ = vals[3].(uint64)
			c.MaxFee = it.MaxFeeSat
		} else { // script, amountSat, maxFeeSat
			c.Script, _ = vals[0].([]byte)
			c.Amount, _ = vals[1].(uint64)
			c.MaxFee, _ = vals[2].(uint64)
		}
		return c, true, nil
	}
	return Claim{}, false, nil
}

// Posted implements Node from the SignaturesPosted logs of the attempt.
func (n *RPCNode) Posted(ctx context.Context, batch uint64, attempt uint32) ([]Posted, error) {
	key := fmt.Sprintf("%d/%d", batch, attempt)
	from, ok := n.postedMin[key]
	if !ok {
		from = 0
		if n.head > postedLookback {
			from = n.head - postedLookback
		}
		n.postedMin[key] = from
	}
	ev := tunnel.WithdrawalsABI.Events["SignaturesPosted"]
	logs, err := n.eth.FilterLogs(ctx, ethereum.FilterQuery{
		FromBlock: new(big.Int).SetUint64(from), ToBlock: new(big.Int).SetUint64(n.head),
		Addresses: []common.Address{n.tunnel}, Topics: [][]common.Hash{{ev.ID}, {idTopic(batch)}},
	})
	if err != nil {
		return nil, err
	}
	var out []Posted
	for _, l := range logs {
		vals, err := ev.Inputs.NonIndexed().Unpack(l.Data)
		if err != nil || len(vals) != 4 {
			continue
		}
		att, _ := vals[0].(uint32)
		idx, _ := vals[1].(uint8)
		sigs, _ := vals[3].([][]byte)
		if att == attempt {
			out = append(out, Posted{Index: idx, Sigs: sigs})
		}
	}
	return out, nil
}

// Post implements Node: an EIP-1559 transaction from the signer's
// account, sent to the submit endpoint (SubmitTo) and waited for until
// its own node has it mined (so a slow block does not make the loop post
// twice). The nonce is the submit endpoint's pending one: that pool holds
// the signer's transactions not mined yet.
func (n *RPCNode) Post(ctx context.Context, batch uint64, attempt uint32, index uint8, sigs [][]byte) error {
	data, err := tunnel.PostSignaturesCalldata(batch, attempt, index, sigs)
	if err != nil {
		return err
	}
	nonce, err := n.submit.PendingNonceAt(ctx, n.from)
	if err != nil {
		return err
	}
	to := n.tunnel
	gas, err := n.eth.EstimateGas(ctx, ethereum.CallMsg{From: n.from, To: &to, Data: data})
	if err != nil {
		return fmt.Errorf("estimate postSignatures (batch closed or account unfunded?): %w", err)
	}
	tip, err := n.eth.SuggestGasTipCap(ctx)
	if err != nil {
		return err
	}
	head, err := n.eth.HeaderByNumber(ctx, nil)
	if err != nil {
		return err
	}
	feeCap := new(big.Int).Add(tip, new(big.Int).Mul(head.BaseFee, big.NewInt(2)))
	tx, err := types.SignNewTx(n.account, types.LatestSignerForChainID(n.chainID), &types.DynamicFeeTx{
		ChainID: n.chainID, Nonce: nonce, GasTipCap: tip, GasFeeCap: feeCap, Gas: gas + gas/4, To: &to, Data: data,
	})
	if err != nil {
		return err
	}
	if err := n.submit.SendTransaction(ctx, tx); err != nil {
		return err
	}
	wait, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		r, err := n.eth.TransactionReceipt(wait, tx.Hash())
		if err == nil {
			if r.Status != types.ReceiptStatusSuccessful {
				return fmt.Errorf("postSignatures %s reverted", tx.Hash())
			}
			return nil
		}
		if !errors.Is(err, ethereum.NotFound) {
			return err
		}
		select {
		case <-wait.Done():
			return fmt.Errorf("postSignatures %s not mined: %w", tx.Hash(), wait.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// Broadcast implements Node: accepted, or already known to the network.
func (n *RPCNode) Broadcast(ctx context.Context, tx *wire.MsgTx) error {
	v, why, err := n.btc.Broadcast(ctx, tx)
	if err != nil {
		return err
	}
	if v != popm.VerdictAccepted {
		return fmt.Errorf("signer: payout %s not accepted: %s", tx.TxHash(), why)
	}
	return nil
}

// Mined implements Node: mined in the node's best chain.
func (n *RPCNode) Mined(ctx context.Context, txid chainhash.Hash) (bool, error) {
	tip, _, err := n.btc.Tip(ctx)
	if err != nil {
		return false, err
	}
	_, ok, err := n.btc.Mined(ctx, txid, tip)
	return ok, err
}

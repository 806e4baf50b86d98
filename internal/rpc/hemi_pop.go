package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/finality"
	"github.com/hemi-go/hemi/internal/pop"
)

// ErrNoFinality: the node runs without a finality service.
var ErrNoFinality = errors.New("this node has no PoP finality service attached")

// maxLatestKeystones bounds hemi_latestKeystones.
const maxLatestKeystones = 100

// finalityTag resolves the safe and finalized tags (never above head,
// which a reorg in flight could otherwise give).
func (s *Server) finalityTag(n gethrpc.BlockNumber, head uint64) uint64 {
	if s.cfg.Finality == nil {
		return s.chain.Genesis().Number.Uint64()
	}
	h := s.cfg.Finality.Heads()
	v := h.Safe
	if n == gethrpc.FinalizedBlockNumber {
		v = h.Finalized
	}
	return min(v, head)
}

// rpcKeystone is the keystone JSON shared with the PoP miner.
type rpcKeystone struct {
	Number        hexutil.Uint64 `json:"number"`
	Hash          common.Hash    `json:"hash"`
	ID            hexutil.Bytes  `json:"id"`
	PrevID        hexutil.Bytes  `json:"prevId"`
	BTCViewHeight hexutil.Uint64 `json:"btcViewHeight"`
	Encoded       hexutil.Bytes  `json:"encoded"`
}

func marshalKeystone(k *pop.L2Keystone) *rpcKeystone {
	enc := k.K.Encode()
	return &rpcKeystone{
		Number:        hexutil.Uint64(k.Number),
		Hash:          k.Hash,
		ID:            k.ID[:],
		PrevID:        k.PrevID[:],
		BTCViewHeight: hexutil.Uint64(k.K.BTCViewHeight),
		Encoded:       enc[:],
	}
}

// GetKeystone is hemi_getKeystone(idOrBlock): a 32-byte keystone id or a
// keystone block's hash (0x-hex; an id is tried first), or a keystone
// block number; a tag (latest, safe, finalized, ...) names the newest
// keystone at or below the tagged block. Unknown: null.
func (api *hemiAPI) GetKeystone(idOrBlock json.RawMessage) (*rpcKeystone, error) {
	s := api.s
	var str string
	if err := json.Unmarshal(idOrBlock, &str); err == nil && len(str) == 66 && strings.HasPrefix(str, "0x") {
		b, err := hexutil.Decode(str)
		if err != nil {
			return nil, invalidParams("keystone id or block hash %q: %v", str, err)
		}
		k, err := s.chain.KeystoneByID([32]byte(b))
		if errors.Is(err, chain.ErrNotFound) {
			k, err = s.chain.KeystoneByHash(common.Hash(b))
		}
		if err != nil {
			return nil, notFound(err)
		}
		return marshalKeystone(k), nil
	}
	var bn gethrpc.BlockNumber
	var num uint64
	if err := json.Unmarshal(idOrBlock, &num); err == nil {
		if num > 1<<62 {
			return nil, invalidParams("block number %d too large", num)
		}
		bn = gethrpc.BlockNumber(num)
	} else if err := json.Unmarshal(idOrBlock, &bn); err != nil {
		return nil, invalidParams("keystone id, block hash, number or tag: %v", err)
	}
	n, err := s.resolveNumber(bn)
	if err != nil {
		return nil, notFound(err)
	}
	if bn >= 0 && !s.chain.IsKeystone(n) {
		return nil, invalidParams("block %d is not a keystone", n)
	}
	n, ok := s.keystoneAtOrBelow(n)
	if !ok {
		return nil, nil
	}
	k, err := s.chain.KeystoneAt(n)
	if err != nil {
		return nil, notFound(err)
	}
	return marshalKeystone(k), nil
}

// keystoneAtOrBelow is the number of the newest keystone at or below n.
func (s *Server) keystoneAtOrBelow(n uint64) (uint64, bool) {
	for ; n > 0; n-- {
		if s.chain.IsKeystone(n) {
			return n, true
		}
	}
	return 0, false
}

// LatestKeystones is hemi_latestKeystones(n): the newest n (1..100)
// canonical keystones, newest first.
func (api *hemiAPI) LatestKeystones(n count) ([]*rpcKeystone, error) {
	if n == 0 || n > maxLatestKeystones {
		return nil, invalidParams("count %d: want 1 to %d", n, maxLatestKeystones)
	}
	s := api.s
	out := []*rpcKeystone{}
	num, ok := s.keystoneAtOrBelow(s.chain.Head().Number.Uint64())
	for ok && len(out) < int(n) {
		k, err := s.chain.KeystoneAt(num)
		if errors.Is(err, chain.ErrNotFound) {
			break // a reorg to a shorter branch meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, marshalKeystone(k))
		num, ok = s.keystoneAtOrBelow(num - 1)
	}
	return out, nil
}

// count is a small non-negative integer parameter given as a JSON number
// or as a hex quantity string.
type count uint64

// UnmarshalJSON accepts 5 and "0x5".
func (c *count) UnmarshalJSON(b []byte) error {
	var q hexutil.Uint64
	if len(b) > 0 && b[0] == '"' {
		if err := q.UnmarshalJSON(b); err != nil {
			return err
		}
		*c = count(q)
		return nil
	}
	var n uint64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("want a non-negative integer or a hex quantity: %w", err)
	}
	*c = count(n)
	return nil
}

// rpcPublication is a Bitcoin publication; hashes in display order.
type rpcPublication struct {
	KeystoneID   hexutil.Bytes  `json:"keystoneId"`
	BTCTxid      string         `json:"btcTxid"`
	BTCVout      hexutil.Uint64 `json:"btcVout"`
	BTCTxIndex   hexutil.Uint64 `json:"btcTxIndex"`
	BTCBlockHash string         `json:"btcBlockHash"`
	BTCHeight    hexutil.Uint64 `json:"btcHeight"`
}

// rpcFinality is hemi_getFinality's answer.
type rpcFinality struct {
	Number         hexutil.Uint64  `json:"number"`
	Hash           common.Hash     `json:"hash"`
	KeystoneNumber hexutil.Uint64  `json:"keystoneNumber"`
	KeystoneExists bool            `json:"keystoneExists"`
	KeystoneID     *hexutil.Bytes  `json:"keystoneId"`
	KeystoneHash   *common.Hash    `json:"keystoneHash"`
	Published      bool            `json:"published"`
	Publication    *rpcPublication `json:"publication"`
	Confirmations  hexutil.Uint64  `json:"confirmations"`
	Superfinal     bool            `json:"superfinal"`
	Depth          hexutil.Uint64  `json:"superfinalDepth"`
	// Finalized: at or below the finalized tag, which never moves back;
	// SuperfinalityLost: finalized but not superfinal now (a Bitcoin
	// reorg deeper than the depth removed its publication).
	Finalized         bool `json:"finalized"`
	SuperfinalityLost bool `json:"superfinalityLost"`
}

// GetFinality is hemi_getFinality(block): the block's covering keystone,
// the effective Bitcoin publication that commits to it, its
// confirmations and superfinality. The block must be canonical.
func (api *hemiAPI) GetFinality(bnh gethrpc.BlockNumberOrHash) (*rpcFinality, error) {
	s := api.s
	if s.cfg.Finality == nil {
		return nil, &rpcError{code: codeServer, msg: ErrNoFinality.Error(), err: ErrNoFinality}
	}
	if _, ok := bnh.Hash(); ok {
		bnh.RequireCanonical = true
	}
	h, err := s.headerByNumberOrHash(bnh)
	if err != nil {
		return nil, notFound(err)
	}
	f, err := s.cfg.Finality.Finality(h.Number.Uint64())
	if errors.Is(err, finality.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("finality of block %d: %w", h.Number, err)
	}
	out := &rpcFinality{
		Number:         hexutil.Uint64(f.Number),
		Hash:           f.Hash,
		KeystoneNumber: hexutil.Uint64(f.KeystoneNumber),
		KeystoneExists: f.KeystoneExists,
		Published:      f.Published,
		Confirmations:  hexutil.Uint64(f.Confirmations),
		Superfinal:     f.Superfinal,
		Depth:          hexutil.Uint64(f.Depth),

		Finalized:         f.Finalized,
		SuperfinalityLost: f.SuperfinalityLost,
	}
	if f.KeystoneExists {
		id := hexutil.Bytes(f.KeystoneID[:])
		out.KeystoneID = &id
		kh := f.KeystoneHash
		out.KeystoneHash = &kh
	}
	if f.Published {
		p := f.Publication
		out.Publication = &rpcPublication{
			KeystoneID:   p.Keystone[:],
			BTCTxid:      chainhash.Hash(p.Txid).String(),
			BTCVout:      hexutil.Uint64(p.Vout),
			BTCTxIndex:   hexutil.Uint64(p.TxIndex),
			BTCBlockHash: chainhash.Hash(p.BlockHash).String(),
			BTCHeight:    hexutil.Uint64(p.Height),
		}
	}
	return out, nil
}

// NewKeystones is hemi_subscribe("newKeystones"): each new canonical
// keystone as the head reaches it; after a reorg, the keystones of the
// new branch (the chain re-delivers the new branch's blocks).
func (api *hemiAPI) NewKeystones(ctx context.Context) (*gethrpc.Subscription, error) {
	s := api.s
	return s.subscribeHeads(ctx, func(h *types.Header) (any, error) {
		if !s.chain.IsKeystone(h.Number.Uint64()) {
			return nil, nil
		}
		k, err := s.chain.KeystoneByHash(h.Hash())
		if err != nil {
			s.log.Warn("keystone subscription stopped", "block", h.Number, "err", err)
			return nil, err
		}
		return marshalKeystone(k), nil
	})
}

// rpcHeads is a "finality" notification.
type rpcHeads struct {
	Safe      hexutil.Uint64 `json:"safe"`
	Finalized hexutil.Uint64 `json:"finalized"`
}

// Finality is hemi_subscribe("finality"): the safe and finalized block
// numbers, now and each time either moves (also backwards, after a
// Bitcoin reorg). A slow reader gets the newest heads, not every step.
func (api *hemiAPI) Finality(ctx context.Context) (*gethrpc.Subscription, error) {
	notifier, ok := gethrpc.NotifierFromContext(ctx)
	if !ok {
		return nil, gethrpc.ErrNotificationsUnsupported
	}
	s := api.s
	if s.cfg.Finality == nil {
		return nil, &rpcError{code: codeServer, msg: ErrNoFinality.Error(), err: ErrNoFinality}
	}
	release, err := s.takeSubscription(ctx)
	if err != nil {
		return nil, err
	}
	sub := notifier.CreateSubscription()
	ch := make(chan finality.Heads, 16)
	fsub := s.cfg.Finality.SubscribeHeads(ch)
	// The feed's sender is the finality service: never make it wait on
	// a slow connection. One goroutine drains the feed keeping only the
	// newest heads, the other notifies.
	var mu sync.Mutex
	latest := s.cfg.Finality.Heads()
	wake := make(chan struct{}, 1)
	wake <- struct{}{}
	stop := make(chan struct{})
	s.metrics.subscriptions.Inc()
	go func() {
		defer fsub.Unsubscribe()
		for {
			select {
			case h := <-ch:
				mu.Lock()
				latest = h
				mu.Unlock()
				select {
				case wake <- struct{}{}:
				default:
				}
			case <-fsub.Err():
				return
			case <-stop:
				return
			}
		}
	}()
	go func() {
		defer release()
		defer s.metrics.subscriptions.Dec()
		defer close(stop)
		var last *finality.Heads
		for {
			select {
			case <-wake:
				mu.Lock()
				h := latest
				mu.Unlock()
				if last != nil && *last == h {
					continue
				}
				last = &h
				if err := notifier.Notify(sub.ID, rpcHeads{Safe: hexutil.Uint64(h.Safe), Finalized: hexutil.Uint64(h.Finalized)}); err != nil {
					return
				}
			case <-sub.Err():
				return
			}
		}
	}()
	return sub, nil
}

package indexadapt

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hemi-go/hemi/internal/btc/index"
	"github.com/hemi-go/hemi/internal/btc/p2p"
	"github.com/hemi-go/hemi/internal/popm"
)

// Broadcaster sends transactions to Bitcoin peers (*tbc.Service).
type Broadcaster interface {
	Broadcast(ctx context.Context, tx *wire.MsgTx) (p2p.BroadcastResult, error)
}

// FeeRater estimates fee rates (*tbc.Service, or an
// *index.FeeEstimator through FeeRaterFunc).
type FeeRater interface {
	FeeRate(target int) (int64, chainhash.Hash, error)
}

// PoPMiner is an in-process Bitcoin index and its P2P client as the PoP
// miner asks for them (popm.Bitcoin): the devnet's miner, beside its
// node. A miner of its own process uses popm.APIBitcoin instead.
type PoPMiner struct {
	Index *index.Index
	Peers Broadcaster
	Fees  FeeRater
}

var _ popm.Bitcoin = PoPMiner{}

// Tip implements popm.Bitcoin.
func (b PoPMiner) Tip(context.Context) (chainhash.Hash, int32, error) {
	h, n := b.Index.BlockTip()
	return h, n, nil
}

// TipChanges implements popm.Bitcoin with the index's connected/disconnected
// events.
func (b PoPMiner) TipChanges(ctx context.Context) <-chan struct{} {
	evs := b.Index.Subscribe(ctx, b.Index.NextEventSeq())
	out := make(chan struct{}, 1)
	go func() {
		defer close(out)
		for range evs {
			select {
			case out <- struct{}{}:
			default: // a signal is already pending
			}
		}
	}()
	return out
}

// Coins implements popm.Bitcoin: every page of the wallet's unspent
// outputs (popm.AllCoins).
func (b PoPMiner) Coins(ctx context.Context, script []byte, asOf chainhash.Hash) ([]popm.Coin, error) {
	return popm.AllCoins(ctx, func(p int) ([]popm.Coin, error) {
		us, err := b.Index.UTXOs(script, p, popm.CoinPage, asOf)
		if err != nil {
			return nil, err
		}
		out := make([]popm.Coin, len(us))
		for i, u := range us {
			out[i] = popm.Coin{OutPoint: u.Outpoint, Value: u.Value}
		}
		return out, nil
	})
}

// Mined implements popm.Bitcoin.
func (b PoPMiner) Mined(_ context.Context, txid, asOf chainhash.Hash) (popm.Mined, bool, error) {
	ti, err := b.Index.TxByID(txid, asOf)
	if errors.Is(err, index.ErrNotFound) {
		return popm.Mined{}, false, nil
	}
	if err != nil {
		return popm.Mined{}, false, err
	}
	return popm.Mined{Height: ti.Height, BlockHash: ti.BlockHash}, true, nil
}

// Spender implements popm.Bitcoin.
func (b PoPMiner) Spender(_ context.Context, op wire.OutPoint, asOf chainhash.Hash) (chainhash.Hash, bool, error) {
	sp, err := b.Index.SpendOf(op, asOf)
	if errors.Is(err, index.ErrNotFound) {
		return chainhash.Hash{}, false, nil
	}
	if err != nil {
		return chainhash.Hash{}, false, err
	}
	return sp.Txid, true, nil
}

// FeeRate implements popm.Bitcoin.
func (b PoPMiner) FeeRate(_ context.Context, target int) (int64, error) {
	r, _, err := b.Fees.FeeRate(target)
	return r, err
}

// Broadcast implements popm.Bitcoin.
func (b PoPMiner) Broadcast(ctx context.Context, tx *wire.MsgTx) (popm.Verdict, string, error) {
	res, err := b.Peers.Broadcast(ctx, tx)
	if err != nil && !res.OK() && len(res.Rejected) == 0 {
		return popm.VerdictUnknown, "", err
	}
	return verdictOf(res)
}

// verdictOf reads the peers' answers: any acceptance (or a peer that
// already has it, or a block holding it) is acceptance; otherwise any
// rejection is a rejection; otherwise peers that read the announcement
// and did not fetch the transaction (p2p's Known: it is mined in their
// chain, or an orphan there, as right after a reorg) count as acceptance
// too: resending changes nothing for them, and a transaction that is in
// fact stuck is bumped after BumpBlocks.
func verdictOf(res p2p.BroadcastResult) (popm.Verdict, string, error) {
	if res.OK() {
		return popm.VerdictAccepted, res.String(), nil
	}
	var reasons []string
	for _, r := range res.Rejected {
		if r.Code == wire.RejectDuplicate || strings.Contains(r.Reason, "already have") {
			return popm.VerdictAccepted, r.Reason, nil
		}
		reasons = append(reasons, fmt.Sprintf("%s: %s", r.Peer, r.Reason))
	}
	if len(reasons) > 0 {
		return popm.VerdictRejected, strings.Join(reasons, "; "), nil
	}
	if len(res.Known) > 0 {
		return popm.VerdictAccepted, res.String(), nil
	}
	return popm.VerdictUnknown, res.String(), nil
}

// FeeRaterFunc adapts a function to FeeRater.
type FeeRaterFunc func(target int) (int64, chainhash.Hash, error)

// FeeRate implements FeeRater.
func (f FeeRaterFunc) FeeRate(target int) (int64, chainhash.Hash, error) { return f(target) }

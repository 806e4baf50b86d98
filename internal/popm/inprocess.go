package popm

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hemi-go/hemi/internal/btc/index"
	"github.com/hemi-go/hemi/internal/btc/p2p"
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

// IndexBitcoin adapts an in-process Bitcoin index and its P2P client.
type IndexBitcoin struct {
	Index *index.Index
	Peers Broadcaster
	Fees  FeeRater
}

var _ Bitcoin = IndexBitcoin{}

// Tip implements Bitcoin.
func (b IndexBitcoin) Tip(context.Context) (chainhash.Hash, int32, error) {
	h, n := b.Index.BlockTip()
	return h, n, nil
}

// TipChanges implements Bitcoin with the index's connected/disconnected
// events.
func (b IndexBitcoin) TipChanges(ctx context.Context) <-chan struct{} {
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

// Coins implements Bitcoin.
func (b IndexBitcoin) Coins(ctx context.Context, script []byte, asOf chainhash.Hash) ([]Coin, error) {
	return allCoins(ctx, func(p int) ([]Coin, error) {
		us, err := b.Index.UTXOs(script, p, coinPage, asOf)
		if err != nil {
			return nil, err
		}
		out := make([]Coin, len(us))
		for i, u := range us {
			out[i] = Coin{OutPoint: u.Outpoint, Value: u.Value}
		}
		return out, nil
	})
}

// coinPage is the page size the wallet's coins are read in (the query
// API's largest).
const coinPage = 1000

// allCoins reads every page of the wallet's unspent outputs, page 0 on,
// until a short page: a wallet may hold any number of them (funded by
// many small payments, or dusted by strangers), and a coin left unread
// is a coin the miner cannot spend. Every page is read as of the same
// block, so together they are one consistent set.
func allCoins(ctx context.Context, page func(p int) ([]Coin, error)) ([]Coin, error) {
	var out []Coin
	for p := 0; ; p++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		cs, err := page(p)
		if err != nil {
			return nil, err
		}
		out = append(out, cs...)
		if len(cs) < coinPage {
			return out, nil
		}
	}
}

// Mined implements Bitcoin.
func (b IndexBitcoin) Mined(_ context.Context, txid, asOf chainhash.Hash) (Mined, bool, error) {
	ti, err := b.Index.TxByID(txid, asOf)
	if errors.Is(err, index.ErrNotFound) {
		return Mined{}, false, nil
	}
	if err != nil {
		return Mined{}, false, err
	}
	return Mined{Height: ti.Height, BlockHash: ti.BlockHash}, true, nil
}

// Spender implements Bitcoin.
func (b IndexBitcoin) Spender(_ context.Context, op wire.OutPoint, asOf chainhash.Hash) (chainhash.Hash, bool, error) {
	sp, err := b.Index.SpendOf(op, asOf)
	if errors.Is(err, index.ErrNotFound) {
		return chainhash.Hash{}, false, nil
	}
	if err != nil {
		return chainhash.Hash{}, false, err
	}
	return sp.Txid, true, nil
}

// FeeRate implements Bitcoin.
func (b IndexBitcoin) FeeRate(_ context.Context, target int) (int64, error) {
	r, _, err := b.Fees.FeeRate(target)
	return r, err
}

// Broadcast implements Bitcoin.
func (b IndexBitcoin) Broadcast(ctx context.Context, tx *wire.MsgTx) (Verdict, string, error) {
	res, err := b.Peers.Broadcast(ctx, tx)
	if err != nil && !res.OK() && len(res.Rejected) == 0 {
		return VerdictUnknown, "", err
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
func verdictOf(res p2p.BroadcastResult) (Verdict, string, error) {
	if res.OK() {
		return VerdictAccepted, res.String(), nil
	}
	var reasons []string
	for _, r := range res.Rejected {
		if r.Code == wire.RejectDuplicate || strings.Contains(r.Reason, "already have") {
			return VerdictAccepted, r.Reason, nil
		}
		reasons = append(reasons, fmt.Sprintf("%s: %s", r.Peer, r.Reason))
	}
	if len(reasons) > 0 {
		return VerdictRejected, strings.Join(reasons, "; "), nil
	}
	if len(res.Known) > 0 {
		return VerdictAccepted, res.String(), nil
	}
	return VerdictUnknown, res.String(), nil
}

// FeeRaterFunc adapts a function to FeeRater.
type FeeRaterFunc func(target int) (int64, chainhash.Hash, error)

// FeeRate implements FeeRater.
func (f FeeRaterFunc) FeeRate(target int) (int64, chainhash.Hash, error) { return f(target) }

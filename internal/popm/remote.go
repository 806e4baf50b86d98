package popm

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/hemi-go/hemi/internal/pop"
	"github.com/hemi-go/hemi/internal/tbc"
)

// ErrKeystoneJSON: the node sent a keystone that does not decode or whose
// id does not match its encoding.
var ErrKeystoneJSON = errors.New("popm: bad keystone from the node")

// KeystoneJSON is the keystone object of hemi_getKeystone,
// hemi_latestKeystones and the "newKeystones" subscription.
type KeystoneJSON struct {
	Number        hexutil.Uint64 `json:"number"`
	Hash          common.Hash    `json:"hash"`
	ID            common.Hash    `json:"id"`
	PrevID        common.Hash    `json:"prevId"`
	BTCViewHeight hexutil.Uint64 `json:"btcViewHeight"`
	Encoded       hexutil.Bytes  `json:"encoded"`
}

// Decode checks and converts the JSON keystone: the encoding must decode,
// hash to ID, and agree with Number and BTCViewHeight.
func (j *KeystoneJSON) Decode() (pop.L2Keystone, error) {
	k, err := pop.DecodeKeystone(j.Encoded)
	if err != nil {
		return pop.L2Keystone{}, fmt.Errorf("%w: %w", ErrKeystoneJSON, err)
	}
	if id := k.ID(); id != j.ID {
		return pop.L2Keystone{}, fmt.Errorf("%w: id %x does not match the encoding (id %x)", ErrKeystoneJSON, j.ID, id)
	}
	if uint64(k.L2Number) != uint64(j.Number) || uint64(k.BTCViewHeight) != uint64(j.BTCViewHeight) {
		return pop.L2Keystone{}, fmt.Errorf("%w: number or view height differ from the encoding", ErrKeystoneJSON)
	}
	if !bytes.Equal(k.BlockPrefix[:], j.Hash[:len(k.BlockPrefix)]) {
		return pop.L2Keystone{}, fmt.Errorf("%w: block hash %s does not match the encoding", ErrKeystoneJSON, j.Hash)
	}
	return pop.L2Keystone{Number: uint64(j.Number), Hash: j.Hash, ID: j.ID, K: k, PrevID: j.PrevID}, nil
}

// RPCKeystones follows a running node's keystones over its JSON-RPC
// WebSocket: hemi_latestKeystones(1) at start, then the "newKeystones"
// subscription.
type RPCKeystones struct {
	// URL is the node's WebSocket endpoint, e.g. ws://127.0.0.1:8545.
	URL string
}

var _ Keystones = RPCKeystones{}

// Keystones implements Keystones. The channel closes when the
// subscription fails (the node went away) or ctx is done.
func (r RPCKeystones) Keystones(ctx context.Context) (<-chan pop.L2Keystone, error) {
	c, err := rpc.DialContext(ctx, r.URL)
	if err != nil {
		return nil, fmt.Errorf("popm: dial %s: %w", r.URL, err)
	}
	sub := make(chan KeystoneJSON, 16)
	// Subscribe before asking for the latest, so nothing falls between.
	s, err := c.Subscribe(ctx, "hemi", sub, "newKeystones")
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("popm: hemi_subscribe newKeystones on %s: %w", r.URL, err)
	}
	var latest []KeystoneJSON
	if err := c.CallContext(ctx, &latest, "hemi_latestKeystones", 1); err != nil {
		s.Unsubscribe()
		c.Close()
		return nil, fmt.Errorf("popm: hemi_latestKeystones on %s: %w", r.URL, err)
	}
	out := make(chan pop.L2Keystone, 16)
	go func() {
		defer close(out)
		defer c.Close()
		defer s.Unsubscribe()
		send := func(j KeystoneJSON) bool {
			k, err := j.Decode()
			if err != nil {
				return true // skip a bad keystone; the next one commits to it anyway
			}
			select {
			case out <- k:
				return true
			case <-ctx.Done():
				return false
			}
		}
		for _, j := range latest {
			if !send(j) {
				return
			}
		}
		for {
			select {
			case j := <-sub:
				if !send(j) {
					return
				}
			case <-s.Err():
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// APIBitcoin adapts a running node's Bitcoin query API (`hemi node`,
// `hemi tbc`, `hemi devnet`).
type APIBitcoin struct {
	Client *tbc.Client
	// Poll is how often the tip is polled (default 1s).
	Poll time.Duration
}

var _ Bitcoin = APIBitcoin{}

// Tip implements Bitcoin.
func (a APIBitcoin) Tip(ctx context.Context) (chainhash.Hash, int32, error) {
	st, err := a.Client.Status(ctx)
	if err != nil {
		return chainhash.Hash{}, 0, err
	}
	h, err := chainhash.NewHashFromStr(st.BlockHash)
	if err != nil {
		return chainhash.Hash{}, 0, fmt.Errorf("popm: status block hash %q: %w", st.BlockHash, err)
	}
	return *h, st.BlockHeight, nil
}

// TipChanges implements Bitcoin by polling the tip.
func (a APIBitcoin) TipChanges(ctx context.Context) <-chan struct{} {
	poll := a.Poll
	if poll <= 0 {
		poll = time.Second
	}
	out := make(chan struct{}, 1)
	go func() {
		defer close(out)
		t := time.NewTicker(poll)
		defer t.Stop()
		var last chainhash.Hash
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			h, _, err := a.Tip(ctx)
			if err != nil || h == last {
				continue
			}
			last = h
			select {
			case out <- struct{}{}:
			default:
			}
		}
	}()
	return out
}

// Coins implements Bitcoin.
func (a APIBitcoin) Coins(ctx context.Context, script []byte, asOf chainhash.Hash) ([]Coin, error) {
	return AllCoins(ctx, func(p int) ([]Coin, error) {
		us, err := a.Client.UTXOs(ctx, "script:"+hex.EncodeToString(script), asOf.String(), p, CoinPage)
		if err != nil {
			return nil, err
		}
		out := make([]Coin, len(us.UTXOs))
		for i, u := range us.UTXOs {
			h, err := chainhash.NewHashFromStr(u.Txid)
			if err != nil {
				return nil, fmt.Errorf("popm: utxo txid %q: %w", u.Txid, err)
			}
			out[i] = Coin{OutPoint: wire.OutPoint{Hash: *h, Index: u.Vout}, Value: u.Satoshis}
		}
		return out, nil
	})
}

// Mined implements Bitcoin.
func (a APIBitcoin) Mined(ctx context.Context, txid, asOf chainhash.Hash) (Mined, bool, error) {
	t, err := a.Client.Tx(ctx, txid.String(), asOf.String())
	if errors.Is(err, tbc.ErrNotFound) {
		return Mined{}, false, nil
	}
	if err != nil {
		return Mined{}, false, err
	}
	h, err := chainhash.NewHashFromStr(t.BlockHash)
	if err != nil {
		return Mined{}, false, fmt.Errorf("popm: tx block hash %q: %w", t.BlockHash, err)
	}
	return Mined{Height: t.Height, BlockHash: *h}, true, nil
}

// Spender implements Bitcoin.
func (a APIBitcoin) Spender(ctx context.Context, op wire.OutPoint, asOf chainhash.Hash) (chainhash.Hash, bool, error) {
	sp, err := a.Client.Spend(ctx, op.Hash.String(), op.Index, asOf.String())
	if errors.Is(err, tbc.ErrNotFound) {
		return chainhash.Hash{}, false, nil
	}
	if err != nil {
		return chainhash.Hash{}, false, err
	}
	h, err := chainhash.NewHashFromStr(sp.Txid)
	if err != nil {
		return chainhash.Hash{}, false, fmt.Errorf("popm: spend txid %q: %w", sp.Txid, err)
	}
	return *h, true, nil
}

// FeeRate implements Bitcoin.
func (a APIBitcoin) FeeRate(ctx context.Context, target int) (int64, error) {
	f, err := a.Client.FeeRate(ctx, target)
	return f.SatPerVB, err
}

// Broadcast implements Bitcoin.
func (a APIBitcoin) Broadcast(ctx context.Context, tx *wire.MsgTx) (Verdict, string, error) {
	var buf bytes.Buffer
	if err := tx.Serialize(&buf); err != nil {
		return VerdictUnknown, "", err
	}
	r, err := a.Client.Broadcast(ctx, hex.EncodeToString(buf.Bytes()))
	if err != nil {
		return VerdictUnknown, "", err
	}
	if r.OK {
		return VerdictAccepted, r.Summary, nil
	}
	if len(r.Rejected) > 0 {
		for _, s := range r.Rejected {
			if bytes.Contains([]byte(s), []byte("already have")) || bytes.Contains([]byte(s), []byte("already exists")) {
				return VerdictAccepted, s, nil
			}
		}
		return VerdictRejected, r.Summary, nil
	}
	return VerdictUnknown, r.Summary, nil
}

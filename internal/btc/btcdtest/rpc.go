package btcdtest

import (
	"context"
	"fmt"
	"time"

	"github.com/btcsuite/btcd/btcjson"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// pollInterval is how often the Wait helpers ask btcd.
const pollInterval = 25 * time.Millisecond

// Generate mines n blocks to the node's mining address and returns their
// hashes in order.
func (n *Node) Generate(count uint32) ([]*chainhash.Hash, error) {
	hs, err := n.rpc.Generate(count)
	if err != nil {
		return nil, rpcErr("generate", err)
	}
	return hs, nil
}

// Tip returns btcd's best block hash and height.
func (n *Node) Tip() (*chainhash.Hash, int32, error) {
	h, height, err := n.rpc.GetBestBlock()
	if err != nil {
		return nil, 0, rpcErr("getbestblock", err)
	}
	return h, height, nil
}

// Connect makes btcd open a one-try outbound connection to addr and waits
// until the peer has completed the handshake.
func (n *Node) Connect(ctx context.Context, addr string) error {
	if err := n.rpc.AddNode(addr, "onetry"); err != nil {
		return rpcErr("addnode onetry", err)
	}
	return n.waitPeer(ctx, addr, true)
}

// Disconnect drops btcd's connection to addr and waits until it is gone.
func (n *Node) Disconnect(ctx context.Context, addr string) error {
	if err := n.rpc.Node(btcjson.NDisconnect, addr, nil); err != nil {
		return rpcErr("node disconnect", err)
	}
	return n.waitPeer(ctx, addr, false)
}

// HasPeer reports whether btcd has a handshaken connection to addr.
func (n *Node) HasPeer(addr string) (bool, error) {
	peers, err := n.rpc.GetPeerInfo()
	if err != nil {
		return false, rpcErr("getpeerinfo", err)
	}
	for _, p := range peers {
		if p.Addr == addr && p.Version != 0 {
			return true, nil
		}
	}
	return false, nil
}

func (n *Node) waitPeer(ctx context.Context, addr string, want bool) error {
	return n.poll(ctx, func() (bool, error) {
		has, err := n.HasPeer(addr)
		return has == want, err
	}, fmt.Sprintf("peer %s connected=%v", addr, want))
}

// WaitForHeight waits until btcd's best height is at least height.
func (n *Node) WaitForHeight(ctx context.Context, height int32) error {
	return n.poll(ctx, func() (bool, error) {
		_, h, err := n.Tip()
		return h >= height, err
	}, fmt.Sprintf("height %d", height))
}

// WaitForTip waits until btcd's best block is hash.
func (n *Node) WaitForTip(ctx context.Context, hash chainhash.Hash) error {
	return n.poll(ctx, func() (bool, error) {
		h, _, err := n.Tip()
		return err == nil && *h == hash, err
	}, "tip "+hash.String())
}

// WaitForMempool waits until txid is in btcd's mempool.
func (n *Node) WaitForMempool(ctx context.Context, txid chainhash.Hash) error {
	return n.poll(ctx, func() (bool, error) {
		ids, err := n.rpc.GetRawMempool()
		if err != nil {
			return false, rpcErr("getrawmempool", err)
		}
		for _, id := range ids {
			if *id == txid {
				return true, nil
			}
		}
		return false, nil
	}, "mempool tx "+txid.String())
}

// SendRawTx submits tx to btcd's mempool and returns its txid.
func (n *Node) SendRawTx(tx *wire.MsgTx) (*chainhash.Hash, error) {
	h, err := n.rpc.SendRawTransaction(tx, true)
	if err != nil {
		return nil, rpcErr("sendrawtransaction", err)
	}
	return h, nil
}

// poll calls check until it reports done, returns an error, btcd exits or
// ctx ends.
func (n *Node) poll(ctx context.Context, check func() (bool, error), what string) error {
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		if err := n.alive(); err != nil {
			return fmt.Errorf("btcdtest: waiting for %s: %w", what, err)
		}
		done, err := check()
		if err != nil {
			return fmt.Errorf("btcdtest: waiting for %s: %w", what, err)
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("btcdtest: waiting for %s: %w", what, ctx.Err())
		case <-t.C:
		}
	}
}

package node

import (
	"context"
	"errors"
	"log/slog"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/pop"
	"github.com/hemi-go/hemi/internal/popm"
)

// Keystones adapts the node's L2 chain to the PoP miner's
// popm.Keystones (the devnet's in-process miner).
type Keystones struct {
	Chain  *chain.Chain
	Logger *slog.Logger
}

var _ popm.Keystones = Keystones{}

// Keystones follows the chain's canonical headers from the newest
// keystone at or below the head and sends each keystone block's
// pop.L2Keystone.
func (c Keystones) Keystones(ctx context.Context) (<-chan pop.L2Keystone, error) {
	iv := c.Chain.Config().KeystoneInterval
	if iv == 0 {
		return nil, errors.New("popm: the chain has no keystones (keystone interval 0)")
	}
	from := max(c.Chain.Head().Number.Uint64()/iv*iv, iv)
	hs := c.Chain.Subscribe(ctx, from)
	out := make(chan pop.L2Keystone, 16)
	go func() {
		defer close(out)
		for h := range hs {
			if !c.Chain.IsKeystone(h.Number.Uint64()) {
				continue
			}
			k, err := c.Chain.KeystoneByHash(h.Hash())
			if err != nil {
				if c.Logger != nil {
					c.Logger.Warn("keystone lookup failed", "number", h.Number, "err", err)
				}
				return
			}
			select {
			case out <- *k:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

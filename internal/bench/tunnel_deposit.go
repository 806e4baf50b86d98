package bench

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/devnet"
	"github.com/hemi-go/hemi/internal/devnet/devnettest"
	"github.com/hemi-go/hemi/internal/tunnel"
)

// Defaults of the deposit-to-mint run.
const (
	// DefaultDepositBlockInterval is how often the run mines a Bitcoin
	// block: a devnet pace (Bitcoin's is 600 s), long enough for the L2
	// (1 s blocks) to take every block into its view before the next.
	DefaultDepositBlockInterval = 2 * time.Second
	depositBenchSat             = 150_000_000 // 1.5 BTC
	depositBenchMaxBlocks       = 30
)

// DepositToMint is what the deposit-to-mint run measured.
type DepositToMint struct {
	// BTCBlocks counts Bitcoin blocks from the deposit's block (1) to the
	// tip when its mint was sealed in an L2 block: what a depositor waits
	// in blocks.
	BTCBlocks int
	// Seconds is the wall time from the broadcast to that L2 block, at
	// the run's block interval.
	Seconds float64
	// Confirmations and ViewLag are the genesis's, the expected floor of
	// BTCBlocks; L2Block and ViewHeight where the mint happened.
	Confirmations, ViewLag uint32
	L2Block                uint64
	DepositHeight          int32
	ViewHeight             int32
	// ParentViewHeight is the view of the L2 block before the mint's.
	ParentViewHeight int32
	BlockInterval    time.Duration
}

// depositToMint measures one deposit on the devnet stack (the embedded
// regtest node, our indexer over P2P, the L2 node with the genesis
// defaults of the tunnel: 6 confirmations, view lag 2): a 1.5 BTC deposit
// from the dev miner's mature coinbase is broadcast, a Bitcoin block is
// mined every interval, and the run stops at the first L2 block whose
// state has the deposit minted (the deposit deriver's mint, exactly as
// every node derives it).
func depositToMint(ctx context.Context, interval time.Duration, out io.Writer) (DepositToMint, error) {
	if interval <= 0 {
		interval = DefaultDepositBlockInterval
	}
	res := DepositToMint{BlockInterval: interval}
	s, err := devnettest.StartStack(ctx, devnettest.StackConfig{L2BlockTime: time.Second, PoPM: devnet.PoPMConfig{Off: true}})
	if err != nil {
		return res, err
	}
	defer s.Close()
	tc := s.L2.File.Config.Tunnel
	if tc == nil {
		return res, fmt.Errorf("deposit to mint: the devnet genesis has no tunnel")
	}
	res.Confirmations, res.ViewLag = tc.DepositConfirmations, s.L2.Spec.Config.ViewLag
	// The dev miner's second coinbase (mature on the stack) pays the
	// vault, as a wallet would (the broadcast's signing takes
	// milliseconds of the measured seconds).
	start := time.Now()
	dep, err := s.DepositFromCoinbase(2, common.HexToAddress("0x70997970C51812dc3A010C7d01b50e0d17dc79C8"), depositBenchSat)
	if err != nil {
		return res, fmt.Errorf("deposit to mint: %w", err)
	}
	op := wire.OutPoint{Hash: dep.TxHash(), Index: 0}
	key := tunnel.DepositKey(op)
	fmt.Fprintf(out, "deposit to mint: %d sat deposit %s broadcast; a Bitcoin block every %s, L2 blocks every 1 s\n", depositBenchSat, op, interval)
	t := time.NewTicker(interval)
	defer t.Stop()
	// The L2 subscription tells when each block is sealed.
	heads := s.L2.Chain.Subscribe(ctx, s.L2.Chain.Head().Number.Uint64())
	// minted reports the mint once L2 block h holds it, with the
	// Bitcoin tip at that moment.
	minted := func(h *types.Header) (bool, error) {
		st, err := s.L2.Chain.StateAt(h.Root)
		if err != nil {
			return false, err
		}
		m, ok := tunnel.ReadMinted(st, tc.TunnelAddress, key)
		if !ok {
			return false, nil
		}
		res.Seconds = time.Since(start).Seconds()
		_, tip := s.BTC.Tip()
		res.BTCBlocks = int(tip - res.DepositHeight + 1)
		res.L2Block = m.L2Block
		res.ViewHeight = genesis.ReadView(st).Height
		parent, err := s.L2.Chain.HeaderByNumber(m.L2Block - 1)
		if err != nil {
			return false, err
		}
		pst, err := s.L2.Chain.StateAt(parent.Root)
		if err != nil {
			return false, err
		}
		res.ParentViewHeight = genesis.ReadView(pst).Height
		fmt.Fprintf(out, "deposit to mint: deposit in Bitcoin block %d, minted in L2 block %d (view %d: %d confirmations, view lag %d): %d Bitcoin blocks, %.1f s\n",
			res.DepositHeight, res.L2Block, res.ViewHeight, res.ViewHeight-res.DepositHeight+1, res.ViewLag, res.BTCBlocks, res.Seconds)
		return true, nil
	}
	for mined := 0; ; {
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-t.C:
			// A head sealed meanwhile is looked at before the next block.
			if mined > 0 {
				if done, err := minted(s.L2.Chain.Head()); done || err != nil {
					return res, err
				}
			}
			if mined == depositBenchMaxBlocks {
				return res, fmt.Errorf("deposit to mint: not minted after %d Bitcoin blocks", mined)
			}
			hs, err := s.MineBTC(ctx, 1)
			if err != nil {
				return res, err
			}
			if mined == 0 {
				b, err := s.BTC.Block(hs[0])
				if err != nil {
					return res, err
				}
				if !slices.ContainsFunc(b.Transactions, func(tx *wire.MsgTx) bool { return tx.TxHash() == dep.TxHash() }) {
					return res, fmt.Errorf("deposit to mint: the deposit is not in the next block")
				}
				_, res.DepositHeight = s.BTC.Tip()
			}
			mined++
		case h, ok := <-heads:
			if !ok {
				return res, fmt.Errorf("deposit to mint: the L2 stopped: %w", s.Stopped())
			}
			if mined == 0 {
				continue
			}
			if done, err := minted(h); done || err != nil {
				return res, err
			}
		}
	}
}

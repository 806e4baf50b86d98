package bench

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/wire/v2"

	btcregtest "github.com/hemi-go/hemi/internal/btc/regtest"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/signer"
	"github.com/hemi-go/hemi/internal/tunnel"
)

// `hemi bench tunnel` (RunTunnel) measures the tunnel's payouts on the
// devnet's vault (genesis.DevTunnelConfig: a 2-of-3 committee), one vault
// input per payout, every payout signed by two dev signers, assembled,
// checked by btcd's script engine and accepted by the embedded regtest
// node's mempool (so every size printed is of a transaction Bitcoin
// takes):
//
//   - lone_vb: the virtual size of a payout of one withdrawal (P2WPKH);
//   - per_withdrawal_vb_at_10 / _at_25: a payout of 10 (25) withdrawals'
//     vsize divided by 10 (25): the input, change and OP_RETURN are shared;
//   - batch_ratio: per_withdrawal_vb_at_25 / lone_vb (issue 11's target
//     <= 0.33): the lone payout is the peer measured in the same run;
//   - sign_verify_ms: what one signer does for a payout of 25 withdrawals:
//     derive it from the batch (fee rule, BuildPayout), check every output
//     against its claims (signer.CheckPayout), sign, verify the other
//     signer's posted set and assemble (with the script-engine check);
//     the median of Runs.
//
//   - deposit_to_mint_btc_blocks / deposit_to_mint_s: one deposit on the
//     devnet stack (tunnel_deposit.go) from its broadcast to the first L2
//     block holding its mint, in Bitcoin blocks (the deposit's block
//     counts 1; issue 11's bound: the confirmations plus the view lag,
//     at most one L2 block after, <= 9 at the defaults) and in seconds at
//     the run's Bitcoin block interval (DepositBlockInterval; at
//     Bitcoin's 600 s the blocks figure times ten minutes).
//
// The last line is, exactly:
//
//	tunnel deposit_to_mint_btc_blocks=<n> deposit_to_mint_s=<s> lone_vb=<n> per_withdrawal_vb_at_10=<n> per_withdrawal_vb_at_25=<n> batch_ratio=<r> sign_verify_ms=<ms>

// Defaults of TunnelBenchConfig.
const (
	DefaultTunnelRuns   = 21
	tunnelRatioTarget   = 0.33
	tunnelWithdrawalSat = 10_000_000 // 0.1 BTC each
	tunnelFeeRate       = 2          // sat/vB
)

// TunnelBenchConfig configures RunTunnel. Zero fields take the defaults.
type TunnelBenchConfig struct {
	// Runs is how many sign-and-verify runs are timed (default 21).
	Runs int
	// DepositBlockInterval is how often the deposit-to-mint run mines a
	// Bitcoin block (default DefaultDepositBlockInterval).
	DepositBlockInterval time.Duration
}

// TunnelResult is what RunTunnel measured.
type TunnelResult struct {
	LoneVB, PerWithdrawalVB10, PerWithdrawalVB25 float64
	BatchRatio                                   float64
	SignVerifyMS                                 float64
	Deposit                                      DepositToMint
}

// tunnelBench is the run's vault, signers and Bitcoin node.
type tunnelBench struct {
	vault   *tunnel.Vault
	signers []*btcec.PrivateKey // committee (signer index) order
	node    *btcregtest.Node
	coins   []tunnel.BatchInput
}

// RunTunnel runs the tunnel benchmark and prints its report to out.
func RunTunnel(ctx context.Context, cfg TunnelBenchConfig, out io.Writer) (TunnelResult, error) {
	if cfg.Runs <= 0 {
		cfg.Runs = DefaultTunnelRuns
	}
	b, err := newTunnelBench()
	if err != nil {
		return TunnelResult{}, err
	}
	defer b.node.Close()
	fmt.Fprintf(out, "machine: %d CPUs, load average %s\n", runtime.NumCPU(), loadAvg())
	fmt.Fprintf(out, "workload: the devnet's 2-of-3 vault %s; payouts of 1, 10 and 25 P2WPKH withdrawals of %d sat, one vault input each, %d sat/vB, signed by 2 dev signers, accepted by the embedded regtest node\n",
		b.vault.Address(), tunnelWithdrawalSat, tunnelFeeRate)

	var res TunnelResult
	sizes := map[int]float64{}
	for i, n := range []int{1, 10, 25} {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		vs, fee, err := b.payout(i, n)
		if err != nil {
			return res, fmt.Errorf("payout of %d: %w", n, err)
		}
		sizes[n] = vs
		fmt.Fprintf(out, "payout of %2d withdrawals: %4.0f vB, fee %d sat, %.1f vB per withdrawal (mempool accepted)\n", n, vs, fee, vs/float64(n))
	}
	res.LoneVB = sizes[1]
	res.PerWithdrawalVB10 = sizes[10] / 10
	res.PerWithdrawalVB25 = sizes[25] / 25
	res.BatchRatio = res.PerWithdrawalVB25 / res.LoneVB

	ms, err := b.signVerify(cfg.Runs)
	if err != nil {
		return res, err
	}
	res.SignVerifyMS = ms
	fmt.Fprintf(out, "sign and verify (derive, check 25 outputs, sign, verify 1 posted set, assemble): median %.3f ms of %d runs\n", ms, cfg.Runs)
	fmt.Fprintf(out, "target: batch_ratio <= %.2f (%s)\n", tunnelRatioTarget, map[bool]string{true: "met", false: "MISSED"}[res.BatchRatio <= tunnelRatioTarget])
	d, err := depositToMint(ctx, cfg.DepositBlockInterval, out)
	if err != nil {
		return res, err
	}
	res.Deposit = d
	bound := int(d.Confirmations + d.ViewLag + 1)
	fmt.Fprintf(out, "target: deposit_to_mint_btc_blocks <= %d (confirmations %d + view lag %d + 1) (%s); at Bitcoin's 600 s blocks that is about %d min (Hemi's tunnel: about an hour, up to 3 hours for its operator)\n",
		bound, d.Confirmations, d.ViewLag, map[bool]string{true: "met", false: "MISSED"}[d.BTCBlocks <= bound], d.BTCBlocks*10)
	fmt.Fprintf(out, "tunnel deposit_to_mint_btc_blocks=%d deposit_to_mint_s=%.1f lone_vb=%.0f per_withdrawal_vb_at_10=%.1f per_withdrawal_vb_at_25=%.1f batch_ratio=%.3f sign_verify_ms=%.3f\n",
		d.BTCBlocks, d.Seconds, res.LoneVB, res.PerWithdrawalVB10, res.PerWithdrawalVB25, res.BatchRatio, res.SignVerifyMS)
	return res, nil
}

func newTunnelBench() (*tunnelBench, error) {
	tc, err := genesis.DevTunnelConfig()
	if err != nil {
		return nil, err
	}
	v, err := tunnel.NewVault(tc, &chaincfg.RegressionNetParams)
	if err != nil {
		return nil, err
	}
	devSigners, _, err := genesis.DevTunnelKeys()
	if err != nil {
		return nil, err
	}
	keys, _, err := tunnel.CommitteeKeys(v)
	if err != nil {
		return nil, err
	}
	b := &tunnelBench{vault: v}
	for _, k := range keys {
		for _, d := range devSigners {
			if d.XOnly == k {
				b.signers = append(b.signers, d.Key)
			}
		}
	}
	if len(b.signers) != len(keys) {
		return nil, fmt.Errorf("bench: dev signer keys do not match the dev vault")
	}
	node, err := btcregtest.New(btcregtest.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	b.node = node
	// Three vault coinbases, matured.
	if _, err := node.MineToScript(3, v.PkScript()); err != nil {
		node.Close()
		return nil, err
	}
	if _, err := node.MineToScript(100, benchScript(1_000_000)); err != nil {
		node.Close()
		return nil, err
	}
	for h := int32(1); h <= 3; h++ {
		hash, _ := node.HashAt(h)
		blk, err := node.Block(hash)
		if err != nil {
			node.Close()
			return nil, err
		}
		cb := blk.Transactions[0]
		b.coins = append(b.coins, tunnel.BatchInput{OutPoint: wire.OutPoint{Hash: cb.TxHash(), Index: 0}, Amount: uint64(cb.TxOut[0].Value), Height: uint32(h)})
	}
	return b, nil
}

// benchScript is a deterministic P2WPKH script.
func benchScript(i int) []byte {
	h := sha256.Sum256([]byte(fmt.Sprint("tunnel-bench-", i)))
	return append([]byte{0x00, 0x14}, h[:20]...)
}

// batch is a batch of n withdrawals spending coin.
func (b *tunnelBench) batch(number uint64, coin tunnel.BatchInput, n int) (*tunnel.Batch, map[uint64]signer.Claim, error) {
	bt := &tunnel.Batch{Number: number, FeeRate: tunnelFeeRate, Open: true, Inputs: []tunnel.BatchInput{coin}}
	claims := map[uint64]signer.Claim{}
	for i := 0; i < n; i++ {
		id := number*100 + uint64(i)
		o := tunnel.BatchOutput{ID: id, Script: benchScript(int(id)), Amount: tunnelWithdrawalSat, MaxFee: 100_000}
		bt.Outputs = append(bt.Outputs, o)
		claims[id] = signer.Claim{ID: id, Script: o.Script, Amount: o.Amount, MaxFee: o.MaxFee, L2Block: 1, Batch: number}
	}
	fees, err := tunnel.NewFees(b.vault)
	if err != nil {
		return nil, nil, err
	}
	plan, err := tunnel.PlanPayout(bt.FeeRate, bt.Inputs, bt.Outputs, fees.VaultScript, fees.WitSize)
	if err != nil {
		return nil, nil, err
	}
	bt.Change, bt.Fee = plan.Change, plan.Fee
	return bt, claims, nil
}

// payout builds, signs (signers 0 and 1), assembles and submits a payout
// of n withdrawals from coin i, returning its vsize and fee.
func (b *tunnelBench) payout(i, n int) (float64, int64, error) {
	bt, _, err := b.batch(uint64(i+1), b.coins[i], n)
	if err != nil {
		return 0, 0, err
	}
	tx, err := tunnel.BuildPayout(bt, b.vault)
	if err != nil {
		return 0, 0, err
	}
	prev := tunnel.PayoutPrevouts(bt, b.vault)
	sets := map[[32]byte][][]byte{}
	for _, k := range b.signers[:2] {
		s, err := tunnel.SignPayout(tx, prev, b.vault, k)
		if err != nil {
			return 0, 0, err
		}
		sets[tunnel.XOnly(k.PubKey())] = s
	}
	signed, _, err := tunnel.Assemble(tx, prev, b.vault, sets)
	if err != nil {
		return 0, 0, err
	}
	if err := b.node.AcceptTx(signed); err != nil {
		return 0, 0, err
	}
	weight := signed.SerializeSizeStripped()*3 + signed.SerializeSize()
	var paid int64
	for _, o := range signed.TxOut {
		paid += o.Value
	}
	return float64((weight + 3) / 4), int64(bt.Inputs[0].Amount) - paid, nil
}

// signVerify times one signer's work on a payout of 25 withdrawals.
func (b *tunnelBench) signVerify(runs int) (float64, error) {
	bt, claims, err := b.batch(99, b.coins[2], 25)
	if err != nil {
		return 0, err
	}
	// The other signer's posted set, made once (not timed).
	tx0, err := tunnel.BuildPayout(bt, b.vault)
	if err != nil {
		return 0, err
	}
	prev := tunnel.PayoutPrevouts(bt, b.vault)
	otherKey := tunnel.XOnly(b.signers[1].PubKey())
	other, err := tunnel.SignPayout(tx0, prev, b.vault, b.signers[1])
	if err != nil {
		return 0, err
	}
	times := make([]float64, 0, runs)
	for r := 0; r < runs; r++ {
		start := time.Now()
		tx, err := tunnel.BuildPayout(bt, b.vault)
		if err != nil {
			return 0, err
		}
		if err := signer.CheckPayout(bt, tx, claims, 10); err != nil {
			return 0, err
		}
		p := tunnel.PayoutPrevouts(bt, b.vault)
		mine, err := tunnel.SignPayout(tx, p, b.vault, b.signers[0])
		if err != nil {
			return 0, err
		}
		if err := tunnel.VerifySignature(tx, p, b.vault, otherKey, other); err != nil {
			return 0, err
		}
		if _, _, err := tunnel.Assemble(tx, p, b.vault, map[[32]byte][][]byte{tunnel.XOnly(b.signers[0].PubKey()): mine, otherKey: other}); err != nil {
			return 0, err
		}
		times = append(times, float64(time.Since(start).Microseconds())/1000)
	}
	slices.Sort(times)
	return times[len(times)/2], nil
}

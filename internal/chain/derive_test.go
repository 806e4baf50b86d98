package chain

import (
	"log/slog"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/ethereum/go-ethereum/common"

	"github.com/hemi-go/hemi/internal/btc/indextest"
	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/chain/derive"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/clock"
	"github.com/hemi-go/hemi/internal/node/indexadapt"
)

// depositDeriver stands in for a deriver installed by the assembly (the
// tunnel's, later): one mint per block, derived from the block's view.
type depositDeriver struct{ to common.Address }

func (d depositDeriver) Derive(dv *Derivation) ([]*block.SystemTx, error) {
	to := d.to
	return []*block.SystemTx{{SourceHash: block.SourceHash(block.DomainTunnelDeposit, chainhash.Hash(dv.View.Hash), dv.Number),
		From: genesis.SystemAddress, To: &to, Mint: big.NewInt(7), Value: big.NewInt(7), Gas: genesis.RewardGas}}, nil
}

// TestDeriversSeam: the chain derives a block's system transactions by
// running Config.Derivers in order, so a deriver the assembly installs
// puts its transactions after the view update in building and is
// required in verification (a chain without it rejects the block, one
// with it accepts it). New refuses a list without the view update first.
func TestDeriversSeam(t *testing.T) {
	f := newBTCFixture(t, 6)
	ix := indextest.Open(t, regtest, t.TempDir())
	defer ix.Close()
	indextest.Feed(t, ix, f.Blocks)
	spec := testGenesis(t, viewAt(t, indexadapt.NewChain(ix), f.Blocks[1]))
	to := common.Address{0xde, 0x90}
	open := func(derivers []Deriver) (*Chain, error) {
		cfg, err := ConfigFromSpec(spec)
		if err != nil {
			t.Fatal(err)
		}
		if derivers == nil {
			derivers = derive.Default(&spec.Config.PoP, spec.Config.KeystoneInterval)
		}
		cfg.Derivers = derivers
		cfg.NoSync, cfg.Bitcoin = true, indexadapt.NewChain(ix)
		cfg.Clock = clock.Fixed{T: time.Unix(int64(spec.Timestamp)+1_000_000, 0)}
		cfg.Logger = slog.New(slog.DiscardHandler)
		c, err := New(cfg)
		if err == nil {
			t.Cleanup(func() { c.Close() })
		}
		return c, err
	}
	withDeposit := []Deriver{derive.ViewUpdate{}, depositDeriver{to}, &derive.PoPRewards{PoP: spec.Config.PoP, Interval: spec.Config.KeystoneInterval}}
	seq, err := open(withDeposit)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, btc: indexadapt.NewChain(ix), ix: ix, chain: seq, cfg: seq.cfg, spec: spec}
	b := h.mine(viewAt(t, h.btc, f.Blocks[2]))
	if n := len(b.Body.SystemTxs); n != 2 || b.Body.SystemTxs[0].To == nil || *b.Body.SystemTxs[1].To != to {
		t.Fatalf("%d system txs, want the view update then the installed deriver's mint", n)
	}
	st, err := seq.StateAt(b.Header.Root)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.GetBalance(to).Uint64(); got != 7 {
		t.Fatalf("the installed deriver's mint: balance %d, want 7", got)
	}
	plain, err := open(nil)
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, plain.InsertBlock(b), ErrBadSystemTxs)
	same, err := open(withDeposit)
	if err != nil {
		t.Fatal(err)
	}
	if err := same.InsertBlock(b); err != nil {
		t.Fatalf("a chain with the same derivers: %v", err)
	}
	for name, list := range map[string][]Deriver{"empty": {}, "view update not first": {depositDeriver{to}, derive.ViewUpdate{}}} {
		if _, err := open(list); err == nil || !strings.Contains(err.Error(), "Derivers") {
			t.Errorf("%s: New: %v, want a Derivers error", name, err)
		}
	}
}

package node

import (
	"bytes"
	"errors"
	"log/slog"
	"math/big"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hemi-go/hemi/internal/chain"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/tunnel"
)

// TestVaultWatchFlags: a flag event of the tunnel predeploy counts and is
// logged at Error (a shortfall's end at Info); the same events from
// another contract are ignored.
func TestVaultWatchFlags(t *testing.T) {
	wd, v, spec := devnetDeriver(t)
	var logs bytes.Buffer
	reg := prometheus.NewRegistry()
	w := newVaultWatch(nil, nil, wd, v, slog.New(slog.NewTextHandler(&logs, nil)), reg)
	ev := tunnel.WithdrawalsABI.Events
	spend, err := ev["VaultSpendFlagged"].Inputs.NonIndexed().Pack([32]byte{1}, uint32(2), uint64(5000), uint64(0))
	if err != nil {
		t.Fatal(err)
	}
	short, err := ev["ShortfallFlagged"].Inputs.Pack(uint64(100), uint64(250))
	if err != nil {
		t.Fatal(err)
	}
	over, _ := ev["ShortfallFlagged"].Inputs.Pack(uint64(300), uint64(250))
	h := &types.Header{Number: big.NewInt(9)}
	tun := spec.Config.Tunnel.TunnelAddress
	w.flag(h, &types.Log{Address: tun, Topics: []common.Hash{ev["VaultSpendFlagged"].ID, {0xaa}}, Data: spend})
	w.flag(h, &types.Log{Address: tun, Topics: []common.Hash{ev["ShortfallFlagged"].ID}, Data: short})
	w.flag(h, &types.Log{Address: tun, Topics: []common.Hash{ev["ShortfallFlagged"].ID}, Data: over})
	w.flag(h, &types.Log{Address: common.Address{0xee}, Topics: []common.Hash{ev["VaultSpendFlagged"].ID, {0xaa}}, Data: spend})
	if got := testutil.ToFloat64(w.spendFlags); got != 1 {
		t.Fatalf("spend flags %v", got)
	}
	if got := testutil.ToFloat64(w.shortfallFlags); got != 2 {
		t.Fatalf("shortfall flags %v", got)
	}
	out := logs.String()
	if strings.Count(out, "level=ERROR") != 2 || !strings.Contains(out, "shortfall_sat=150") || !strings.Contains(out, "vault shortfall over") {
		t.Fatalf("logs:\n%s", out)
	}
}

// recentOnlyChain serves one block's receipts from memory (Recent) and
// counts the reads that would go to the database.
type recentOnlyChain struct {
	vaultChain
	hash     common.Hash
	receipts types.Receipts
	dbReads  int
}

func (c *recentOnlyChain) Recent(h common.Hash) (*chain.Block, types.Receipts, bool) {
	return nil, c.receipts, h == c.hash
}

func (c *recentOnlyChain) Receipts(common.Hash) (types.Receipts, error) {
	c.dbReads++
	return nil, errors.New("not in the database")
}

func (c *recentOnlyChain) StateAt(common.Hash) (*state.StateDB, error) {
	return nil, errors.New("no state here")
}

// TestVaultWatchReadsRecent: the watch takes a new block's receipts from
// the chain's newest blocks in memory (they were read back from the
// database, body and receipts decoded, after every insertion), and
// still reads an older block's from the database.
func TestVaultWatchReadsRecent(t *testing.T) {
	wd, v, spec := devnetDeriver(t)
	ev := tunnel.WithdrawalsABI.Events
	spend, err := ev["VaultSpendFlagged"].Inputs.NonIndexed().Pack([32]byte{1}, uint32(2), uint64(5000), uint64(0))
	if err != nil {
		t.Fatal(err)
	}
	h := &types.Header{Number: big.NewInt(9)}
	c := &recentOnlyChain{hash: h.Hash(), receipts: types.Receipts{{Logs: []*types.Log{
		{Address: spec.Config.Tunnel.TunnelAddress, Topics: []common.Hash{ev["VaultSpendFlagged"].ID, {0xaa}}, Data: spend}}}}}
	w := newVaultWatch(c, nil, wd, v, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	w.block(h)
	if got := testutil.ToFloat64(w.spendFlags); got != 1 || c.dbReads != 0 {
		t.Fatalf("recent block: %v spend flags, %d database reads; want 1 and 0", got, c.dbReads)
	}
	w.block(&types.Header{Number: big.NewInt(8)})
	if c.dbReads != 1 {
		t.Fatalf("older block: %d database reads, want 1", c.dbReads)
	}
}

// devnetDeriver is the withdrawal deriver and vault of a devnet genesis
// with the development tunnel, and that genesis.
func devnetDeriver(t *testing.T) (*tunnel.Withdrawals, *tunnel.Vault, *genesis.Spec) {
	t.Helper()
	tc, err := genesis.DevTunnelConfig()
	if err != nil {
		t.Fatal(err)
	}
	spec := &genesis.Spec{Config: genesis.DevnetConfig(common.Address{1})}
	spec.Config.Tunnel = tc
	wd, v, err := withdrawalDeriver(spec)
	if err != nil || wd == nil {
		t.Fatalf("deriver: %v", err)
	}
	return wd, v, spec
}

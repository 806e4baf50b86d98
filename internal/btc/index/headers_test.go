package index

import (
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// retargetParams is regtest with difficulty retargeting every 10 blocks.
func retargetParams() *chaincfg.Params {
	p := chaincfg.RegressionNetParams
	p.Name = "regtest-retarget"
	p.PoWNoRetargeting = false
	p.ReduceMinDifficulty = false
	p.TargetTimePerBlock = 10 * time.Minute
	p.TargetTimespan = 100 * time.Minute // 10 blocks
	return &p
}

func ruleErr(err error, code blockchain.ErrorCode) bool {
	var re blockchain.RuleError
	return errors.As(err, &re) && re.ErrorCode == code
}

func TestHeaderChecks(t *testing.T) {
	now := time.Unix(1_900_000_000, 0)
	type setup struct {
		params *chaincfg.Params
		g      *gen
		base   []*wire.MsgBlock // accepted before the case's headers
	}
	build := func(t *testing.T, params *chaincfg.Params, n int) setup {
		g := newGen(params)
		return setup{params: params, g: g, base: g.chain(t, *params.GenesisHash, n, script(1))}
	}
	tip := func(s setup) *wire.MsgBlock { return s.base[len(s.base)-1] }

	tests := []struct {
		name    string
		params  func() *chaincfg.Params
		base    int
		headers func(t *testing.T, s setup) []wire.BlockHeader
		wantErr error
		code    blockchain.ErrorCode
		added   int
	}{
		{
			name: "valid extension",
			base: 3,
			headers: func(t *testing.T, s setup) []wire.BlockHeader {
				return headers(s.g.chain(t, tip(s).BlockHash(), 2, script(2)))
			},
			added: 2,
		},
		{
			name: "known headers only",
			base: 3,
			headers: func(t *testing.T, s setup) []wire.BlockHeader {
				return headers(s.base)
			},
		},
		{
			name: "bad proof of work",
			base: 3,
			headers: func(t *testing.T, s setup) []wire.BlockHeader {
				b := s.g.block(t, tip(s).BlockHash(), script(2))
				unsolve(&b.Header)
				return []wire.BlockHeader{b.Header}
			},
			wantErr: ErrInvalid,
			code:    blockchain.ErrHighHash,
		},
		{
			name: "target above the PoW limit",
			base: 3,
			headers: func(t *testing.T, s setup) []wire.BlockHeader {
				b := s.g.blockAt(t, tip(s).BlockHash(), time.Time{}, 0x2100ffff, script(2))
				return []wire.BlockHeader{b.Header}
			},
			wantErr: ErrInvalid,
			code:    blockchain.ErrUnexpectedDifficulty,
		},
		{
			name: "wrong bits without retarget",
			base: 3,
			headers: func(t *testing.T, s setup) []wire.BlockHeader {
				b := s.g.blockAt(t, tip(s).BlockHash(), time.Time{}, 0x1f7fffff, script(2))
				return []wire.BlockHeader{b.Header}
			},
			wantErr: ErrInvalid,
			code:    blockchain.ErrUnexpectedDifficulty,
		},
		{
			name:   "retarget: old bits at the retarget height",
			params: retargetParams,
			base:   9,
			headers: func(t *testing.T, s setup) []wire.BlockHeader {
				b := s.g.block(t, tip(s).BlockHash(), script(2))
				return []wire.BlockHeader{b.Header}
			},
			wantErr: ErrInvalid,
			code:    blockchain.ErrUnexpectedDifficulty,
		},
		{
			name:   "retarget: recomputed bits accepted",
			params: retargetParams,
			base:   9,
			headers: func(t *testing.T, s setup) []wire.BlockHeader {
				// Blocks came exactly on schedule (600s), except that
				// the window spans 9 intervals: target * 5400 / 6000.
				old := blockchain.CompactToBig(s.params.PowLimitBits)
				nt := new(big.Int).Mul(old, big.NewInt(9*600))
				nt.Div(nt, big.NewInt(6000))
				bits := blockchain.BigToCompact(nt)
				b := s.g.blockAt(t, tip(s).BlockHash(), time.Time{}, bits, script(2))
				return []wire.BlockHeader{b.Header}
			},
			added: 1,
		},
		{
			name: "timestamp not after median time past",
			base: 11,
			headers: func(t *testing.T, s setup) []wire.BlockHeader {
				mtp := s.base[len(s.base)-6].Header.Timestamp
				b := s.g.blockAt(t, tip(s).BlockHash(), mtp, s.params.PowLimitBits, script(2))
				return []wire.BlockHeader{b.Header}
			},
			wantErr: ErrInvalid,
			code:    blockchain.ErrTimeTooOld,
		},
		{
			name: "timestamp too far in the future",
			base: 3,
			headers: func(t *testing.T, s setup) []wire.BlockHeader {
				b := s.g.blockAt(t, tip(s).BlockHash(), now.Add(3*time.Hour), s.params.PowLimitBits, script(2))
				return []wire.BlockHeader{b.Header}
			},
			wantErr: ErrInvalid,
			code:    blockchain.ErrTimeTooNew,
		},
		{
			name: "checkpoint mismatch",
			params: func() *chaincfg.Params {
				p := chaincfg.RegressionNetParams
				p.Checkpoints = []chaincfg.Checkpoint{{Height: 4, Hash: &chainhash.Hash{0x42}}}
				return &p
			},
			base: 3,
			headers: func(t *testing.T, s setup) []wire.BlockHeader {
				return headers(s.g.chain(t, tip(s).BlockHash(), 1, script(2)))
			},
			wantErr: ErrInvalid,
			code:    blockchain.ErrBadCheckpoint,
		},
		{
			name: "unconnected first header",
			base: 3,
			headers: func(t *testing.T, s setup) []wire.BlockHeader {
				orphanGen := newGen(s.params)
				bs := orphanGen.chain(t, *s.params.GenesisHash, 6, script(9))
				return headers(bs[4:])
			},
			wantErr: ErrUnconnected,
		},
		{
			name: "non-contiguous headers",
			base: 3,
			headers: func(t *testing.T, s setup) []wire.BlockHeader {
				a := s.g.block(t, tip(s).BlockHash(), script(2))
				b := s.g.block(t, tip(s).BlockHash(), script(3))
				return []wire.BlockHeader{a.Header, b.Header}
			},
			wantErr: ErrInvalid,
		},
		{
			name: "batch with one bad header stores nothing",
			base: 3,
			headers: func(t *testing.T, s setup) []wire.BlockHeader {
				bs := s.g.chain(t, tip(s).BlockHash(), 3, script(2))
				hs := headers(bs)
				unsolve(&hs[2])
				return hs
			},
			wantErr: ErrInvalid,
			code:    blockchain.ErrHighHash,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			params := regtest
			if tc.params != nil {
				params = tc.params()
			}
			s := build(t, params, tc.base)
			ix := openTest(t, t.TempDir(), params)
			defer ix.Close()
			if _, _, err := ix.AcceptHeaders(headers(s.base)); err != nil {
				t.Fatalf("base headers: %v", err)
			}
			bestBefore, hBefore := ix.BestHeader()
			hs := tc.headers(t, s)
			added, changed, err := ix.AcceptHeaders(hs)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if added != tc.added || changed != (tc.added > 0) {
					t.Fatalf("added %d changed %v, want %d", added, changed, tc.added)
				}
				if best, h := ix.BestHeader(); tc.added > 0 && (best != hs[len(hs)-1].BlockHash() || h != hBefore+int32(tc.added)) {
					t.Fatalf("best header %s@%d", best, h)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("error %v, want %v", err, tc.wantErr)
			}
			if tc.code != 0 && !ruleErr(err, tc.code) {
				t.Fatalf("error %v, want rule %v", err, tc.code)
			}
			if added != 0 || changed {
				t.Fatalf("added %d changed %v on error", added, changed)
			}
			if best, h := ix.BestHeader(); best != bestBefore || h != hBefore {
				t.Fatalf("best header moved to %s@%d on error", best, h)
			}
			for _, h := range hs {
				if info, err := ix.Header(h.BlockHash()); err == nil && info.Height > hBefore {
					t.Fatalf("header %s stored despite error", h.BlockHash())
				}
			}
		})
	}
}

// TestForkBeforeCheckpoint: headers forking below the newest checkpoint on
// the best chain are refused.
func TestForkBeforeCheckpoint(t *testing.T) {
	g := newGen(regtest)
	bs := g.chain(t, *regtest.GenesisHash, 5, script(1))
	p := chaincfg.RegressionNetParams
	cp := bs[3].BlockHash()
	p.Checkpoints = []chaincfg.Checkpoint{{Height: 4, Hash: &cp}}
	g.params = &p
	ix := openTest(t, t.TempDir(), &p)
	defer ix.Close()
	if _, _, err := ix.AcceptHeaders(headers(bs)); err != nil {
		t.Fatal(err)
	}
	fork := g.block(t, bs[1].BlockHash(), script(2)) // height 3 < 4
	_, _, err := ix.AcceptHeaders([]wire.BlockHeader{fork.Header})
	if !errors.Is(err, ErrInvalid) || !ruleErr(err, blockchain.ErrForkTooOld) {
		t.Fatalf("fork below checkpoint: %v", err)
	}
	fork = g.block(t, bs[3].BlockHash(), script(2)) // height 5, above: fine
	if _, _, err := ix.AcceptHeaders([]wire.BlockHeader{fork.Header}); err != nil {
		t.Fatalf("fork above checkpoint: %v", err)
	}
}

func TestLocatorAndNeedBlocks(t *testing.T) {
	g := newGen(regtest)
	bs := g.chain(t, *regtest.GenesisHash, 40, script(1))
	ix := openTest(t, t.TempDir(), regtest)
	defer ix.Close()
	if _, _, err := ix.AcceptHeaders(headers(bs)); err != nil {
		t.Fatal(err)
	}
	loc := ix.Locator()
	if loc[0] != bs[39].BlockHash() || loc[len(loc)-1] != *regtest.GenesisHash {
		t.Fatalf("locator ends %s..%s", loc[0], loc[len(loc)-1])
	}
	for i := 1; i < 10; i++ {
		if loc[i] != bs[39-i].BlockHash() {
			t.Fatalf("locator[%d] not dense", i)
		}
	}
	if len(loc) > 20 {
		t.Fatalf("locator has %d entries", len(loc))
	}
	need := ix.NeedBlocks(5)
	for i, h := range need {
		if h != bs[i].BlockHash() {
			t.Fatalf("need[%d] = %s", i, h)
		}
	}
	// Blocks 1 and 3 stored: 1 connects, 3 waits; 2 is needed first.
	for _, i := range []int{0, 2} {
		if err := ix.AcceptBlock(bs[i]); err != nil {
			t.Fatal(err)
		}
	}
	mustTip(t, ix, bs[0].BlockHash(), 1)
	need = ix.NeedBlocks(2)
	if len(need) != 2 || need[0] != bs[1].BlockHash() || need[1] != bs[3].BlockHash() {
		t.Fatalf("need after stores: %v", need)
	}
	if n := ix.NeedBlocks(0); n != nil {
		t.Fatalf("NeedBlocks(0) = %v", n)
	}
}

// TestNodeWork: a node's chain work is the sum of its headers' work
// whether its target repeats its parent's (the work taken from the
// parent) or not, and stays saturated once it saturated.
func TestNodeWork(t *testing.T) {
	seq := []uint32{0x207fffff, 0x207fffff, 0x1d00ffff, 0x1d00ffff, 0x1d00ffff, 0x1b0404cb, 0x207fffff, 0x1b0404cb, 0x1b0404cb}
	var parent *node
	want := new(big.Int)
	for i, b := range seq {
		n := newNode(&wire.BlockHeader{Bits: b}, chainhash.Hash{byte(i)}, parent, uint32(i))
		want.Add(want, blockchain.CalcWork(b))
		if n.work.big().Cmp(want) != 0 {
			t.Fatalf("header %d (bits %08x): work %s, want %s", i, b, n.work.big(), want)
		}
		parent = n
	}
	sat := &node{work: maxWork, parent: parent, bits: 0x207fffff}
	if n := newNode(&wire.BlockHeader{Bits: 0x207fffff}, chainhash.Hash{0xff}, sat, 99); n.work != maxWork {
		t.Fatalf("the child of a saturated node has work %s", n.work.big())
	}
}

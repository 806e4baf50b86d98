package derive

import (
	"errors"
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"

	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/chain/rules"
	"github.com/hemi-go/hemi/internal/hvm"
	"github.com/hemi-go/hemi/internal/pop"
)

// rewardCfg is the devnet schedule with a 1,000-wei reward, so the
// expected amounts read as percentages times ten.
func rewardCfg() genesis.PoPConfig {
	p := genesis.DefaultPoPConfig(genesis.DevnetSuperfinalDepth)
	p.Reward = big.NewInt(1000)
	return p
}

// publishers are distinct Ethereum addresses.
func publisher(i int) *common.Address {
	a := common.BytesToAddress([]byte{0xa0, byte(i)})
	return &a
}

// pub is a publication at height, tx index and vout with a txid made
// from its position.
func pub(height int32, idx, vout uint32, who *common.Address) pop.Publication {
	txid := chainhash.Hash{byte(height), byte(idx), byte(vout), 0x77}
	return pop.Publication{Height: height, BlockHash: chainhash.Hash{byte(height)}, TxIndex: idx, Txid: txid, Vout: vout, Publisher: who}
}

// paid is one expected reward: publication, amount.
type paid struct {
	p      pop.Publication
	amount int64
}

func rewardTx(p pop.Publication, amount int64) *block.SystemTx {
	to := *p.Publisher
	return &block.SystemTx{
		SourceHash: block.SourceHash(block.DomainPoPReward, p.Txid, uint64(p.Vout)),
		From:       genesis.SystemAddress, To: &to, Mint: big.NewInt(amount), Value: big.NewInt(amount),
		Gas: genesis.RewardGas,
	}
}

func TestDeriveSystemTxsRewards(t *testing.T) {
	const interval, delay = 25, genesis.DefaultRewardDelay
	view := hvm.Header{Height: 7, Hash: chainhash.Hash{7}, Header: wire.BlockHeader{Timestamp: time.Unix(1_700_000_000, 0)}}
	payer := uint64(25 + delay) // pays keystone 25
	a, b, c := publisher(1), publisher(2), publisher(3)
	many := func(n int) (in []pop.Publication, want []paid) {
		for i := range n {
			p := pub(100, uint32(i+1), 0, publisher(10+i))
			in = append(in, p)
			if i < genesis.DefaultMaxRewarded {
				want = append(want, paid{p, 1000})
			}
		}
		return in, want
	}
	manyIn, manyWant := many(12)
	tests := []struct {
		name   string
		mut    func(*genesis.PoPConfig)
		number uint64
		pubs   []pop.Publication
		want   []paid
	}{
		{name: "no publications", number: payer},
		{name: "one", number: payer, pubs: []pop.Publication{pub(100, 1, 0, a)},
			want: []paid{{pub(100, 1, 0, a), 1000}}},
		{name: "many, given out of order, paid in Bitcoin order by delay",
			number: payer,
			pubs:   []pop.Publication{pub(103, 1, 0, c), pub(100, 4, 1, a), pub(102, 9, 0, b)},
			want:   []paid{{pub(100, 4, 1, a), 1000}, {pub(102, 9, 0, b), 800}, {pub(103, 1, 0, c), 600}}},
		{name: "same block: by tx index then vout",
			number: payer,
			pubs:   []pop.Publication{pub(100, 3, 0, a), pub(100, 1, 2, b), pub(100, 1, 1, c)},
			want:   []paid{{pub(100, 1, 1, c), 1000}, {pub(100, 1, 2, b), 1000}, {pub(100, 3, 0, a), 1000}}},
		{name: "last entry of the table and beyond it",
			number: payer,
			pubs:   []pop.Publication{pub(100, 1, 0, a), pub(105, 1, 0, b), pub(106, 1, 0, c)},
			want:   []paid{{pub(100, 1, 0, a), 1000}, {pub(105, 1, 0, b), 200}}},
		{name: "duplicates by one publisher: its earliest only",
			number: payer,
			pubs:   []pop.Publication{pub(101, 1, 0, a), pub(100, 2, 0, a), pub(100, 5, 0, b), pub(100, 2, 1, a)},
			want:   []paid{{pub(100, 2, 0, a), 1000}, {pub(100, 5, 0, b), 1000}}},
		{name: "unidentifiable: earns nothing but sets the first height",
			number: payer,
			pubs:   []pop.Publication{pub(100, 1, 0, nil), pub(102, 1, 0, a)},
			want:   []paid{{pub(102, 1, 0, a), 800}}},
		{name: "max rewarded cap", number: payer, pubs: manyIn, want: manyWant},
		{name: "max rewarded 1 skips duplicates before counting",
			mut:    func(p *genesis.PoPConfig) { p.MaxRewarded = 1 },
			number: payer,
			pubs:   []pop.Publication{pub(100, 1, 0, nil), pub(100, 2, 0, a), pub(100, 3, 0, b)},
			want:   []paid{{pub(100, 2, 0, a), 1000}}},
		{name: "reward delay 0: rewards off", mut: func(p *genesis.PoPConfig) { p.RewardDelay = 0 },
			number: payer, pubs: []pop.Publication{pub(100, 1, 0, a)}},
		{name: "block that pays no keystone ignores publications",
			number: payer + 1, pubs: []pop.Publication{pub(100, 1, 0, a)}},
		{name: "keystone 0 (genesis) is never paid",
			number: delay, pubs: []pop.Publication{pub(100, 1, 0, a)}},
		{name: "second keystone", number: 50 + delay, pubs: []pop.Publication{pub(100, 1, 0, a)},
			want: []paid{{pub(100, 1, 0, a), 1000}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := rewardCfg()
			if tc.mut != nil {
				tc.mut(&p)
			}
			in := append([]pop.Publication(nil), tc.pubs...)
			got, err := DeriveSystemTxs(&p, interval, tc.number, view, tc.pubs)
			if err != nil {
				t.Fatal(err)
			}
			up, err := genesis.DeriveViewUpdate(view, tc.number)
			if err != nil {
				t.Fatal(err)
			}
			want := []*block.SystemTx{up}
			for _, w := range tc.want {
				want = append(want, rewardTx(w.p, w.amount))
			}
			if err := equalTxs(want, got); err != nil {
				t.Fatalf("%v\n got %d txs, want %d", err, len(got), len(want))
			}
			for i := range in {
				if in[i] != tc.pubs[i] {
					t.Fatal("DeriveSystemTxs modified its input")
				}
			}
		})
	}
}

func TestRewardedKeystone(t *testing.T) {
	p := rewardCfg()
	tests := []struct {
		name   string
		number uint64
		want   uint64
		ok     bool
	}{
		{"before any", 10, 0, false},
		{"genesis plus delay", 50, 0, false},
		{"first keystone", 75, 25, true},
		{"between", 76, 0, false},
		{"tenth keystone", 300, 250, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, ok := RewardedKeystone(&p, 25, tc.number)
			if k != tc.want || ok != tc.ok {
				t.Fatalf("got %d %v, want %d %v", k, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestResolvePublishers(t *testing.T) {
	a, b := publisher(1), publisher(2)
	sameTx := pub(100, 1, 0, a)
	sameTx2 := sameTx
	sameTx2.Vout = 3
	tests := []struct {
		name      string
		mut       func(*genesis.PoPConfig)
		pubs      []pop.Publication
		wantAsked int
		wantWho   []*common.Address // in Bitcoin order
	}{
		{name: "beyond the table: not asked", pubs: []pop.Publication{pub(106, 1, 0, b), pub(100, 1, 0, a)},
			wantAsked: 1, wantWho: []*common.Address{a, nil}},
		{name: "stops at max rewarded distinct publishers", mut: func(p *genesis.PoPConfig) { p.MaxRewarded = 1 },
			pubs:      []pop.Publication{pub(100, 1, 0, nil), pub(100, 2, 0, a), pub(100, 3, 0, a), pub(101, 1, 0, b)},
			wantAsked: 2, wantWho: []*common.Address{nil, a, nil, nil}},
		{name: "one question per transaction", pubs: []pop.Publication{sameTx2, sameTx},
			wantAsked: 1, wantWho: []*common.Address{a, a}},
		{name: "rewards off: nothing asked", mut: func(p *genesis.PoPConfig) { p.RewardDelay = 0 },
			pubs: []pop.Publication{pub(100, 1, 0, a)}, wantWho: []*common.Address{nil}},
		{name: "a 0% entry ends the window", mut: func(p *genesis.PoPConfig) { p.RewardTable = []uint32{100, 0} },
			pubs: []pop.Publication{pub(100, 1, 0, a), pub(101, 1, 0, b)}, wantAsked: 1, wantWho: []*common.Address{a, nil}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := rewardCfg()
			if tc.mut != nil {
				tc.mut(&p)
			}
			byTxid := map[chainhash.Hash]*common.Address{}
			for _, x := range tc.pubs {
				byTxid[x.Txid] = x.Publisher
			}
			asked := 0
			got, err := ResolvePublishers(&p, tc.pubs, func(txid chainhash.Hash) (*common.Address, error) {
				asked++
				return byTxid[txid], nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if asked != tc.wantAsked || len(got) != len(tc.wantWho) {
				t.Fatalf("asked %d, want %d; %d publications", asked, tc.wantAsked, len(got))
			}
			for i, w := range tc.wantWho {
				if (w == nil) != (got[i].Publisher == nil) || (w != nil && *w != *got[i].Publisher) {
					t.Fatalf("publication %d: publisher %v, want %v", i, got[i].Publisher, w)
				}
			}
		})
	}
	t.Run("lookup failure", func(t *testing.T) {
		p := rewardCfg()
		_, err := ResolvePublishers(&p, []pop.Publication{pub(100, 1, 0, a)}, func(chainhash.Hash) (*common.Address, error) {
			return nil, rules.ErrViewNotReady
		})
		if !errors.Is(err, rules.ErrViewNotReady) {
			t.Fatalf("error %v, want rules.ErrViewNotReady", err)
		}
	})
}

// equalTxs compares two lists of system transactions.
func equalTxs(want, got []*block.SystemTx) error {
	if len(want) != len(got) {
		return fmt.Errorf("%d system txs, want %d", len(got), len(want))
	}
	for i := range want {
		if !want[i].Equal(got[i]) {
			return fmt.Errorf("system tx %d is %s, want %s", i, got[i].Hash(), want[i].Hash())
		}
	}
	return nil
}

package chain

import (
	"math/big"
	"testing"
	"time"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/hemi-go/hemi/internal/btc/txgen"
	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/chain/genesis"
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
			if err := equalSystemTxs(want, got); err != nil {
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

// ethOf is the Ethereum address of a Bitcoin private key, computed by
// go-ethereum from the key bytes.
func ethOf(t testing.TB, priv *btcec.PrivateKey) common.Address {
	t.Helper()
	k, err := crypto.ToECDSA(priv.Serialize())
	if err != nil {
		t.Fatal(err)
	}
	return crypto.PubkeyToAddress(k.PublicKey)
}

// popSpend is a signed PoP transaction spending u: the OP_RETURN
// publishing ks, change back to u's script. It returns the fee too.
func popSpend(t testing.TB, u txgen.UTXO, ks pop.Keystone) (*wire.MsgTx, int64) {
	t.Helper()
	change, err := u.PkScript()
	if err != nil {
		t.Fatal(err)
	}
	s := txgen.Spend{Inputs: []txgen.UTXO{u}, Outputs: []*wire.TxOut{wire.NewTxOut(0, ks.Script())}, Change: change, FeeRate: 2}
	tx, fee, _, err := s.Build()
	if err != nil {
		t.Fatal(err)
	}
	if err := txgen.Sign(tx, s.Inputs); err != nil {
		t.Fatal(err)
	}
	if err := txgen.Verify(tx, s.Inputs); err != nil {
		t.Fatal(err)
	}
	return tx, fee
}

// p2pkhSpend is a PoP transaction spending a P2PKH output of priv,
// signed with a compressed or uncompressed key and checked by the script
// engine.
func p2pkhSpend(t *testing.T, priv *btcec.PrivateKey, compress bool) (*wire.MsgTx, []byte) {
	t.Helper()
	pk := priv.PubKey().SerializeUncompressed()
	if compress {
		pk = priv.PubKey().SerializeCompressed()
	}
	prev, err := txscript.NewScriptBuilder().AddOp(txscript.OP_DUP).AddOp(txscript.OP_HASH160).
		AddData(address.Hash160(pk)).AddOp(txscript.OP_EQUALVERIFY).AddOp(txscript.OP_CHECKSIG).Script()
	if err != nil {
		t.Fatal(err)
	}
	ks := pop.Keystone{Version: pop.KeystoneVersion, L2Number: 50}
	tx := wire.NewMsgTx(2)
	tx.AddTxIn(wire.NewTxIn(&wire.OutPoint{Hash: chainhash.Hash{9}, Index: 1}, nil, nil))
	tx.AddTxOut(wire.NewTxOut(0, ks.Script()))
	tx.AddTxOut(wire.NewTxOut(90_000, prev))
	const value = 100_000
	if tx.TxIn[0].SignatureScript, err = txscript.SignatureScript(tx, 0, prev, txscript.SigHashAll, priv, compress); err != nil {
		t.Fatal(err)
	}
	fetch := txscript.NewCannedPrevOutputFetcher(prev, value)
	vm, err := txscript.NewEngine(prev, tx, 0, txscript.StandardVerifyFlags, nil, txscript.NewTxSigHashes(tx, fetch), value, fetch)
	if err != nil {
		t.Fatal(err)
	}
	if err := vm.Execute(); err != nil {
		t.Fatalf("p2pkh spend does not verify: %v", err)
	}
	return tx, prev
}

func TestPublisherOf(t *testing.T) {
	w := txgen.NewWallet([]byte("publisher test"))
	k0, k1 := w.Key(0), w.Key(1)
	utxo := func(k *txgen.Key, kind txgen.Kind) txgen.UTXO {
		return txgen.UTXO{OutPoint: wire.OutPoint{Hash: chainhash.Hash{byte(kind), byte(k.Index)}}, Value: 100_000, Key: k, Kind: kind}
	}
	script := func(k *txgen.Key, kind txgen.Kind) []byte {
		s, err := k.PkScript(kind)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tap := tapPriv(k0)
	ks := pop.Keystone{Version: pop.KeystoneVersion, L2Number: 25}
	wpkh, _ := popSpend(t, utxo(k0, txgen.P2WPKH), ks)
	tr, _ := popSpend(t, utxo(k0, txgen.P2TR), ks)
	pkhC, pkhScriptC := p2pkhSpend(t, k0.Priv, true)
	pkhU, pkhScriptU := p2pkhSpend(t, k0.Priv, false)

	withAnnex := tr.Copy()
	withAnnex.TxIn[0].Witness = append(withAnnex.TxIn[0].Witness, []byte{txscript.TaprootAnnexTag, 1})
	scriptPath := tr.Copy()
	scriptPath.TxIn[0].Witness = wire.TxWitness{{1}, {txscript.OP_TRUE}, make([]byte, 33)}
	otherKey := wpkh.Copy()
	otherKey.TxIn[0].Witness[1] = k1.Pub.SerializeCompressed()
	noWitness := wpkh.Copy()
	noWitness.TxIn[0].Witness = nil
	p2sh := []byte{txscript.OP_HASH160, txscript.OP_DATA_20}
	p2sh = append(append(p2sh, make([]byte, 20)...), txscript.OP_EQUAL)

	tests := []struct {
		name string
		tx   *wire.MsgTx
		prev []byte
		want *common.Address
	}{
		{"p2wpkh", wpkh, script(k0, txgen.P2WPKH), addrPtr(ethOf(t, k0.Priv))},
		{"p2pkh compressed", pkhC, pkhScriptC, addrPtr(ethOf(t, k0.Priv))},
		{"p2pkh uncompressed: same key, same address", pkhU, pkhScriptU, addrPtr(ethOf(t, k0.Priv))},
		{"p2tr key path: the even-Y output key", tr, script(k0, txgen.P2TR), addrPtr(ethOf(t, tap))},
		{"p2tr key path with annex", withAnnex, script(k0, txgen.P2TR), addrPtr(ethOf(t, tap))},
		{"p2tr script path: not identified", scriptPath, script(k0, txgen.P2TR), nil},
		{"p2wpkh witness key of another program", otherKey, script(k0, txgen.P2WPKH), nil},
		{"p2wpkh without witness", noWitness, script(k0, txgen.P2WPKH), nil},
		{"p2wpkh prevout, p2pkh-style input", pkhC, script(k0, txgen.P2WPKH), nil},
		{"p2pkh prevout of another key", pkhC, pkhScriptU, nil},
		{"p2sh prevout", wpkh, p2sh, nil},
		{"empty prevout script", wpkh, nil, nil},
		{"no inputs", wire.NewMsgTx(2), script(k0, txgen.P2WPKH), nil},
		{"nil tx", nil, script(k0, txgen.P2WPKH), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := pop.PublisherOf(tc.tx, tc.prev)
			switch {
			case tc.want == nil && ok:
				t.Fatalf("identified %s, want none", got)
			case tc.want != nil && (!ok || got != *tc.want):
				t.Fatalf("got %s %v, want %s", got, ok, *tc.want)
			}
		})
	}
}

func addrPtr(a common.Address) *common.Address { return &a }

// tapPriv is the private key of k's BIP 86 P2TR output key: the tweaked
// key, negated if its point has odd Y (BIP 340 keys have even Y).
func tapPriv(k *txgen.Key) *btcec.PrivateKey {
	tap := txscript.TweakTaprootPrivKey(*k.Priv, nil)
	if tap.PubKey().SerializeCompressed()[0] == 0x03 {
		tap.Key.Negate()
	}
	return tap
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
			return nil, ErrViewNotReady
		})
		wantErr(t, err, ErrViewNotReady)
	})
}

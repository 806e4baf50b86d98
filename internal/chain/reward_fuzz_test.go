package chain

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/schnorr"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/hemi-go/hemi/internal/btc/txgen"
	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/pop"
)

// FuzzPublisherOf feeds arbitrary first inputs and spent scripts: no
// panic, the same answer twice, and an identified P2WPKH or P2PKH
// publisher is the address of a key whose HASH160 the script commits to.
func FuzzPublisherOf(f *testing.F) {
	k := txgen.DeriveKey([]byte("fuzz publisher"), 0)
	ks := pop.Keystone{Version: pop.KeystoneVersion}
	for _, kind := range []txgen.Kind{txgen.P2WPKH, txgen.P2TR} {
		script, _ := k.PkScript(kind)
		tx, _ := popSpend(f, txgen.UTXO{Value: 50_000, Key: k, Kind: kind}, ks)
		var w0, w1 []byte
		if wit := tx.TxIn[0].Witness; len(wit) > 0 {
			w0 = wit[0]
			if len(wit) > 1 {
				w1 = wit[1]
			}
		}
		f.Add(script, []byte(nil), w0, w1, uint8(len(tx.TxIn[0].Witness)))
	}
	f.Add([]byte{0x76, 0xa9, 0x14}, []byte{0x01, 0x02}, []byte(nil), []byte(nil), uint8(0))
	f.Fuzz(func(t *testing.T, prev, sigScript, w0, w1 []byte, n uint8) {
		tx := wire.NewMsgTx(2)
		in := wire.NewTxIn(&wire.OutPoint{Hash: chainhash.Hash{1}}, sigScript, nil)
		switch n % 4 {
		case 1:
			in.Witness = wire.TxWitness{w0}
		case 2:
			in.Witness = wire.TxWitness{w0, w1}
		case 3:
			in.Witness = wire.TxWitness{w0, w1, w0}
		}
		tx.AddTxIn(in)
		a, ok := pop.PublisherOf(tx, prev)
		b, ok2 := pop.PublisherOf(tx, prev)
		if a != b || ok != ok2 {
			t.Fatal("not deterministic")
		}
		if !ok {
			return
		}
		var key, hash []byte
		switch {
		case txscript.IsPayToWitnessPubKeyHash(prev):
			key, hash = w1, prev[2:22]
		case txscript.IsPayToPubKeyHash(prev):
			pushes, err := txscript.PushedData(sigScript)
			if err != nil || len(pushes) != 2 {
				t.Fatalf("p2pkh publisher %s from scriptSig %x", a, sigScript)
			}
			key, hash = pushes[1], prev[3:23]
		case txscript.IsPayToTaproot(prev):
			pub, err := schnorr.ParsePubKey(prev[2:34])
			if err != nil || crypto.PubkeyToAddress(*pub.ToECDSA()) != a {
				t.Fatalf("p2tr publisher %s is not the output key", a)
			}
			return
		default:
			t.Fatalf("identified %s from an unrecognised script %x", a, prev)
		}
		pub, err := btcec.ParsePubKey(key)
		if err != nil || !bytes.Equal(address.Hash160(key), hash) || crypto.PubkeyToAddress(*pub.ToECDSA()) != a {
			t.Fatalf("publisher %s does not match the key the script commits to", a)
		}
	})
}

// FuzzDeriveRewards derives rewards for arbitrary publications and
// checks the schedule's bounds: at most MaxRewarded, one per publisher,
// amounts non-increasing and within Reward, every one from a publication
// of the input, the same list whatever the input order.
func FuzzDeriveRewards(f *testing.F) {
	f.Add([]byte{0, 1, 0, 1, 2, 2, 0, 3, 5, 1, 1, 0}, uint8(3))
	f.Add(bytes.Repeat([]byte{7, 3, 9}, 30), uint8(10))
	f.Fuzz(func(t *testing.T, raw []byte, maxRewarded uint8) {
		p := rewardCfg()
		p.MaxRewarded = int(maxRewarded%16) + 1
		var pubs []pop.Publication
		for i := 0; i+3 <= len(raw) && len(pubs) < 64; i += 3 {
			var who *common.Address
			if raw[i+2]%8 != 0 {
				who = publisher(int(raw[i+2] % 8))
			}
			var txid chainhash.Hash
			binary.BigEndian.PutUint32(txid[:], uint32(i))
			pubs = append(pubs, pop.Publication{Height: int32(raw[i] % 12), TxIndex: uint32(raw[i+1] % 4), Txid: txid,
				Vout: uint32(i), Publisher: who})
		}
		got := DeriveRewards(&p, pubs)
		rev := make([]pop.Publication, len(pubs))
		for i := range pubs {
			rev[len(pubs)-1-i] = pubs[i]
		}
		if err := equalSystemTxs(got, DeriveRewards(&p, rev)); err != nil {
			t.Fatalf("order-dependent: %v", err)
		}
		// Resolving only the publishers that could be paid changes
		// nothing, and never asks about a publication beyond the table.
		byTxid := map[chainhash.Hash]*common.Address{}
		for _, pb := range pubs {
			byTxid[pb.Txid] = pb.Publisher
		}
		asked := 0
		resolved, err := ResolvePublishers(&p, pubs, func(txid chainhash.Hash) (*common.Address, error) {
			asked++
			return byTxid[txid], nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := equalSystemTxs(got, DeriveRewards(&p, resolved)); err != nil {
			t.Fatalf("resolving fewer publishers changed the rewards: %v", err)
		}
		if asked > len(pubs) {
			t.Fatalf("asked %d times for %d publications", asked, len(pubs))
		}
		if len(got) > p.MaxRewarded {
			t.Fatalf("%d rewards, max %d", len(got), p.MaxRewarded)
		}
		seen := map[common.Address]bool{}
		for i, tx := range got {
			if seen[*tx.To] {
				t.Fatalf("%s paid twice", tx.To)
			}
			seen[*tx.To] = true
			if tx.Mint.Cmp(p.Reward) > 0 || tx.Mint.Sign() <= 0 || tx.Mint.Cmp(tx.Value) != 0 || tx.From != genesis.SystemAddress {
				t.Fatalf("reward %d: %+v", i, tx)
			}
			if i > 0 && tx.Mint.Cmp(got[i-1].Mint) > 0 {
				t.Fatal("a later publication earned more")
			}
			found := false
			for _, pb := range pubs {
				if pb.Publisher != nil && *pb.Publisher == *tx.To &&
					tx.SourceHash == block.SourceHash(block.DomainPoPReward, pb.Txid, uint64(pb.Vout)) {
					found = true
				}
			}
			if !found {
				t.Fatalf("reward %d pays no publication of the input", i)
			}
		}
	})
}

package derive

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/ethereum/go-ethereum/common"

	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/pop"
)

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
		if err := equalTxs(got, DeriveRewards(&p, rev)); err != nil {
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
		if err := equalTxs(got, DeriveRewards(&p, resolved)); err != nil {
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

package provenance_test

import (
	"testing"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/sequencer"
	"github.com/hemi-go/hemi/verify"
)

// The verifier restates the node's formats so that it imports no node
// package; these tests hold the two to the same values.

func TestDevnetIdentityIsTheDevnet(t *testing.T) {
	seq := crypto.PubkeyToAddress(sequencer.DevKey().PublicKey)
	c := genesis.DevnetConfig(seq)
	id := verify.DevnetIdentity
	if id.ChainID != c.ChainID || id.KeystoneInterval != c.KeystoneInterval || id.SuperfinalDepth != c.PoP.SuperfinalDepth ||
		id.BitcoinNetwork != c.BitcoinNetwork || len(id.Sequencers) != 1 || id.Sequencers[0] != seq {
		t.Fatalf("verify.DevnetIdentity %+v does not match genesis.DevnetConfig (chain %d, interval %d, depth %d, %s, sequencer %v)",
			id, c.ChainID, c.KeystoneInterval, c.PoP.SuperfinalDepth, c.BitcoinNetwork, seq)
	}
}

func TestDepositSourceHash(t *testing.T) {
	for _, vout := range []uint32{0, 1, 1 << 31} {
		txid := crypto.Keccak256Hash([]byte{byte(vout)})
		if got, want := verify.DepositSourceHash(txid, vout), block.SourceHash(block.DomainTunnelDeposit, txid, uint64(vout)); got != want {
			t.Fatalf("vout %d: verify %v, node %v", vout, got, want)
		}
	}
}

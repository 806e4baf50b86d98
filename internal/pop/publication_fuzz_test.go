package pop

import (
	"bytes"
	"testing"

	"github.com/btcsuite/btcd/wire/v2"
)

// FuzzBlockPublications: any output script parses to a publication exactly
// when ParseScript accepts it, and a keystone's script round-trips
// to its id.
func FuzzBlockPublications(f *testing.F) {
	k := Keystone{Version: KeystoneVersion, L2Number: 25, BTCViewHeight: 7}
	f.Add(k.Script())
	f.Add([]byte{0x6a, 0x4c, 0x50, 'H', 'E', 'M', 'I'})
	f.Add(append([]byte{0x6a, 0x4c, 0x50, 'H', 'E', 'M', 'X'}, make([]byte, 76)...))
	f.Fuzz(func(t *testing.T, script []byte) {
		msg := wire.NewMsgBlock(&wire.BlockHeader{})
		tx := wire.NewMsgTx(2)
		tx.AddTxOut(wire.NewTxOut(0, []byte{0x51}))
		tx.AddTxOut(wire.NewTxOut(0, script))
		msg.AddTransaction(wire.NewMsgTx(1))
		msg.AddTransaction(tx)
		pubs := BlockPublications(msg)
		ks, err := ParseScript(script)
		if (err == nil) != (len(pubs) == 1) {
			t.Fatalf("ParseScript err %v, publications %d", err, len(pubs))
		}
		if err != nil {
			return
		}
		p := pubs[0]
		if p.Keystone != ks.ID() || p.TxIndex != 1 || p.Vout != 1 || p.Txid != tx.TxHash() {
			t.Fatalf("publication %+v", p)
		}
		if !bytes.Equal(ks.Script(), script) {
			t.Fatal("script does not round-trip")
		}
	})
}

package block

import (
	"encoding/hex"
	"path/filepath"
	"testing"

	"github.com/ethereum/go-ethereum/crypto"

	goldenfile "github.com/hemi-go/hemi/internal/golden"
)

// goldenRoots are consensus values pinned in testdata/roots.json: a change
// there is a consensus change (regenerate with -update only on purpose).
type goldenRoots struct {
	TxRootSystemAndUser string `json:"tx_root_3_system_3_user"`
	TxRootManyEntries   string `json:"tx_root_100_system_60_user"`
	ReceiptRoot         string `json:"receipt_root"`
	Body                string `json:"body_rlp_1_system_1_user"`
	SealHash            string `json:"seal_hash"`
	SealedExtra         string `json:"sealed_extra"`
	SealedHeaderHash    string `json:"sealed_header_hash"`
	Signer              string `json:"signer"`
}

func computeGoldenRoots(t *testing.T) goldenRoots {
	body, err := EncodeBody(testBody(t, 1, 1))
	if err != nil {
		t.Fatal(err)
	}
	h := testHeader(t)
	sh, err := SealHash(h)
	if err != nil {
		t.Fatal(err)
	}
	if err := Seal(h, testKey); err != nil {
		t.Fatal(err)
	}
	signer, err := Signer(h)
	if err != nil {
		t.Fatal(err)
	}
	if signer != crypto.PubkeyToAddress(testKey.PublicKey) {
		t.Fatal("signer")
	}
	return goldenRoots{
		TxRootSystemAndUser: TxRoot(testBody(t, 3, 3)).Hex(),
		TxRootManyEntries:   TxRoot(testBody(t, 100, 60)).Hex(),
		ReceiptRoot:         ReceiptRoot(testReceipts()).Hex(),
		Body:                hex.EncodeToString(body),
		SealHash:            sh.Hex(),
		SealedExtra:         hex.EncodeToString(h.Extra),
		SealedHeaderHash:    h.Hash().Hex(),
		Signer:              signer.Hex(),
	}
}

func TestGoldenRootsAndSeal(t *testing.T) {
	path := filepath.Join("testdata", "roots.json")
	got := computeGoldenRoots(t)
	want := goldenfile.JSON(t, path, got, *update)
	if got != want {
		t.Fatalf("consensus values changed:\n got %+v\nwant %+v", got, want)
	}
	// The golden body decodes and re-encodes to itself.
	raw, _ := hex.DecodeString(want.Body)
	dec, err := DecodeBody(raw)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := EncodeBody(dec); hex.EncodeToString(again) != want.Body {
		t.Fatal("golden body does not round trip")
	}
}

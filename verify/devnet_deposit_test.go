package verify_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hemi-go/hemi/verify"
)

// devnetDeposit is the devnet's 1.5 BTC deposit bundle and its genesis
// file (written by internal/provenance's TestDevnetDepositBundle
// -update).
func devnetDeposit(t testing.TB) ([]byte, []byte) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "devnet_deposit.json"))
	if err != nil {
		t.Fatal(err)
	}
	g, err := os.ReadFile(filepath.Join("testdata", "devnet_deposit_genesis.json"))
	if err != nil {
		t.Fatal(err)
	}
	return b, g
}

// TestDevnetDepositVerifies verifies the devnet's real deposit bundle
// with its genesis file and checks what it says it proved.
func TestDevnetDepositVerifies(t *testing.T) {
	data, gen := devnetDeposit(t)
	r := verify.VerifyInput(data, verify.Input{Genesis: string(gen)}, time.Now())
	if !r.OK {
		t.Fatalf("%s: %s", r.FailedLink, r.Error)
	}
	if r.Kind != verify.KindDeposit || r.DepositSat != 150_000_000 || r.Recipient != "0x90F79bf6EB2c4f870365E785982E1f101E93b906" ||
		r.DepositConfs < 6 || r.KeystoneConfs < 3 || r.L2Block == 0 {
		t.Fatalf("result %+v", r)
	}
	var links []string
	for _, p := range r.Proved {
		links = append(links, p.Link)
	}
	want := []string{verify.LinkIdentity, verify.LinkCheckpoint, verify.LinkBitcoin, verify.LinkPoPTx, verify.LinkKeystone,
		verify.LinkDepositTx, verify.LinkVault, verify.LinkRecipient, verify.LinkAmount, verify.LinkL2, verify.LinkTx,
		verify.LinkMinted, verify.LinkConfirmations}
	if strings.Join(links, " ") != strings.Join(want, " ") {
		t.Fatalf("proved links %v, want %v", links, want)
	}
	if !strings.Contains(r.Statement, "1.50000000 BTC") {
		t.Fatalf("statement %q", r.Statement)
	}
	t.Log(r.Statement)
}

// deposit tampering: each edit of the real devnet deposit bundle (or of
// the user's genesis file, or policy) and the link that must fail.
type depositTamper struct {
	name string
	edit func(t *testing.T, b *verify.Bundle, in *verify.Input)
	link string
	want string
}

func depositTampers() []depositTamper {
	return []depositTamper{
		{"deposit transaction's amount changed", func(t *testing.T, b *verify.Bundle, in *verify.Input) {
			var tx wire.MsgTx
			if err := tx.DeserializeNoWitness(bytes.NewReader(b.Deposit.Bitcoin.Tx)); err != nil {
				t.Fatal(err)
			}
			tx.TxOut[0].Value *= 10
			var buf bytes.Buffer
			if err := tx.SerializeNoWitness(&buf); err != nil {
				t.Fatal(err)
			}
			b.Deposit.Bitcoin.Tx = buf.Bytes()
		}, verify.LinkDepositTx, "computed root"},
		{"deposit claimed in another Bitcoin block", func(t *testing.T, b *verify.Bundle, in *verify.Input) {
			b.Deposit.Bitcoin.Height++
		}, verify.LinkDepositTx, "merkle"},
		{"deposit's branch shorter than the coinbase's", func(t *testing.T, b *verify.Bundle, in *verify.Input) {
			b.Deposit.Bitcoin.Branch = b.Deposit.Bitcoin.Branch[1:]
		}, verify.LinkDepositTx, "tree depth is not proved"},
		{"the OP_RETURN output claimed as the deposit", func(t *testing.T, b *verify.Bundle, in *verify.Input) {
			b.Deposit.Vout = 1
		}, verify.LinkVault, "not the vault"},
		{"a genesis whose committee is another", func(t *testing.T, b *verify.Bundle, in *verify.Input) {
			// The first recovery key put in the committee: another
			// vault, which the deposit does not pay.
			var g map[string]any
			if err := json.Unmarshal([]byte(in.Genesis), &g); err != nil {
				t.Fatal(err)
			}
			tun := g["tunnel"].(map[string]any)
			tun["signers"].([]any)[0] = tun["recovery"].([]any)[0]
			out, err := json.Marshal(g)
			if err != nil {
				t.Fatal(err)
			}
			in.Genesis = string(out)
		}, verify.LinkVault, "not the vault"},
		{"a genesis whose minimum deposit is above it", func(t *testing.T, b *verify.Bundle, in *verify.Input) {
			in.Genesis = strings.Replace(in.Genesis, `"min_deposit_sat": 10000`, `"min_deposit_sat": 200000000`, 1)
		}, verify.LinkAmount, "below the network's minimum"},
		{"mint at another position", func(t *testing.T, b *verify.Bundle, in *verify.Input) {
			b.Deposit.Mint.Index++
		}, verify.LinkTx, "against its transactions root"},
		{"mint swapped", func(t *testing.T, b *verify.Bundle, in *verify.Input) {
			b.Deposit.Mint.Hash[0] ^= 1
		}, verify.LinkTx, "holds transaction"},
		{"minted record's slots swapped", func(t *testing.T, b *verify.Bundle, in *verify.Input) {
			p := b.Deposit.StorageProofs
			p[0], p[1] = p[1], p[0]
		}, verify.LinkMinted, "slot"},
		{"minted record without the tunnel's account", func(t *testing.T, b *verify.Bundle, in *verify.Input) {
			b.Deposit.AccountProof = b.Deposit.AccountProof[:1]
		}, verify.LinkMinted, "account"},
		{"keystone of another chain", func(t *testing.T, b *verify.Bundle, in *verify.Input) {
			tr, _ := devnetBundle(t)
			other, err := verify.ParseBundle(tr)
			if err != nil {
				t.Fatal(err)
			}
			b.Keystone = other.Keystone
		}, verify.LinkKeystone, "a keystone of another chain"},
		{"deposit confirmations below the policy", func(t *testing.T, b *verify.Bundle, in *verify.Input) {
			in.MinDepositConfs = 1000
		}, verify.LinkConfirmations, "the policy asks for 1000"},
		{"keystone confirmations below the policy", func(t *testing.T, b *verify.Bundle, in *verify.Input) {
			in.MinKeystoneConfs = 50
		}, verify.LinkConfirmations, "the policy asks for 50"},
	}
}

// TestDevnetDepositTampered: the real deposit bundle, tampered, is
// refused naming the link that failed.
func TestDevnetDepositTampered(t *testing.T) {
	data, gen := devnetDeposit(t)
	for _, c := range depositTampers() {
		t.Run(c.name, func(t *testing.T) {
			b, in := tamperDeposit(t, data, gen, c)
			r := verify.VerifyInput(b, in, time.Now())
			if r.OK || r.FailedLink != c.link || !strings.Contains(r.Error, c.want) {
				t.Fatalf("ok %v, failed link %q: %s; want link %q saying %q", r.OK, r.FailedLink, r.Error, c.link, c.want)
			}
		})
	}
}

// tamperDeposit applies c to a copy of the bundle and the genesis.
func tamperDeposit(t *testing.T, data, gen []byte, c depositTamper) ([]byte, verify.Input) {
	t.Helper()
	b, err := verify.ParseBundle(data)
	if err != nil {
		t.Fatal(err)
	}
	in := verify.Input{Genesis: string(gen)}
	c.edit(t, b, &in)
	out, err := b.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return out, in
}

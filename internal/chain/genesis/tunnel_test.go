package genesis

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2/schnorr"

	"github.com/hemi-go/hemi/internal/golden"
)

// goldenTunnel pins the devnet's tunnel: its dev keys (paths and x-only
// keys: a change moves every devnet vault) and the hash of
// testdata/genesis_v1_tunnel.json, the golden devnet file with the dev
// tunnel.
type goldenTunnel struct {
	Signers  []string `json:"signers"`
	Recovery []string `json:"recovery"`
	Hash     string   `json:"hash"`
}

func TestGoldenTunnelFile(t *testing.T) {
	signers, recovery, err := DevTunnelKeys()
	if err != nil {
		t.Fatal(err)
	}
	var got goldenTunnel
	for _, k := range signers {
		got.Signers = append(got.Signers, k.Path+" "+hex.EncodeToString(k.XOnly[:]))
	}
	for _, k := range recovery {
		got.Recovery = append(got.Recovery, k.Path+" "+hex.EncodeToString(k.XOnly[:]))
	}
	for _, k := range append(signers, recovery...) {
		// The private key is the x-only key's: a signature verifies.
		msg := bytes.Repeat([]byte{7}, 32)
		sig, err := schnorr.Sign(k.Key, msg)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := schnorr.ParsePubKey(k.XOnly[:])
		if err != nil || !sig.Verify(msg, pub) {
			t.Fatalf("%s: key and x-only key disagree: %v", k.Path, err)
		}
	}
	path := filepath.Join("testdata", "genesis_v1_tunnel.json")
	if *update {
		f := devTunnelFile(t)
		f.SequencerNames = []string{"sequencer 1"}
		data, err := f.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	got.Hash = f.Hash().Hex()
	want := golden.JSON(t, filepath.Join("testdata", "genesis_v1_tunnel_hash.json"), got, *update)
	if got.Hash != want.Hash || !equalStrings(got.Signers, want.Signers) || !equalStrings(got.Recovery, want.Recovery) {
		t.Fatalf("devnet tunnel changed:\n got %+v\nwant %+v", got, want)
	}
	// The file holds the dev tunnel, and dropping the tunnel gives back
	// the golden file without one: the tunnel object is the only
	// difference.
	dev := devTunnel(t)
	if f.Config.Tunnel == nil || f.Config.Tunnel.K != DevSignerK || f.Config.Tunnel.RecoveryDelay != DevRecoveryDelay || f.Config.Tunnel.Signers[2] != dev.Signers[2] {
		t.Fatalf("golden tunnel %+v", f.Config.Tunnel)
	}
	plain, err := Load(filepath.Join("testdata", "genesis_v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	f.Config.Tunnel = nil
	if f.Hash() != plain.Hash() {
		t.Fatal("the tunnel file without its tunnel is not the plain golden file")
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestTunnelNullOrAbsent: a file without a tunnel may write "tunnel":
// null or leave it out; both are the same network as before the tunnel
// existed (TestGoldenFile pins that hash).
func TestTunnelNullOrAbsent(t *testing.T) {
	null := edit(t, func(m map[string]any) { m["tunnel"] = nil })
	absent := edit(t, func(m map[string]any) { delete(m, "tunnel") })
	want := devFile(t).Hash()
	for name, data := range map[string][]byte{"null": null, "absent": absent} {
		f, err := Decode(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if f.Config.Tunnel != nil || f.Hash() != want {
			t.Fatalf("%s: tunnel %+v, hash %v, want none and %v", name, f.Config.Tunnel, f.Hash(), want)
		}
		if !bytes.Contains(f.Canonical(), []byte(`"tunnel":null`)) {
			t.Fatalf("%s: canonical form without \"tunnel\":null", name)
		}
	}
}

// TestTunnelConfigValidate: the rules a Config built in code (not read
// from a file) meets too, and Spec's copy owns its key lists.
func TestTunnelConfigValidate(t *testing.T) {
	c := DevnetConfig(SystemAddress)
	c.Tunnel = devTunnel(t)
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*TunnelConfig){
		"k negative":        func(t *TunnelConfig) { t.K = -1 },
		"too many keys":     func(t *TunnelConfig) { t.Signers = make([][32]byte, MaxTunnelKeys+1) },
		"zero key":          func(t *TunnelConfig) { t.Recovery[0] = [32]byte{} },
		"m 0":               func(t *TunnelConfig) { t.M = 0 },
		"delay 1":           func(t *TunnelConfig) { t.RecoveryDelay = 1 },
		"max deposits 1001": func(t *TunnelConfig) { t.MaxDepositsPerBlock = MaxDepositsPerBlockLimit + 1 },
		"tunnel at system":  func(t *TunnelConfig) { t.TunnelAddress = SystemAddress },
	} {
		c := DevnetConfig(SystemAddress)
		c.Tunnel = devTunnel(t)
		mut(c.Tunnel)
		var fe *FieldError
		if err := c.Validate(); !errors.Is(err, ErrConfig) || !errors.As(err, &fe) {
			t.Errorf("%s: %v, want a *FieldError of ErrConfig", name, err)
		}
	}
	f := devTunnelFile(t)
	s, err := f.Spec(regtestViews(t, 0)[0])
	if err != nil {
		t.Fatal(err)
	}
	s.Config.Tunnel.Signers[0][0]++
	if f.Config.Tunnel.Signers[0] == s.Config.Tunnel.Signers[0] {
		t.Fatal("Spec shares the file's tunnel keys")
	}
}

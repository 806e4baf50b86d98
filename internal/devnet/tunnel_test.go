package devnet

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/hemi-go/hemi/internal/chain/genesis"
)

// TestTunnelBanner: the banner names the dev vault (the golden address
// of internal/tunnel), every dev key and the deposit command; a genesis
// without a tunnel prints nothing.
func TestTunnelBanner(t *testing.T) {
	f := &genesis.File{Config: genesis.DevnetConfig(common.Address{1})}
	var out bytes.Buffer
	printTunnelBanner(&out, f, "g.json", "127.0.0.1:7340", "127.0.0.1:8545")
	if out.Len() != 0 {
		t.Fatalf("no tunnel printed %q", out.String())
	}
	var err error
	if f.Config.Tunnel, err = genesis.DevTunnelConfig(); err != nil {
		t.Fatal(err)
	}
	printTunnelBanner(&out, f, "g.json", "127.0.0.1:7340", "127.0.0.1:8545")
	for _, want := range []string{"bcrt1pw2gujeare5r3rmd5xtaxqymnyuqcdxsr939pmqlmjt3lcc4l2u9svk9ae8", "committee 2 of 3, recovery 2 of 3 after 144 blocks",
		"m/86'/1'/0'/0/2", "m/86'/1'/1'/0/0", "8c7fc6552af4384a13791e63bac79ff2bcfeedf143a88d6dc4b6080a8829cdc1", "hemi deposit --genesis g.json",
		"descriptor   tr(50929b74c1a04954b78b4b6035e97a5e078a5a0f28ec96d547bfee9ace803ac0,{sortedmulti_a(2,", "#gymd9g8v", "older than 72 blocks"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("banner lacks %q:\n%s", want, out.String())
		}
	}
}

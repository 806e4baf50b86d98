package explorer

import (
	"html/template"
	"math/big"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
)

// oldTxRows is the row template txRowHTML replaced (layout.html before
// it), kept as the reference for its markup.
const oldTxRows = `{{define "addr"}}<a class="mono" href="/address/{{.Hex}}">{{short .}}</a>{{end}}` +
	`{{range .}}<tr><td>{{.Index}}</td><td><a class="mono" href="/tx/{{.Hash.Hex}}">{{short .Hash}}</a></td><td><a href="/block/{{.Block}}">{{.Block}}</a></td><td>{{.Kind}}{{with .Sys}}{{with .Deposit}} <a href="/deposit/{{.}}">deposit</a>{{end}}{{with .Payout}} <a href="/btc/tx/{{.}}">payout</a>{{end}}{{end}}</td><td>{{template "addr" .From}}</td>
<td>{{with .To}}{{template "addr" .}}{{else}}(create){{end}}</td><td>{{ether .Value}}</td><td>{{.Status}}</td>{{if .Flags}}<td>{{.Flags}}</td>{{end}}</tr>
{{end}}`

// TestTxRowHTML: txRowHTML writes exactly what the template wrote, for
// rows with and without a recipient, value and role, and escapes text.
func TestTxRowHTML(t *testing.T) {
	to := common.HexToAddress("0x70997970C51812dc3A010C7d01b50e0d17dc79C8")
	big1, _ := new(big.Int).SetString("123456789012345678901234567890", 10)
	rows := []txRow{
		{Index: 0, Hash: common.HexToHash("0x01"), Block: 7, Kind: "Bitcoin view update", From: common.HexToAddress("0xdeaddeaddeaddeaddeaddeaddeaddeaddead0001"),
			To: &to, Value: new(big.Int), Status: "success"},
		{Index: 12, Hash: common.HexToHash("0xabcdef"), Block: 1 << 40, Kind: "user", From: to, Value: big1, Status: "failed", Flags: "out, token in"},
		{Index: 3, Kind: `<script>alert("x")</script> & 'y'`, Status: `"><b>`, Flags: "<i>", To: &to},
	}
	want := new(strings.Builder)
	if err := template.Must(template.New("old").Funcs(funcs).Parse(oldTxRows)).Execute(want, rows); err != nil {
		t.Fatal(err)
	}
	got := new(strings.Builder)
	if err := template.Must(template.New("new").Funcs(funcs).Parse("{{range .}}{{txrow .}}\n{{end}}")).Execute(got, rows); err != nil {
		t.Fatal(err)
	}
	if got.String() != want.String() {
		t.Fatalf("rows:\n%s\nthe template wrote:\n%s", got, want)
	}
	if strings.Contains(got.String(), "<script>") || strings.Contains(got.String(), "<i>") {
		t.Fatalf("unescaped text: %s", got)
	}
}

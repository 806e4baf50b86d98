package explorer

import (
	"html/template"
	"math/big"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
)

// oldTxTable is the "txtable" template txTableHTML replaced (layout.html
// before it, rows and all), kept as the reference for its markup.
const oldTxTable = `{{define "addr"}}<a class="mono" href="/address/{{.Hex}}">{{short .}}</a>{{end}}` + `
<div class="scroll"><table class="txs">
<thead><tr><th>#</th><th>Hash</th><th>Block</th><th>Kind</th><th>From</th><th>To</th><th>Value (ETH)</th><th>Status</th>{{if .}}{{with index . 0}}{{if .Flags}}<th>Role</th>{{end}}{{end}}{{end}}</tr></thead>
<tbody>
{{range .}}<tr><td>{{.Index}}</td><td><a class="mono" href="/tx/{{.Hash.Hex}}">{{short .Hash}}</a></td><td><a href="/block/{{.Block}}">{{.Block}}</a></td><td>{{.Kind}}{{with .Sys}}{{with .Deposit}} <a href="/deposit/{{.}}">deposit</a>{{end}}{{with .Payout}} <a href="/btc/tx/{{.}}">payout</a>{{end}}{{end}}</td><td>{{template "addr" .From}}</td>
<td>{{with .To}}{{template "addr" .}}{{else}}(create){{end}}</td><td>{{ether .Value}}</td><td>{{.Status}}</td>{{if .Flags}}<td>{{.Flags}}</td>{{end}}</tr>
{{else}}<tr><td colspan="8">No transactions.</td></tr>{{end}}</tbody></table></div>
`

// TestTxTableHTML: txTableHTML writes exactly what the template wrote,
// for an empty table and for rows with and without a recipient, value,
// role and system call, the same addresses again (remembered) and more
// addresses than it remembers, and escapes text.
func TestTxTableHTML(t *testing.T) {
	to := common.HexToAddress("0x70997970C51812dc3A010C7d01b50e0d17dc79C8")
	big1, _ := new(big.Int).SetString("123456789012345678901234567890", 10)
	rows := []txRow{
		{Index: 0, Hash: common.HexToHash("0x01"), Block: 7, Kind: "Bitcoin view update", From: common.HexToAddress("0xdeaddeaddeaddeaddeaddeaddeaddeaddead0001"),
			To: &to, Value: new(big.Int), Status: "success"},
		{Index: 12, Hash: common.HexToHash("0xabcdef"), Block: 1 << 40, Kind: "user", From: to, Value: big1, Status: "failed", Flags: "out, token in"},
		{Index: 3, Kind: `<script>alert("x")</script> & 'y'`, Status: `"><b>`, Flags: "<i>", To: &to},
		{Index: 4, Kind: "deposit", From: to, To: &to, Value: big.NewInt(5), Status: "success",
			Sys: systemCall{Kind: "deposit", Deposit: "ab<cd>:1", Payout: "ef&01"}},
		{Index: 5, Kind: "a+b\x00", From: to, To: &to, Value: big.NewInt(-5), Status: "x'y", Flags: "in",
			Sys: systemCall{Kind: "x", Deposit: "%41%zz é\" +", Payout: "(a)%4"}},
	}
	var many []txRow
	for i := range 150 {
		a, b := common.BigToAddress(big.NewInt(int64(i*7919))), common.BigToAddress(big.NewInt(int64(i%3)))
		many = append(many, txRow{Index: i, Block: uint64(i), Kind: "user", From: a, To: &b, Value: big.NewInt(int64(i)), Status: "success", Flags: "in"})
	}
	for _, c := range []struct {
		name string
		rows []txRow
	}{
		{"empty", nil},
		{"mixed", rows},
		{"no role first", rows[:1]},
		{"role first", rows[1:]},
		{"many addresses", many},
	} {
		t.Run(c.name, func(t *testing.T) {
			want := new(strings.Builder)
			if err := template.Must(template.New("old").Funcs(funcs).Parse(oldTxTable)).Execute(want, c.rows); err != nil {
				t.Fatal(err)
			}
			got := new(strings.Builder)
			if err := template.Must(template.New("new").Funcs(funcs).Parse("{{txtable .}}")).Execute(got, c.rows); err != nil {
				t.Fatal(err)
			}
			if got.String() != want.String() {
				t.Fatalf("table:\n%s\nthe template wrote:\n%s", got, want)
			}
			if strings.Contains(got.String(), "<script>") || strings.Contains(got.String(), "<i>") || strings.Contains(got.String(), "<cd>") {
				t.Fatalf("unescaped text: %s", got)
			}
		})
	}
}

package explorer

import (
	"html"
	"html/template"
	"strconv"
	"strings"

	"github.com/ethereum/go-ethereum/common"
)

// txRowHTML renders one row of the "txtable" template. A history or
// block page has 25 to 40 rows, and html/template spends ~40 reflective
// calls on each (field reads, helpers, an escaper per action): most of
// such a page's CPU once its data comes from the address index. The
// markup is exactly the template's it replaces (rows_test.go renders
// both); the only strings that are not hex or digits (kind, status,
// role) are escaped here.
func txRowHTML(r txRow) template.HTML {
	var b strings.Builder
	b.Grow(640)
	b.WriteString(`<tr><td>`)
	b.WriteString(strconv.Itoa(r.Index))
	hash := r.Hash.Hex()
	b.WriteString(`</td><td><a class="mono" href="/tx/`)
	b.WriteString(hash)
	b.WriteString(`">`)
	b.WriteString(shortHex(hash))
	block := strconv.FormatUint(r.Block, 10)
	b.WriteString(`</a></td><td><a href="/block/`)
	b.WriteString(block)
	b.WriteString(`">`)
	b.WriteString(block)
	b.WriteString(`</a></td><td>`)
	b.WriteString(html.EscapeString(r.Kind))
	if d := r.Sys.Deposit; d != "" {
		b.WriteString(` <a href="/deposit/`)
		b.WriteString(html.EscapeString(d))
		b.WriteString(`">deposit</a>`)
	}
	if p := r.Sys.Payout; p != "" {
		b.WriteString(` <a href="/btc/tx/`)
		b.WriteString(html.EscapeString(p))
		b.WriteString(`">payout</a>`)
	}
	b.WriteString(`</td><td>`)
	writeAddr(&b, r.From)
	b.WriteString("</td>\n<td>")
	if r.To != nil {
		writeAddr(&b, *r.To)
	} else {
		b.WriteString(`(create)`)
	}
	b.WriteString(`</td><td>`)
	b.WriteString(html.EscapeString(formatEther(r.Value)))
	b.WriteString(`</td><td>`)
	b.WriteString(html.EscapeString(r.Status))
	b.WriteString(`</td>`)
	if r.Flags != "" {
		b.WriteString(`<td>`)
		b.WriteString(html.EscapeString(r.Flags))
		b.WriteString(`</td>`)
	}
	b.WriteString(`</tr>`)
	return template.HTML(b.String()) // every part is escaped or hex and digits
}

// writeAddr is the "addr" template: a link to the address, shortened.
func writeAddr(b *strings.Builder, a common.Address) {
	hex := a.Hex()
	b.WriteString(`<a class="mono" href="/address/`)
	b.WriteString(hex)
	b.WriteString(`">`)
	b.WriteString(shortHex(hex))
	b.WriteString(`</a>`)
}

// shortHex is the "short" helper on a hex string.
func shortHex(v string) string {
	if len(v) <= 14 {
		return v
	}
	return v[:8] + "…" + v[len(v)-6:]
}

package explorer

import (
	"html/template"
	"strconv"
	"strings"

	"github.com/ethereum/go-ethereum/common"
)

// txTableHTML renders the "txtable" template: a table of transaction
// rows. A history or block page has 25 to 40 rows, and html/template
// spends ~40 reflective calls on each row (field reads, helpers, an
// escaper per action), then two more per row to call a row writer and
// escape its result: most of such a page's CPU once its data comes from
// the address index. The markup is exactly the template's it replaces
// (rows_test.go renders both); the only strings that are not hex or
// digits (kind, status, role) are escaped here. Addresses are
// checksummed (a keccak each) once per table: a sender's history names
// the same one or two addresses on every row.
func txTableHTML(rows []txRow) template.HTML {
	var b strings.Builder
	b.Grow(400 + 620*len(rows))
	b.WriteString("\n" + `<div class="scroll"><table class="txs">` + "\n" +
		`<thead><tr><th>#</th><th>Hash</th><th>Block</th><th>Kind</th><th>From</th><th>To</th><th>Value (ETH)</th><th>Status</th>`)
	if len(rows) > 0 && rows[0].Flags != "" {
		b.WriteString(`<th>Role</th>`)
	}
	b.WriteString("</tr></thead>\n<tbody>\n")
	var memo hexMemo
	for i := range rows {
		writeTxRow(&b, &rows[i], &memo)
		b.WriteString("\n")
	}
	if len(rows) == 0 {
		b.WriteString(`<tr><td colspan="8">No transactions.</td></tr>`)
	}
	b.WriteString("</tbody></table></div>\n")
	return template.HTML(b.String()) // every part is escaped or hex and digits
}

// writeTxRow writes one row of txTableHTML.
func writeTxRow(b *strings.Builder, r *txRow, memo *hexMemo) {
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
	b.WriteString(escText(r.Kind))
	if d := r.Sys.Deposit; d != "" {
		b.WriteString(` <a href="/deposit/`)
		b.WriteString(escText(urlNormalize(d)))
		b.WriteString(`">deposit</a>`)
	}
	if p := r.Sys.Payout; p != "" {
		b.WriteString(` <a href="/btc/tx/`)
		b.WriteString(escText(urlNormalize(p)))
		b.WriteString(`">payout</a>`)
	}
	b.WriteString(`</td><td>`)
	writeAddr(b, memo.hex(r.From))
	b.WriteString("</td>\n<td>")
	if r.To != nil {
		writeAddr(b, memo.hex(*r.To))
	} else {
		b.WriteString(`(create)`)
	}
	b.WriteString(`</td><td>`)
	b.WriteString(escText(formatEther(r.Value)))
	b.WriteString(`</td><td>`)
	b.WriteString(escText(r.Status))
	b.WriteString(`</td>`)
	if r.Flags != "" {
		b.WriteString(`<td>`)
		b.WriteString(escText(r.Flags))
		b.WriteString(`</td>`)
	}
	b.WriteString(`</tr>`)
}

// hexMemo remembers the checksummed hex of the few addresses one table
// names (a linear scan: a table names a handful).
type hexMemo struct {
	addrs []common.Address
	hexes []string
}

func (m *hexMemo) hex(a common.Address) string {
	for i := range m.addrs {
		if m.addrs[i] == a {
			return m.hexes[i]
		}
	}
	h := a.Hex()
	if len(m.addrs) < 64 {
		m.addrs, m.hexes = append(m.addrs, a), append(m.hexes, h)
	}
	return h
}

// writeAddr is the "addr" template on an address's hex: a link to the
// address, shortened.
func writeAddr(b *strings.Builder, hex string) {
	b.WriteString(`<a class="mono" href="/address/`)
	b.WriteString(hex)
	b.WriteString(`">`)
	b.WriteString(shortHex(hex))
	b.WriteString(`</a>`)
}

// textEscaper is html/template's escaper of text and attribute values
// (its htmlReplacementTable), so the rows written here read exactly as
// the template wrote them ('+' too, which html.EscapeString leaves).
var textEscaper = strings.NewReplacer("\x00", "\uFFFD", `"`, "&#34;", "&", "&amp;", "'", "&#39;", "+", "&#43;", "<", "&lt;", ">", "&gt;")

func escText(s string) string { return textEscaper.Replace(s) }

// urlNormalize is html/template's normalizer of a value in a URL's path
// (href="/deposit/{{.}}"): bytes that are neither unreserved nor
// reserved in RFC 3986 are percent-encoded (lower-case hex), a valid
// escape is kept.
func urlNormalize(s string) string {
	var b strings.Builder
	written := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', strings.IndexByte("-._~!#$&*+,/:;=?@[]", c) >= 0:
			continue
		case c == '%' && i+2 < len(s) && isHexDigit(s[i+1]) && isHexDigit(s[i+2]):
			continue
		}
		if written == 0 {
			b.Grow(len(s) + 16)
		}
		b.WriteString(s[written:i])
		b.WriteByte('%')
		b.WriteByte("0123456789abcdef"[c>>4])
		b.WriteByte("0123456789abcdef"[c&15])
		written = i + 1
	}
	if written == 0 {
		return s
	}
	b.WriteString(s[written:])
	return b.String()
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// shortHex is the "short" helper on a hex string.
func shortHex(v string) string {
	if len(v) <= 14 {
		return v
	}
	return v[:8] + "…" + v[len(v)-6:]
}

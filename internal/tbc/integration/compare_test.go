package integration

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/hemi-go/hemi/internal/btc/index"
	"github.com/hemi-go/hemi/internal/pop"
	"github.com/hemi-go/hemi/internal/tbc"
)

func unixTime(sec int64) time.Time { return time.Unix(sec, 0) }

// maxReports caps the mismatches reported per kind of answer, so a broken
// index fails with a readable list instead of thousands of lines.
const maxReports = 10

// reporter counts mismatches per kind and reports the first few of each.
type reporter struct {
	t      *testing.T
	counts map[string]int
}

func newReporter(t *testing.T) *reporter { return &reporter{t: t, counts: make(map[string]int)} }

func (r *reporter) errorf(kind, format string, args ...any) {
	r.t.Helper()
	r.counts[kind]++
	if r.counts[kind] <= maxReports {
		r.t.Errorf("%s: %s", kind, fmt.Sprintf(format, args...))
	}
}

func (r *reporter) done() {
	r.t.Helper()
	for kind, n := range r.counts {
		if n > maxReports {
			r.t.Errorf("%s: %d mismatches in all (first %d shown)", kind, n, maxReports)
		}
	}
}

// expectation adds what the test itself knows to a btcd snapshot.
type expectation struct {
	// absent are transactions that must not be found as of the snapshot
	// (sent, but not in this chain).
	absent []chainhash.Hash
	// pubs are the PoP publications sent; those whose transaction is in
	// the snapshot's chain must be found, with btcd's location.
	pubs []published
}

// compareIndex checks every answer of ix as of the snapshot's tip against
// btcd's answers in s: every header by height and by hash, every
// transaction (block, position, confirmations, bytes), the spend of every
// spent output, the balance and UTXO set of every address of the snapshot,
// and the publications of the keystones in e. With atTip the index's block
// tip must be the snapshot's tip and the queries use the zero asOf (the
// tip); otherwise they name the snapshot's tip explicitly.
func compareIndex(t *testing.T, ix *index.Index, s *snapshot, atTip bool, e expectation) {
	t.Helper()
	r := newReporter(t)
	defer r.done()
	asOf := s.tip
	if atTip {
		asOf = chainhash.Hash{}
		if h, height := ix.BlockTip(); h != s.tip || height != s.height {
			t.Fatalf("index block tip %s@%d, btcd %s tip %s@%d", h, height, s.node, s.tip, s.height)
		}
	}
	where := fmt.Sprintf("as of %s@%d", s.tip, s.height)
	if atTip {
		where = "at the tip"
	}

	for h := int32(0); h <= s.height; h++ {
		want := s.headerOf(t, h)
		hi, err := ix.HeaderByHeight(h, asOf)
		if err != nil {
			r.errorf("HeaderByHeight", "height %d %s: %v", h, where, err)
			continue
		}
		if hi.Hash != s.hashes[h] || hi.Height != h || hi.Header != want || !hi.HaveData {
			r.errorf("HeaderByHeight", "height %d %s: index %s %+v (have data %v), btcd %s %+v",
				h, where, hi.Hash, hi.Header, hi.HaveData, s.hashes[h], want)
		}
		if atTip && !hi.MainChain {
			r.errorf("HeaderByHeight", "height %d at the tip: not flagged main chain", h)
		}
		byHash, err := ix.HeaderByHash(s.hashes[h], asOf)
		if err != nil || byHash.Height != h || byHash.Header != want {
			r.errorf("HeaderByHash", "%s %s: index height %d (%v), btcd height %d", s.hashes[h], where, byHash.Height, err, h)
		}
	}
	if hi, err := ix.HeaderByHeight(s.height, asOf); err == nil && hi.Work != nil && s.chainWork != nil &&
		hi.Work.Cmp(s.chainWork) != 0 {
		r.errorf("chain work", "tip %s: index %x, btcd getblockchaininfo %x", s.tip, hi.Work, s.chainWork)
	}
	if _, err := ix.HeaderByHeight(s.height+1, asOf); !isNotFound(err) {
		r.errorf("HeaderByHeight", "height %d above %s: err %v, want not found", s.height+1, where, err)
	}

	for txid, want := range s.txs {
		got, err := ix.TxByID(txid, asOf)
		if err != nil {
			r.errorf("TxByID", "%s %s: %v (btcd: block %s height %d)", txid, where, err, want.block, want.height)
			continue
		}
		var raw bytes.Buffer
		if err := got.Tx.Serialize(&raw); err != nil {
			t.Fatalf("serialize %s: %v", txid, err)
		}
		if got.BlockHash != want.block || got.Height != want.height || got.Index != want.pos ||
			got.Confirmations != want.conf || hex.EncodeToString(raw.Bytes()) != want.hex {
			r.errorf("TxByID", "%s %s: index block %s height %d pos %d conf %d, btcd block %s height %d pos %d conf %d (bytes equal %v)",
				txid, where, got.BlockHash, got.Height, got.Index, got.Confirmations,
				want.block, want.height, want.pos, want.conf, hex.EncodeToString(raw.Bytes()) == want.hex)
		}
	}
	for _, txid := range e.absent {
		if _, ok := s.txs[txid]; ok {
			continue
		}
		if got, err := ix.TxByID(txid, asOf); !isNotFound(err) {
			r.errorf("TxByID absent", "%s %s: got block %s (err %v), want not found: btcd does not have it", txid, where, got.BlockHash, err)
		}
	}

	for op, want := range s.spends {
		got, err := ix.SpendOf(op, asOf)
		if err != nil {
			r.errorf("SpendOf", "%s %s: %v (btcd: spent by %s:%d)", op, where, err, want.txid, want.vin)
			continue
		}
		if got.Txid != want.txid || got.Input != want.vin || got.BlockHash != want.block || got.Height != want.height ||
			got.Index != want.pos || got.Confirmations != s.height-want.height+1 {
			r.errorf("SpendOf", "%s %s: index %s:%d in %s@%d pos %d conf %d, btcd %s:%d in %s@%d pos %d conf %d", op, where,
				got.Txid, got.Input, got.BlockHash, got.Height, got.Index, got.Confirmations,
				want.txid, want.vin, want.block, want.height, want.pos, s.height-want.height+1)
		}
	}

	for _, a := range s.addrs {
		bal, err := ix.Balance(a.script, asOf)
		if err != nil || bal != a.balance {
			r.errorf("Balance", "%s %s: index %d (%v), btcd %d", a.addr, where, bal, err, a.balance)
		}
		got := allUTXOs(t, ix, a.script, asOf, 7)
		if !utxosEqual(got, a.utxos) {
			r.errorf("UTXOs", "%s %s: index %d utxos, btcd %d; first difference: %s", a.addr, where,
				len(got), len(a.utxos), firstDiff(got, a.utxos))
		}
		for _, u := range a.utxos {
			if sp, err := ix.SpendOf(u.op, asOf); !isNotFound(err) {
				r.errorf("SpendOf unspent", "%s %s: index says spent by %s (err %v), btcd gettxout says unspent", u.op, where, sp.Txid, err)
			}
		}
		for _, op := range a.spent {
			if _, ok := s.spends[op]; !ok {
				r.errorf("btcd", "%s: gettxout says spent but no block of the chain spends it", op)
			}
		}
	}

	for id, want := range expectedPublications(s, e.pubs) {
		got, err := ix.Publications(id, asOf)
		if err != nil && !isNotFound(err) {
			r.errorf("Publications", "%x %s: %v", id, where, err)
			continue
		}
		if len(got) != len(want) {
			r.errorf("Publications", "keystone %x %s: index %d publications, want %d", id[:8], where, len(got), len(want))
			continue
		}
		for i := range want {
			g := got[i]
			if g.Keystone != id || g.Txid != want[i].Txid || g.Vout != want[i].Vout || g.BlockHash != want[i].BlockHash ||
				g.Height != want[i].Height || g.TxIndex != want[i].TxIndex || g.Confirmations != want[i].Confirmations {
				r.errorf("Publications", "keystone %x %s #%d: index %+v, want %+v", id[:8], where, i, g, want[i])
			}
		}
	}
}

// expectedPublications returns, per keystone published, its publications
// in the snapshot's chain located by btcd, in the index's order (height,
// position, output).
func expectedPublications(s *snapshot, pubs []published) map[[32]byte][]index.Publication {
	out := make(map[[32]byte][]index.Publication)
	for _, p := range pubs {
		if _, ok := out[p.keystone]; !ok {
			out[p.keystone] = nil
		}
		loc, ok := s.txs[p.op.Hash]
		if !ok {
			continue
		}
		out[p.keystone] = append(out[p.keystone], index.Publication{Publication: pop.Publication{Keystone: p.keystone, Txid: p.op.Hash,
			Vout: p.op.Index, BlockHash: loc.block, Height: loc.height, TxIndex: loc.pos}, Confirmations: loc.conf})
	}
	for _, ps := range out {
		slices.SortFunc(ps, func(a, b index.Publication) int {
			if a.Height != b.Height {
				return int(a.Height - b.Height)
			}
			if a.TxIndex != b.TxIndex {
				return int(a.TxIndex) - int(b.TxIndex)
			}
			return int(a.Vout) - int(b.Vout)
		})
	}
	return out
}

// allUTXOs pages through the index's UTXOs of script as of asOf.
func allUTXOs(t *testing.T, ix *index.Index, script []byte, asOf chainhash.Hash, pageSize int) []utxoAt {
	t.Helper()
	var out []utxoAt
	for page := 0; ; page++ {
		us, err := ix.UTXOs(script, page, pageSize, asOf)
		if err != nil {
			t.Errorf("UTXOs page %d: %v", page, err)
			return out
		}
		for _, u := range us {
			out = append(out, utxoAt{op: u.Outpoint, value: u.Value, height: u.Height, block: u.BlockHash, pos: u.Index})
		}
		if len(us) < pageSize {
			return out
		}
		if page > 100000 {
			t.Fatalf("UTXOs never ends")
		}
	}
}

func utxosEqual(a, b []utxoAt) bool { return slices.Equal(a, b) }

func firstDiff(got, want []utxoAt) string {
	for i := range max(len(got), len(want)) {
		switch {
		case i >= len(got):
			return fmt.Sprintf("#%d missing from index: %+v", i, want[i])
		case i >= len(want):
			return fmt.Sprintf("#%d extra in index: %+v", i, got[i])
		case got[i] != want[i]:
			return fmt.Sprintf("#%d index %+v, btcd %+v", i, got[i], want[i])
		}
	}
	return "none"
}

// compareAPI checks a sample of the HTTP API's answers (GET /v1/tx,
// balance, utxos, header, spend, publications) against the snapshot, as
// of its tip by hash and, with atTip, also without asof.
func compareAPI(t *testing.T, c *tbc.Client, s *snapshot, atTip bool, e expectation) {
	t.Helper()
	ctx := context.Background()
	asOfs := []string{s.tip.String()}
	if atTip {
		asOfs = append(asOfs, "")
	}
	txids := sampleKeys(s.txs, 25)
	spends := sampleKeys(s.spends, 25)
	for _, asOf := range asOfs {
		where := fmt.Sprintf("asof=%q", asOf)
		for _, txid := range txids {
			want := s.txs[txid]
			got, err := c.Tx(ctx, txid.String(), asOf)
			if err != nil || got.Txid != txid.String() || got.BlockHash != want.block.String() || got.Height != want.height ||
				got.Position != want.pos || got.Confirmations != want.conf || got.Hex != want.hex {
				t.Errorf("GET /v1/tx/%s %s: %+v (%v), btcd %+v", txid, where, got, err, want)
			}
		}
		for _, op := range spends {
			want := s.spends[op]
			got, err := c.Spend(ctx, op.Hash.String(), op.Index, asOf)
			if err != nil || got.Txid != want.txid.String() || got.Input != want.vin || got.BlockHash != want.block.String() ||
				got.Height != want.height || got.Position != want.pos || got.Confirmations != s.height-want.height+1 {
				t.Errorf("GET /v1/spend/%s %s: %+v (%v), btcd %+v", op, where, got, err, want)
			}
		}
		for _, h := range []int32{0, 1, s.height / 2, s.height} {
			want := s.headers[h]
			for _, id := range []string{strconv.Itoa(int(h)), s.hashes[h].String()} {
				got, err := c.Header(ctx, id, asOf)
				if err != nil || got.Hash != want.Hash || got.Height != h || got.MerkleRoot != want.MerkleRoot ||
					got.Time != want.Time || got.Bits != want.Bits || got.Nonce != uint32(want.Nonce) || got.Version != want.Version {
					t.Errorf("GET /v1/header/%s %s: %+v (%v), btcd %+v", id, where, got, err, want)
				}
			}
		}
		for _, a := range s.addrs {
			b, err := c.Balance(ctx, a.addr.EncodeAddress(), asOf)
			if err != nil || b.Satoshis != a.balance || b.AsOf != s.tip.String() {
				t.Errorf("GET /v1/address/%s/balance %s: %+v (%v), btcd %d as of %s", a.addr, where, b, err, a.balance, s.tip)
			}
			var got []utxoAt
			for page := 0; ; page++ {
				us, err := c.UTXOs(ctx, a.addr.EncodeAddress(), asOf, page, 100)
				if err != nil {
					t.Errorf("GET /v1/address/%s/utxos %s page %d: %v", a.addr, where, page, err)
					break
				}
				for _, u := range us.UTXOs {
					txid, err := chainhash.NewHashFromStr(u.Txid)
					blk, berr := chainhash.NewHashFromStr(u.BlockHash)
					if err != nil || berr != nil {
						t.Fatalf("utxos reply with bad hashes: %+v", u)
					}
					got = append(got, utxoAt{op: wire.OutPoint{Hash: *txid, Index: u.Vout}, value: u.Satoshis,
						height: u.Height, block: *blk, pos: u.Position})
				}
				if len(us.UTXOs) < 100 {
					break
				}
			}
			if !utxosEqual(got, a.utxos) {
				t.Errorf("GET /v1/address/%s/utxos %s: %d utxos, btcd %d; first difference: %s", a.addr, where,
					len(got), len(a.utxos), firstDiff(got, a.utxos))
			}
		}
		for id, want := range expectedPublications(s, e.pubs) {
			got, err := c.Publications(ctx, hex.EncodeToString(id[:]), asOf)
			if err != nil || len(got) != len(want) {
				t.Errorf("GET /v1/publications/%x %s: %d (%v), want %d", id, where, len(got), err, len(want))
				continue
			}
			for i := range want {
				if got[i].Txid != want[i].Txid.String() || got[i].Vout != want[i].Vout || got[i].BlockHash != want[i].BlockHash.String() ||
					got[i].Height != want[i].Height || got[i].Position != want[i].TxIndex || got[i].Confirmations != want[i].Confirmations {
					t.Errorf("GET /v1/publications/%x %s #%d: %+v, want %+v", id, where, i, got[i], want[i])
				}
			}
		}
		for _, txid := range e.absent {
			if _, ok := s.txs[txid]; ok {
				continue
			}
			if got, err := c.Tx(ctx, txid.String(), asOf); !errors.Is(err, tbc.ErrAPI) || !strings.Contains(err.Error(), "not found") {
				t.Errorf("GET /v1/tx/%s %s: %+v (%v), want a not-found error", txid, where, got, err)
			}
		}
	}
}

// sampleKeys returns up to n keys of m spread over a sorted order, so runs
// compare the same sample.
func sampleKeys[K interface {
	comparable
	String() string
}, V any](m map[K]V, n int) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b K) int { return strings.Compare(a.String(), b.String()) })
	if len(keys) <= n {
		return keys
	}
	out := make([]K, 0, n)
	for i := range n {
		out = append(out, keys[i*len(keys)/n])
	}
	return out
}

package compat

import (
	"encoding/json"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/hemi-go/hemi/internal/btc/index"
	"github.com/hemi-go/hemi/internal/chain/block"
)

// headerSig is BitcoinReader.Header as cast spells a return type.
const headerSig = "((uint32,bytes32,uint32,bytes32,bytes32,uint32,uint32,uint32))"

// callJSON runs `cast call --json` at block and returns the decoded
// return values (numbers kept as json.Number).
func (c castClient) callJSON(block string, to common.Address, sig string, args ...string) []any {
	c.t.Helper()
	out := c.must(append([]string{"call", "--json", "--block", block, to.Hex(), sig}, args...)...)
	dec := json.NewDecoder(strings.NewReader(out))
	dec.UseNumber()
	var vals []any
	if err := dec.Decode(&vals); err != nil {
		c.t.Fatalf("cast call %s: %v\n%s", sig, err, out)
	}
	return vals
}

// num is a cast JSON number as an int64.
func num(t *testing.T, v any) int64 {
	t.Helper()
	n, ok := v.(json.Number)
	if !ok {
		t.Fatalf("%v (%T) is not a number", v, v)
	}
	i, err := n.Int64()
	if err != nil {
		t.Fatal(err)
	}
	return i
}

// checkHeader compares the reader's decoded header record (cast JSON)
// with the index's header.
func checkHeader(t *testing.T, what string, got any, want index.HeaderInfo) {
	t.Helper()
	f, ok := got.([]any)
	if !ok || len(f) != 8 {
		t.Fatalf("%s: header record %v", what, got)
	}
	h := want.Header
	exp := []string{strconv.Itoa(int(want.Height)), displayHash(want.Hash), strconv.Itoa(int(h.Version)), displayHash(h.PrevBlock),
		displayHash(h.MerkleRoot), strconv.FormatInt(h.Timestamp.Unix(), 10), strconv.FormatUint(uint64(h.Bits), 10), strconv.FormatUint(uint64(h.Nonce), 10)}
	names := []string{"height", "hash", "version", "prev hash", "merkle root", "time", "bits", "nonce"}
	for i := range exp {
		if g := strings.ToLower(toString(f[i])); g != exp[i] {
			t.Fatalf("%s: %s is %s, the index says %s (record %v)", what, names[i], g, exp[i], f)
		}
	}
}

func toString(v any) string {
	switch x := v.(type) {
	case json.Number:
		return x.String()
	case string:
		return x
	}
	return ""
}

// TestBitcoinReaderMatchesIndex checks that the forge-deployed
// BitcoinReader's answers — through the precompiles 0x40 balance, 0x43
// confirmations, 0x44 the view's header, 0x45 a header by height and 0x46
// an address's script — equal what the Bitcoin index says as of the
// Bitcoin view of the L2 block they ran in: once stored by a transaction
// (record), then through eth_call at two L2 blocks whose views differ
// after Bitcoin moved on and paid the address again.
func TestBitcoinReaderMatchesIndex(t *testing.T) {
	p := getProject(t)
	s := getStack(t)
	c := castClient{t: t, bin: castBin(t), url: s.url}
	_, key := s.account(6)
	reader, _ := p.forgeCreate(t, s, key, "BitcoinReader")

	payTxid := s.payTx.TxHash()
	pay, err := s.ix.TxByID(payTxid, chainhash.Hash{})
	if err != nil {
		t.Fatalf("the stack's payment %s is not indexed: %v", payTxid, err)
	}

	// Every payment so far is deep in the view the record runs against:
	// the stack's, and those earlier runs of this test made (-count).
	paid := s.paidTotal()
	// A transaction stores the answers of the block it lands in.
	r := c.send("--private-key", key, reader.Hex(), "record(string,bytes32,uint32)", s.pAddr, displayHash(payTxid), strconv.Itoa(int(pay.Height)))
	if uint64(r.Status) != 1 || len(r.Logs) != 1 {
		t.Fatalf("record: status %d, %d logs", r.Status, len(r.Logs))
	}
	n := uint64(r.BlockNumber)
	view := s.viewOf(t, n)
	vh := view.BitcoinHash
	bal, err := s.ix.Balance(s.pScript, vh)
	if err != nil {
		t.Fatal(err)
	}
	if bal != paid {
		t.Fatalf("index: the payee's balance as of view %d is %d, want the stack's payments %d", view.BitcoinHeight, bal, paid)
	}
	tx, err := s.ix.TxByID(payTxid, vh)
	if err != nil {
		t.Fatal(err)
	}
	if tx.Confirmations < 2 {
		t.Fatalf("index: the payment has %d confirmations as of the view; the stack buries it deeper", tx.Confirmations)
	}
	at, err := s.ix.HeaderByHeight(pay.Height, vh)
	if err != nil {
		t.Fatal(err)
	}
	// The Recorded event: (viewHeight, viewHash, balance, confirmations).
	ev := r.Logs[0]
	wantTopic := crypto.Keccak256Hash([]byte("Recorded(uint256,uint32,bytes32,uint64,uint32)"))
	if ev.Address != reader || ev.Topics[0] != wantTopic || ev.Topics[1] != common.BigToHash(new(big.Int).SetUint64(n)) || len(ev.Data) != 4*32 {
		t.Fatalf("Recorded event %+v", ev)
	}
	word := func(i int) *big.Int { return new(big.Int).SetBytes(ev.Data[32*i : 32*(i+1)]) }
	if word(0).Uint64() != uint64(view.BitcoinHeight) || common.BytesToHash(ev.Data[32:64]).Hex() != displayHash(vh) ||
		word(2).Int64() != bal || word(3).Int64() != int64(tx.Confirmations) {
		t.Fatalf("recorded in L2 block %d: view %d %x balance %d confirmations %d; the block's view is %d %s, the index says balance %d confirmations %d",
			n, word(0), ev.Data[32:64], word(2), word(3), view.BitcoinHeight, vh, bal, tx.Confirmations)
	}
	// The stored values, read back with cast.
	latest := "latest"
	if got := toString(c.callJSON(latest, reader, "lastHeaderHash()(bytes32)")[0]); got != displayHash(at.Hash) {
		t.Fatalf("headerAt(%d) recorded %s, the index says %s", pay.Height, got, at.Hash)
	}
	if got := toString(c.callJSON(latest, reader, "lastScript()(bytes)")[0]); got != hexutil.Encode(s.pScript) {
		t.Fatalf("script(%s) recorded %s, want %x", s.pAddr, got, s.pScript)
	}
	if got := num(t, c.callJSON(latest, reader, "recordedAt()(uint256)")[0]); uint64(got) != n {
		t.Fatalf("recordedAt %d, receipt block %d", got, n)
	}

	// Bitcoin moves on: a second payment, buried 2 deep below the view.
	pay2, err := s.pay(50_000_000)
	if err != nil {
		t.Fatal(err)
	}
	s.mineBitcoin(t, 1)
	tx2, err := s.ix.TxByID(pay2.TxHash(), chainhash.Hash{})
	if err != nil {
		t.Fatalf("second payment not indexed: %v", err)
	}
	s.mineBitcoin(t, int(s.l2.Spec.Config.ViewLag)+1)
	m := s.waitL2(t, "the L2 view to include the second payment", 20*time.Second, func(e block.Extra, _ uint64) bool {
		return int32(e.BitcoinHeight) > tx2.Height
	})
	view2 := s.viewOf(t, m)
	vh2 := view2.BitcoinHash
	mb := strconv.FormatUint(m, 10)
	bal2, err := s.ix.Balance(s.pScript, vh2)
	if err != nil {
		t.Fatal(err)
	}
	if bal2 != bal+50_000_000 {
		t.Fatalf("index: balance as of view %d is %d, want %d", view2.BitcoinHeight, bal2, bal+50_000_000)
	}
	if got := num(t, c.callJSON(mb, reader, "balance(string)(uint64)", s.pAddr)[0]); got != bal2 {
		t.Fatalf("balance at L2 block %d (view %d) = %d, the index says %d", m, view2.BitcoinHeight, got, bal2)
	}
	// The earlier block still answers as of its own view.
	if got := num(t, c.callJSON(strconv.FormatUint(n, 10), reader, "balance(string)(uint64)", s.pAddr)[0]); got != bal {
		t.Fatalf("balance at L2 block %d (view %d) = %d, the index says %d", n, view.BitcoinHeight, got, bal)
	}
	for _, id := range []chainhash.Hash{payTxid, pay2.TxHash()} {
		ti, err := s.ix.TxByID(id, vh2)
		if err != nil {
			t.Fatal(err)
		}
		if got := num(t, c.callJSON(mb, reader, "confirmations(bytes32)(uint32)", displayHash(id))[0]); got != int64(ti.Confirmations) {
			t.Fatalf("confirmations(%s) at L2 block %d = %d, the index says %d", id, m, got, ti.Confirmations)
		}
	}
	vhdr, err := s.ix.HeaderByHash(vh2, vh2)
	if err != nil {
		t.Fatal(err)
	}
	if vhdr.Height != int32(view2.BitcoinHeight) {
		t.Fatalf("index: view hash %s at height %d, the L2 block says %d", vh2, vhdr.Height, view2.BitcoinHeight)
	}
	checkHeader(t, "viewHeader", c.callJSON(mb, reader, "viewHeader()"+headerSig)[0], vhdr)
	h2, err := s.ix.HeaderByHeight(tx2.Height, vh2)
	if err != nil {
		t.Fatal(err)
	}
	checkHeader(t, "headerAt", c.callJSON(mb, reader, "headerAt(uint32)"+headerSig, strconv.Itoa(int(tx2.Height)))[0], h2)
	// Above the view there is no header, though the index has one: the
	// precompile answers empty and the reader reverts with its reason.
	above := strconv.Itoa(int(view2.BitcoinHeight) + 1)
	if _, err := s.ix.HeaderByHeight(int32(view2.BitcoinHeight)+1, chainhash.Hash{}); err != nil {
		t.Fatalf("index has no header above the view: %v", err)
	}
	if out, errOut, err := c.run("call", "--block", mb, reader.Hex(), "headerAt(uint32)"+headerSig, above); err == nil ||
		!strings.Contains(errOut, "execution reverted: BitcoinReader: no header at that height") {
		t.Fatalf("headerAt(%s) above the view at L2 block %d: %v\nstdout: %s\nstderr: %s", above, m, err, out, errOut)
	}
	if got := toString(c.callJSON(mb, reader, "script(string)(bytes)", s.pAddr)[0]); got != hexutil.Encode(s.pScript) {
		t.Fatalf("script(%s) = %s, want %x", s.pAddr, got, s.pScript)
	}
}

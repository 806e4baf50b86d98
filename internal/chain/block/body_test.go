package block

import (
	"bytes"
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/trie"
	"github.com/ethereum/go-ethereum/triedb"
)

var testKey, _ = crypto.HexToECDSA("b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291")

// userTxs are signed transactions of the three kinds users send.
func userTxs(t testing.TB) types.Transactions {
	t.Helper()
	signer := types.LatestSigner(&params.ChainConfig{ChainID: big.NewInt(743111), HomesteadBlock: big.NewInt(0), EIP155Block: big.NewInt(0), BerlinBlock: big.NewInt(0), LondonBlock: big.NewInt(0)})
	to := common.HexToAddress("0x3333333333333333333333333333333333333333")
	datas := []types.TxData{
		&types.LegacyTx{Nonce: 0, GasPrice: big.NewInt(1e9), Gas: 21000, To: &to, Value: big.NewInt(1)},
		&types.AccessListTx{ChainID: big.NewInt(743111), Nonce: 1, GasPrice: big.NewInt(1e9), Gas: 30000, To: &to, AccessList: types.AccessList{{Address: to}}},
		&types.DynamicFeeTx{ChainID: big.NewInt(743111), Nonce: 2, GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(2e9), Gas: 50000, Data: []byte{1, 2, 3}},
	}
	var out types.Transactions
	for _, d := range datas {
		tx, err := types.SignNewTx(testKey, signer, d)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tx)
	}
	return out
}

func testBody(t testing.TB, nsys, nuser int) *Body {
	b := &Body{}
	for i := range nsys {
		tx := systemTxCases()[1].tx.Copy()
		tx.SourceHash = SourceHash(DomainTunnelDeposit, [32]byte{byte(i)}, uint64(i))
		b.SystemTxs = append(b.SystemTxs, tx)
	}
	all := userTxs(t)
	for i := range nuser {
		b.Txs = append(b.Txs, all[i%len(all)])
	}
	return b
}

// referenceRoot builds the trie the slow way (a real trie over an
// in-memory database): key RLP(index), value the encoding in block order.
func referenceRoot(t *testing.T, values [][]byte) common.Hash {
	tr := trie.NewEmpty(triedb.NewDatabase(rawdb.NewMemoryDatabase(), nil))
	for i, v := range values {
		k, _ := rlp.EncodeToBytes(uint(i))
		if err := tr.Update(k, v); err != nil {
			t.Fatal(err)
		}
	}
	return tr.Hash()
}

func TestTxRoot(t *testing.T) {
	cases := []struct {
		name        string
		nsys, nuser int
	}{
		{"empty", 0, 0},
		{"system only", 1, 0},
		{"user only", 0, 3},
		{"both", 3, 3},
		{"past 0x7f entries", 100, 60},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := testBody(t, c.nsys, c.nuser)
			var values [][]byte
			for _, tx := range b.SystemTxs {
				bin, _ := tx.MarshalBinary()
				values = append(values, bin)
			}
			for _, tx := range b.Txs {
				bin, _ := tx.MarshalBinary()
				values = append(values, bin)
			}
			got := TxRoot(b)
			if want := referenceRoot(t, values); got != want {
				t.Fatalf("TxRoot %v, reference trie %v", got, want)
			}
			if c.nsys == 0 {
				// Without system txs it is Ethereum's transactionsRoot.
				if want := types.DeriveSha(b.Txs, trie.NewStackTrie(nil)); got != want {
					t.Fatalf("TxRoot %v, go-ethereum %v", got, want)
				}
			}
			if c.nsys+c.nuser == 0 && got != types.EmptyTxsHash {
				t.Fatal("empty body root is not EmptyTxsHash")
			}
			hashes := b.TxHashes()
			if len(hashes) != b.Len() {
				t.Fatal("hash count")
			}
			for i, v := range values {
				if hashes[i] != crypto.Keccak256Hash(v) {
					t.Fatalf("hash %d is not in block order", i)
				}
			}
		})
	}
}

func TestTxRootOrderMatters(t *testing.T) {
	b := testBody(t, 2, 0)
	swapped := &Body{SystemTxs: []*SystemTx{b.SystemTxs[1], b.SystemTxs[0]}}
	if TxRoot(b) == TxRoot(swapped) {
		t.Fatal("root ignores order")
	}
}

func TestBodyRoundTrip(t *testing.T) {
	for _, c := range []struct {
		name        string
		nsys, nuser int
	}{{"empty", 0, 0}, {"system", 2, 0}, {"user", 0, 3}, {"both", 2, 3}} {
		t.Run(c.name, func(t *testing.T) {
			b := testBody(t, c.nsys, c.nuser)
			enc, err := EncodeBody(b)
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodeBody(enc)
			if err != nil {
				t.Fatal(err)
			}
			if got.Len() != b.Len() || TxRoot(got) != TxRoot(b) {
				t.Fatal("round trip changed the body")
			}
			again, _ := EncodeBody(got)
			if !bytes.Equal(again, enc) {
				t.Fatal("re-encoding differs")
			}
			if err := got.Validate(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestBodyDecodeErrors(t *testing.T) {
	good, _ := EncodeBody(testBody(t, 1, 1))
	user := userTxs(t)[2]
	userBin, _ := user.MarshalBinary()
	sysBin, _ := systemTxCases()[1].tx.MarshalBinary()
	mk := func(v any) []byte {
		b, err := rlp.EncodeToBytes(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"trailing", append(append([]byte(nil), good...), 0xc0)},
		{"truncated", good[:len(good)-1]},
		{"three lists", mk([]any{[]any{}, []any{}, []any{}})},
		{"one list", mk([]any{[]any{}})},
		{"user tx among system txs", mk([]any{[][]byte{userBin}, []any{}})},
		{"system tx among user txs", mk([]any{[]any{}, [][]byte{sysBin}})},
		{"bad system tx", mk([]any{[][]byte{sysBin[:10]}, []any{}})},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := DecodeBody(c.in); !errors.Is(err, ErrBodyEncoding) {
				t.Fatalf("got %v, want ErrBodyEncoding", err)
			}
		})
	}
}

func TestBodyValidate(t *testing.T) {
	cases := []struct {
		name string
		b    *Body
		want error
	}{
		{"nil system tx", &Body{SystemTxs: []*SystemTx{nil}}, ErrBodyEncoding},
		{"nil user tx", &Body{Txs: types.Transactions{nil}}, ErrBodyEncoding},
		{"bad amount", &Body{SystemTxs: []*SystemTx{{Value: big.NewInt(-1)}}}, ErrSystemTxValue},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.b.Validate(); !errors.Is(err, c.want) {
				t.Fatalf("got %v want %v", err, c.want)
			}
		})
	}
}

func testReceipts() types.Receipts {
	log := &types.Log{Address: common.HexToAddress("0x42"), Topics: []common.Hash{{1}}, Data: []byte{9}}
	rs := types.Receipts{
		{Type: SystemTxType, Status: types.ReceiptStatusSuccessful, CumulativeGasUsed: 50_000, Logs: []*types.Log{log}},
		{Type: SystemTxType, Status: types.ReceiptStatusFailed, CumulativeGasUsed: 60_000},
		{Type: types.LegacyTxType, Status: types.ReceiptStatusSuccessful, CumulativeGasUsed: 81_000},
		{Type: types.DynamicFeeTxType, Status: types.ReceiptStatusSuccessful, CumulativeGasUsed: 102_000, Logs: []*types.Log{log}},
	}
	for _, r := range rs {
		r.Bloom = types.CreateBloom(r)
	}
	return rs
}

func TestReceiptRoot(t *testing.T) {
	rs := testReceipts()
	var values [][]byte
	for _, r := range rs {
		bin, err := r.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		values = append(values, bin)
	}
	if got, want := ReceiptRoot(rs), referenceRoot(t, values); got != want {
		t.Fatalf("ReceiptRoot %v, reference %v", got, want)
	}
	// go-ethereum's own list gets the system receipts wrong (type byte
	// only), which is why ReceiptList exists.
	if ReceiptRoot(rs) == types.DeriveSha(rs, trie.NewStackTrie(nil)) {
		t.Fatal("types.Receipts unexpectedly encodes 0x7E receipts")
	}
	user := rs[2:]
	if ReceiptRoot(user) != types.DeriveSha(user, trie.NewStackTrie(nil)) {
		t.Fatal("without system receipts the root must be Ethereum's")
	}
	if ReceiptRoot(nil) != types.EmptyReceiptsHash {
		t.Fatal("empty receipts root")
	}
}

func TestUnmarshalReceipt(t *testing.T) {
	for _, r := range testReceipts() {
		bin, _ := r.MarshalBinary()
		got, err := UnmarshalReceipt(bin)
		if err != nil {
			t.Fatalf("type %d: %v", r.Type, err)
		}
		again, _ := got.MarshalBinary()
		if !bytes.Equal(again, bin) || got.Type != r.Type || got.Status != r.Status {
			t.Fatalf("type %d: round trip differs", r.Type)
		}
	}
	bad := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"type only", []byte{SystemTxType}},
		{"post-state root", append([]byte{SystemTxType}, mustRLP(t, []any{make([]byte, 32), uint(1), types.Bloom{}, []any{}})...)},
		{"status 2", append([]byte{SystemTxType}, mustRLP(t, []any{[]byte{2}, uint(1), types.Bloom{}, []any{}})...)},
		{"unknown type", []byte{0x7d, 0xc0}},
		{"trailing", append(append([]byte{SystemTxType}, mustRLP(t, []any{[]byte{1}, uint(1), types.Bloom{}, []any{}})...), 0)},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			if _, err := UnmarshalReceipt(c.in); !errors.Is(err, ErrReceiptEncoding) {
				t.Fatalf("got %v", err)
			}
		})
	}
}

func mustRLP(t *testing.T, v any) []byte {
	b, err := rlp.EncodeToBytes(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

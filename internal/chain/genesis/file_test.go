package genesis

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/hemi-go/hemi/internal/golden"
)

// devFile is the devnet genesis file of devSpec: the same genesis.
func devFile(t testing.TB) *File {
	t.Helper()
	v := regtestViews(t, 0)[0]
	f, _, err := DevnetFile(crypto.PubkeyToAddress(sequencerKey.PublicKey), BitcoinBlock{Height: v.Height, Hash: v.Hash}, 1_700_000_000)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestFileRoundTrip: Encode then Decode gives the same file, the same
// canonical form and hash; so does decoding the canonical form; every
// field of the file reaches the decoded File.
func TestFileRoundTrip(t *testing.T) {
	f := devFile(t)
	f.Config.Sequencers = append(f.Config.Sequencers, common.Address{7})
	f.SequencerNames = []string{"", "second <&> one"}
	f.Config.ViewLag, f.Config.GasLimit, f.Config.InitialBaseFee = 0, 32_345_678, 1<<60
	f.Config.PoP.Reward = new(big.Int).Lsh(big.NewInt(1), 200)
	f.Bitcoin.Height = 7 // not block 0: any hash
	f.Bitcoin.Hash[0] = 0xee
	f.Alloc[common.Address{9}] = types.Account{Balance: new(big.Int), Nonce: 3, Code: []byte{0x60, 0x00},
		Storage: map[common.Hash]common.Hash{{1}: {2}, {3}: {4}}}
	f.Config.Tunnel = devTunnel(t)
	f.Config.Tunnel.MinDepositSat, f.Config.Tunnel.WithdrawalConfirmations, f.Config.Tunnel.RederiveBlocks = 12_345, 7, 9
	data, err := f.Encode()
	if err != nil {
		t.Fatal(err)
	}
	g, err := Decode(data)
	if err != nil {
		t.Fatalf("decode what Encode wrote: %v\n%s", err, data)
	}
	if !reflect.DeepEqual(f, g) {
		t.Fatalf("round trip differs:\n got %+v\nwant %+v", g, f)
	}
	if f.Hash() != g.Hash() || !bytes.Equal(f.Canonical(), g.Canonical()) {
		t.Fatal("round trip changes the hash")
	}
	h, err := Decode(f.Canonical())
	if err != nil || h.Hash() != f.Hash() {
		t.Fatalf("the canonical form decodes to another file: %v", err)
	}
	again, _ := g.Encode()
	if !bytes.Equal(again, data) {
		t.Fatal("Encode is not stable across a round trip")
	}
	// The canonical form is the written file with sorted keys and no
	// whitespace, as an independent JSON library writes it (Go's sorts
	// map keys; jq -cjS does the same).
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		t.Fatal(err)
	}
	var sorted bytes.Buffer
	enc := json.NewEncoder(&sorted)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(tree); err != nil {
		t.Fatal(err)
	}
	if got := f.Canonical(); !bytes.Equal(got, bytes.TrimSuffix(sorted.Bytes(), []byte("\n"))) {
		t.Fatalf("canonical form\n%s\nis not the sorted compact file\n%s", got, sorted.Bytes())
	}
	// Every field is covered by the hash.
	for name, mut := range map[string]func(*File){
		"chain id":    func(f *File) { f.Config.ChainID++ },
		"time":        func(f *File) { f.Time++ },
		"name":        func(f *File) { f.SequencerNames[1] = "other" },
		"fork table":  func(f *File) { f.Config.PoP.ForkTable[8]-- },
		"storage":     func(f *File) { f.Alloc[common.Address{9}].Storage[common.Hash{1}] = common.Hash{5} },
		"bitcoin":     func(f *File) { f.Bitcoin.Hash[1]++ },
		"view lag":    func(f *File) { f.Config.ViewLag++ },
		"reward time": func(f *File) { f.Config.PoP.RewardDelay++ },
		"tunnel k":    func(f *File) { f.Config.Tunnel.K-- },
		"tunnel key order": func(f *File) {
			f.Config.Tunnel.Recovery[0], f.Config.Tunnel.Recovery[1] = f.Config.Tunnel.Recovery[1], f.Config.Tunnel.Recovery[0]
		},
		"tunnel delay":   func(f *File) { f.Config.Tunnel.RecoveryDelay++ },
		"tunnel hbtc":    func(f *File) { f.Config.Tunnel.HBTCAddress[19]++ },
		"tunnel minimum": func(f *File) { f.Config.Tunnel.MinDepositSat++ },
		"no tunnel":      func(f *File) { f.Config.Tunnel = nil },
	} {
		c, _ := Decode(data)
		mut(c)
		if c.Hash() == f.Hash() {
			t.Errorf("%s: changing it keeps the hash", name)
		}
	}
}

// goldenFile pins the genesis file format 1: the hash of a fixed file
// (so a change of the canonical form, which changes every network's
// identity, is caught) and the genesis block it gives, which must be the
// devnet golden genesis (testdata/devnet_genesis.json) it describes.
type goldenFile struct {
	Hash       string `json:"hash"`
	HeaderHash string `json:"header_hash"`
	Canonical  string `json:"canonical"`
}

func TestGoldenFile(t *testing.T) {
	f, err := Load(filepath.Join("testdata", "genesis_v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.SequencerNames) != 1 || f.SequencerNames[0] != "sequencer 1" {
		t.Fatalf("names %q", f.SequencerNames)
	}
	s, err := f.Spec(regtestViews(t, 0)[0])
	if err != nil {
		t.Fatal(err)
	}
	h, err := s.Header()
	if err != nil {
		t.Fatal(err)
	}
	got := goldenFile{Hash: f.Hash().Hex(), HeaderHash: h.Hash().Hex(), Canonical: string(f.Canonical())}
	want := golden.JSON(t, filepath.Join("testdata", "genesis_v1_hash.json"), got, *update)
	if got != want {
		t.Fatalf("genesis file hash changed (every network's identity changes with it):\n got %+v\nwant %+v", got, want)
	}
	dev := golden.JSON(t, filepath.Join("testdata", "devnet_genesis.json"), goldenGenesis{}, false)
	if got.HeaderHash != dev.HeaderHash {
		t.Fatalf("the file's genesis block %s is not the devnet genesis %s it describes", got.HeaderHash, dev.HeaderHash)
	}
	// The devnet file built in code is the same network but for the
	// sequencer's name.
	d := devFile(t)
	if d.Hash() == f.Hash() {
		t.Fatal("a sequencer name does not change the hash")
	}
	d.SequencerNames = []string{"sequencer 1"}
	if d.Hash() != f.Hash() {
		t.Fatalf("DevnetFile %s differs from the golden file %s", d.Canonical(), f.Canonical())
	}
}

// TestSpecChecksBitcoinBlock: Spec refuses a view other than the block
// the file names.
func TestSpecChecksBitcoinBlock(t *testing.T) {
	f := devFile(t)
	views := regtestViews(t, 1)
	if _, err := f.Spec(views[1]); !errors.Is(err, ErrGenesisBlock) {
		t.Fatalf("another block: %v, want ErrGenesisBlock", err)
	}
	bad := views[0]
	bad.Height = 1
	if _, err := f.Spec(bad); !errors.Is(err, ErrGenesisBlock) {
		t.Fatalf("another height: %v, want ErrGenesisBlock", err)
	}
	s, err := f.Spec(views[0])
	if err != nil {
		t.Fatal(err)
	}
	// The spec owns its values: changing it leaves the file alone.
	s.Config.PoP.ForkTable[0], s.Config.Sequencers[0] = 1, common.Address{1}
	s.Config.Forks[FeatureHVMv0] = 9
	if f.Config.PoP.ForkTable[0] != 100 || f.Config.Sequencers[0] == (common.Address{1}) || f.Config.Forks[FeatureHVMv0] != 0 {
		t.Fatal("Spec shares the file's tables")
	}
}

func TestActive(t *testing.T) {
	c := DevnetConfig(common.Address{1})
	for _, f := range KnownFeatures() {
		if !c.Active(f, 0) || !c.Active(f, 1<<40) {
			t.Errorf("%s not active", f)
		}
		if FeatureDoc(f) == "" {
			t.Errorf("%s has no doc", f)
		}
	}
	c.Forks["later"] = 10
	if c.Active("later", 9) || !c.Active("later", 10) || c.Active("never", 1<<62) {
		t.Fatal("activation boundary")
	}
}

// devTunnel is the devnet's tunnel (DevTunnelConfig).
func devTunnel(t testing.TB) *TunnelConfig {
	t.Helper()
	c, err := DevTunnelConfig()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// devTunnelFile is devFile with the devnet's tunnel.
func devTunnelFile(t testing.TB) *File {
	f := devFile(t)
	f.Config.Tunnel = devTunnel(t)
	return f
}

// tun is the tunnel object of an edited file; devX(i) is dev signer i's
// key as the file writes it.
func tun(m map[string]any) map[string]any { return m["tunnel"].(map[string]any) }

func devX(i int) string {
	s, _, err := DevTunnelKeys()
	if err != nil {
		panic(err)
	}
	return hex.EncodeToString(s[i].XOnly[:])
}

// edit decodes the valid devnet file's JSON (with the dev tunnel), lets
// mut change it and encodes it again.
func edit(t *testing.T, mut func(m map[string]any)) []byte {
	t.Helper()
	data, err := devTunnelFile(t).Encode()
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	mut(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sub(m map[string]any, key string) map[string]any { return m[key].(map[string]any) }

// TestFileErrors: every way a file can be wrong is an error that names
// the field (or the line of broken JSON) and says what to do.
func TestFileErrors(t *testing.T) {
	seq := func(m map[string]any) map[string]any { return m["sequencers"].([]any)[0].(map[string]any) }
	firstAlloc := "0x14dc79964da2c08b23698b3d3cc7ca32193d9955"
	cases := []struct {
		name  string
		mut   func(m map[string]any)
		raw   []byte // instead of mut
		field string // "" for a whole-file error
		want  string // in the message
		kind  error
	}{
		{name: "version 2", mut: func(m map[string]any) { m["version"] = 2 }, field: "version", want: "format 1 only", kind: ErrFile},
		{name: "version missing", mut: func(m map[string]any) { delete(m, "version") }, field: "version", want: "missing", kind: ErrFile},
		{name: "chain id missing", mut: func(m map[string]any) { delete(m, "chain_id") }, field: "chain_id", want: "missing; add it", kind: ErrFile},
		{name: "chain id null", mut: func(m map[string]any) { m["chain_id"] = nil }, field: "chain_id", want: "missing", kind: ErrFile},
		{name: "chain id 0", mut: func(m map[string]any) { m["chain_id"] = 0 }, field: "chain_id", want: "must be positive", kind: ErrConfig},
		{name: "chain id string", mut: func(m map[string]any) { m["chain_id"] = "5" }, field: "chain_id", want: "want a number", kind: ErrFile},
		{name: "chain id fraction", mut: func(m map[string]any) { m["chain_id"] = json.Number("5.5") }, field: "chain_id", want: "whole number", kind: ErrFile},
		{name: "chain id exponent", mut: func(m map[string]any) { m["chain_id"] = json.Number("1e3") }, field: "chain_id", want: "whole number", kind: ErrFile},
		{name: "chain id negative", mut: func(m map[string]any) { m["chain_id"] = -1 }, field: "chain_id", want: "whole number", kind: ErrFile},
		{name: "chain id above 2^53", mut: func(m map[string]any) { m["chain_id"] = json.Number("9007199254740992") }, field: "chain_id", want: "whole number from 0 to 9007199254740991", kind: ErrFile},
		{name: "genesis time 0", mut: func(m map[string]any) { m["genesis_time"] = 0 }, field: "genesis_time", want: "date +%s", kind: ErrConfig},
		{name: "bitcoin not an object", mut: func(m map[string]any) { m["bitcoin"] = "regtest" }, field: "bitcoin", want: "want an object", kind: ErrFile},
		{name: "bitcoin network", mut: func(m map[string]any) { sub(m, "bitcoin")["network"] = "moonnet" }, field: "bitcoin.network", want: "unknown bitcoin network", kind: ErrConfig},
		{name: "bitcoin height negative", mut: func(m map[string]any) { sub(m, "bitcoin")["genesis_height"] = -3 }, field: "bitcoin.genesis_height", want: "whole number", kind: ErrFile},
		{name: "bitcoin height above int32", mut: func(m map[string]any) { sub(m, "bitcoin")["genesis_height"] = 1 << 31 }, field: "bitcoin.genesis_height", want: "2147483647", kind: ErrFile},
		{name: "bitcoin hash short", mut: func(m map[string]any) { sub(m, "bitcoin")["genesis_hash"] = "0f91" }, field: "bitcoin.genesis_hash", want: "64 hex digits", kind: ErrFile},
		{name: "bitcoin hash 0x", mut: func(m map[string]any) {
			sub(m, "bitcoin")["genesis_hash"] = "0x" + strings.Repeat("0", 62)
		}, field: "bitcoin.genesis_hash", want: "64 hex digits", kind: ErrFile},
		{name: "bitcoin hash not the network's block 0", mut: func(m map[string]any) {
			sub(m, "bitcoin")["genesis_hash"] = strings.Repeat("ab", 32)
		}, field: "bitcoin.genesis_hash", want: "not regtest's block 0", kind: ErrConfig},
		{name: "bitcoin hash zero", mut: func(m map[string]any) {
			sub(m, "bitcoin")["genesis_height"] = 5
			sub(m, "bitcoin")["genesis_hash"] = strings.Repeat("0", 64)
		}, field: "bitcoin.genesis_hash", want: "is zero", kind: ErrConfig},
		{name: "bitcoin unknown field", mut: func(m map[string]any) { sub(m, "bitcoin")["genesis_time"] = 1 }, field: "bitcoin.genesis_time", want: "unknown field", kind: ErrFile},
		{name: "sequencers empty", mut: func(m map[string]any) { m["sequencers"] = []any{} }, field: "sequencers", want: "non-empty list", kind: ErrConfig},
		{name: "sequencer address bad", mut: func(m map[string]any) { seq(m)["address"] = "0x1234" }, field: "sequencers[0].address", want: "40 hex digits", kind: ErrFile},
		{name: "sequencer address zero", mut: func(m map[string]any) { seq(m)["address"] = "0x" + strings.Repeat("0", 40) }, field: "sequencers[0].address", want: "zero address", kind: ErrConfig},
		{name: "sequencer duplicate", mut: func(m map[string]any) {
			m["sequencers"] = append(m["sequencers"].([]any), map[string]any{"address": strings.ToUpper(seq(m)["address"].(string)[2:])})
		}, field: "sequencers[1].address", want: "40 hex digits", kind: ErrFile},
		{name: "sequencer duplicate other case", mut: func(m map[string]any) {
			m["sequencers"] = append(m["sequencers"].([]any), map[string]any{"address": "0x" + strings.ToUpper(seq(m)["address"].(string)[2:])})
		}, field: "sequencers[1].address", want: "also sequencers[0]", kind: ErrConfig},
		{name: "sequencer name empty", mut: func(m map[string]any) { seq(m)["name"] = "" }, field: "sequencers[0].name", want: "is empty", kind: ErrFile},
		{name: "sequencer name quote", mut: func(m map[string]any) { seq(m)["name"] = `a"b` }, field: "sequencers[0].name", want: "printable ASCII", kind: ErrConfig},
		{name: "sequencer name non-ascii", mut: func(m map[string]any) { seq(m)["name"] = "séq" }, field: "sequencers[0].name", want: "printable ASCII", kind: ErrConfig},
		{name: "sequencer key", mut: func(m map[string]any) { seq(m)["key"] = "00" }, field: "sequencers[0].key", want: "unknown field", kind: ErrFile},
		{name: "block time 0", mut: func(m map[string]any) { m["block_time"] = 0 }, field: "block_time", want: "at least 1", kind: ErrConfig},
		{name: "block time as duration", mut: func(m map[string]any) { m["block_time"] = "2s" }, field: "block_time", want: "seconds between L2 blocks", kind: ErrFile},
		{name: "gas limit low", mut: func(m map[string]any) { m["gas_limit"] = 4999 }, field: "gas_limit", want: "at least 5000", kind: ErrConfig},
		{name: "base fee number", mut: func(m map[string]any) { m["initial_base_fee"] = 1 }, field: "initial_base_fee", want: "want a string", kind: ErrFile},
		{name: "base fee 0", mut: func(m map[string]any) { m["initial_base_fee"] = "0" }, field: "initial_base_fee", want: "must be positive", kind: ErrConfig},
		{name: "base fee leading zero", mut: func(m map[string]any) { m["initial_base_fee"] = "01" }, field: "initial_base_fee", want: "leading zeros", kind: ErrFile},
		{name: "base fee hex", mut: func(m map[string]any) { m["initial_base_fee"] = "0x10" }, field: "initial_base_fee", want: "decimal string", kind: ErrFile},
		{name: "base fee above u64", mut: func(m map[string]any) { m["initial_base_fee"] = "18446744073709551616" }, field: "initial_base_fee", want: "above 2^64-1", kind: ErrFile},
		{name: "view lag missing", mut: func(m map[string]any) { delete(m, "view_lag") }, field: "view_lag", want: "missing", kind: ErrFile},
		{name: "keystone interval 0", mut: func(m map[string]any) { m["keystone_interval"] = 0 }, field: "keystone_interval", want: "multiple", kind: ErrConfig},
		{name: "pop missing", mut: func(m map[string]any) { delete(m, "pop") }, field: "pop", want: "missing", kind: ErrFile},
		{name: "superfinal depth 0", mut: func(m map[string]any) { sub(m, "pop")["superfinal_depth"] = 0 }, field: "pop.superfinal_depth", want: "must be >= 1; set it to the Bitcoin confirmations", kind: ErrConfig},
		{name: "superfinal depth missing", mut: func(m map[string]any) { delete(sub(m, "pop"), "superfinal_depth") }, field: "pop.superfinal_depth", want: "missing", kind: ErrFile},
		{name: "fork table empty", mut: func(m map[string]any) { sub(m, "pop")["fork_table"] = []any{} }, field: "pop.fork_table", want: "is empty", kind: ErrConfig},
		{name: "fork table increasing", mut: func(m map[string]any) { sub(m, "pop")["fork_table"] = []any{90, 95} }, field: "pop.fork_table[1]", want: "non-increasing", kind: ErrConfig},
		{name: "fork table entry above u32", mut: func(m map[string]any) { sub(m, "pop")["fork_table"] = []any{1 << 32} }, field: "pop.fork_table[0]", want: "4294967295", kind: ErrFile},
		{name: "reward 0 with rewards on", mut: func(m map[string]any) { sub(m, "pop")["reward"] = "0" }, field: "pop.reward", want: "must be positive", kind: ErrConfig},
		{name: "reward above 2^256", mut: func(m map[string]any) { sub(m, "pop")["reward"] = strings.Repeat("9", 78) }, field: "pop.reward", want: "2^256-1", kind: ErrFile},
		{name: "reward above 2^248", mut: func(m map[string]any) { sub(m, "pop")["reward"] = new(big.Int).Lsh(big.NewInt(1), 250).String() }, field: "pop.reward", want: "too large", kind: ErrConfig},
		{name: "reward table above 100", mut: func(m map[string]any) { sub(m, "pop")["reward_table"] = []any{101} }, field: "pop.reward_table[0]", want: "above 100", kind: ErrConfig},
		{name: "reward table empty", mut: func(m map[string]any) { sub(m, "pop")["reward_table"] = []any{} }, field: "pop.reward_table", want: "is empty", kind: ErrConfig},
		{name: "max rewarded 0", mut: func(m map[string]any) { sub(m, "pop")["max_rewarded"] = 0 }, field: "pop.max_rewarded", want: "reward_delay to 0", kind: ErrConfig},
		{name: "max rewarded over gas", mut: func(m map[string]any) { sub(m, "pop")["max_rewarded"] = 1000 }, field: "pop.max_rewarded", want: "gas", kind: ErrConfig},
		{name: "pop unknown field", mut: func(m map[string]any) { sub(m, "pop")["depth"] = 1 }, field: "pop.depth", want: "unknown field", kind: ErrFile},
		{name: "forks missing", mut: func(m map[string]any) { delete(m, "forks") }, field: "forks", want: "missing", kind: ErrFile},
		{name: "fork missing", mut: func(m map[string]any) { delete(sub(m, "forks"), "hvm_tx_parts") }, field: "forks.hvm_tx_parts", want: "add it with activation block 0", kind: ErrConfig},
		{name: "fork later", mut: func(m map[string]any) { sub(m, "forks")["hvm_v0"] = 100 }, field: "forks.hvm_v0", want: "set it to 0", kind: ErrConfig},
		{name: "fork unknown", mut: func(m map[string]any) { sub(m, "forks")["warp_drive"] = 0 }, field: "forks.warp_drive", want: "unknown feature", kind: ErrConfig},
		{name: "fork not a number", mut: func(m map[string]any) { sub(m, "forks")["hvm_v0"] = "0" }, field: "forks.hvm_v0", want: "want a number", kind: ErrFile},
		{name: "alloc missing", mut: func(m map[string]any) { delete(m, "alloc") }, field: "alloc", want: "missing", kind: ErrFile},
		{name: "alloc bad address", mut: func(m map[string]any) { sub(m, "alloc")["f39f"] = map[string]any{"balance": "1"} }, field: "alloc.f39f", want: "not an address", kind: ErrFile},
		{name: "alloc same address in two cases", mut: func(m map[string]any) {
			sub(m, "alloc")[strings.Replace(firstAlloc, "dc", "DC", 1)] = map[string]any{"balance": "1"}
		}, field: "alloc." + firstAlloc, want: "another case", kind: ErrFile},
		{name: "alloc balance missing", mut: func(m map[string]any) { sub(m, "alloc")[firstAlloc] = map[string]any{} }, field: "alloc." + firstAlloc + ".balance", want: "missing", kind: ErrFile},
		{name: "alloc balance negative", mut: func(m map[string]any) {
			sub(m, "alloc")[firstAlloc] = map[string]any{"balance": "-1"}
		}, field: "alloc." + firstAlloc + ".balance", want: "no sign", kind: ErrFile},
		{name: "alloc code odd", mut: func(m map[string]any) {
			sub(m, "alloc")[firstAlloc] = map[string]any{"balance": "1", "code": "0x123"}
		}, field: "alloc." + firstAlloc + ".code", want: "hex", kind: ErrFile},
		{name: "alloc storage slot short", mut: func(m map[string]any) {
			sub(m, "alloc")[firstAlloc] = map[string]any{"balance": "1", "storage": map[string]any{"0x01": "0x02"}}
		}, field: "alloc." + firstAlloc + ".storage.0x01", want: "64 hex digits", kind: ErrFile},
		{name: "alloc private key", mut: func(m map[string]any) {
			sub(m, "alloc")[firstAlloc] = map[string]any{"balance": "1", "secretKey": "0x01"}
		}, field: "alloc." + firstAlloc + ".secretKey", want: "unknown field", kind: ErrFile},
		{name: "alloc over a predeploy", mut: func(m map[string]any) {
			sub(m, "alloc")[strings.ToLower(HVMStateAddress.Hex())] = map[string]any{"balance": "1"}
		}, field: "alloc." + strings.ToLower(HVMStateAddress.Hex()), want: "predeploy", kind: ErrConfig},
		{name: "tunnel not an object", mut: func(m map[string]any) { m["tunnel"] = "bcrt1p..." }, field: "tunnel", want: "want an object", kind: ErrFile},
		{name: "tunnel empty object", mut: func(m map[string]any) { m["tunnel"] = map[string]any{} }, field: "tunnel.signers", want: "missing", kind: ErrFile},
		{name: "tunnel vault address", mut: func(m map[string]any) { tun(m)["vault"] = "bcrt1p..." }, field: "tunnel.vault", want: "unknown field", kind: ErrFile},
		{name: "tunnel signers empty", mut: func(m map[string]any) { tun(m)["signers"] = []any{} }, field: "tunnel.signers", want: "is empty", kind: ErrConfig},
		{name: "tunnel signers not a list", mut: func(m map[string]any) { tun(m)["signers"] = devX(0) }, field: "tunnel.signers", want: "want a list", kind: ErrFile},
		{name: "tunnel signer 0x", mut: func(m map[string]any) { tun(m)["signers"].([]any)[1] = "0x" + devX(1)[2:] }, field: "tunnel.signers[1]", want: "without 0x", kind: ErrFile},
		{name: "tunnel signer compressed", mut: func(m map[string]any) { tun(m)["signers"].([]any)[0] = "02" + devX(0) }, field: "tunnel.signers[0]", want: "64 hex digits", kind: ErrFile},
		{name: "tunnel signer number", mut: func(m map[string]any) { tun(m)["signers"].([]any)[0] = 5 }, field: "tunnel.signers[0]", want: "want a string", kind: ErrFile},
		{name: "tunnel signer not on the curve", mut: func(m map[string]any) {
			tun(m)["signers"].([]any)[2] = strings.Repeat("0", 63) + "5" // x = 5: x^3+7 = 132 is not a square mod p
		}, field: "tunnel.signers[2]", want: "not a BIP-340 x-only public key", kind: ErrConfig},
		{name: "tunnel signer above p", mut: func(m map[string]any) { tun(m)["signers"].([]any)[2] = strings.Repeat("f", 64) }, field: "tunnel.signers[2]", want: "not a BIP-340", kind: ErrConfig},
		{name: "tunnel signer duplicate other case", mut: func(m map[string]any) {
			tun(m)["signers"].([]any)[2] = strings.ToUpper(devX(0))
		}, field: "tunnel.signers[2]", want: "also tunnel.signers[0]", kind: ErrConfig},
		{name: "tunnel k 0", mut: func(m map[string]any) { tun(m)["k"] = 0 }, field: "tunnel.k", want: "want 1 to 3", kind: ErrConfig},
		{name: "tunnel k above n", mut: func(m map[string]any) { tun(m)["k"] = 4 }, field: "tunnel.k", want: "want 1 to 3", kind: ErrConfig},
		{name: "tunnel k missing", mut: func(m map[string]any) { delete(tun(m), "k") }, field: "tunnel.k", want: "missing", kind: ErrFile},
		{name: "tunnel recovery empty", mut: func(m map[string]any) { tun(m)["recovery"] = []any{} }, field: "tunnel.recovery", want: "stuck forever", kind: ErrConfig},
		{name: "tunnel recovery duplicate", mut: func(m map[string]any) {
			r := tun(m)["recovery"].([]any)
			r[1] = r[0]
		}, field: "tunnel.recovery[1]", want: "also tunnel.recovery[0]", kind: ErrConfig},
		{name: "tunnel m above", mut: func(m map[string]any) { tun(m)["m"] = 9 }, field: "tunnel.m", want: "want 1 to 3", kind: ErrConfig},
		{name: "tunnel recovery delay 0", mut: func(m map[string]any) { tun(m)["recovery_delay"] = 0 }, field: "tunnel.recovery_delay", want: "want 2 to 65535", kind: ErrConfig},
		{name: "tunnel recovery delay above CSV", mut: func(m map[string]any) { tun(m)["recovery_delay"] = 65536 }, field: "tunnel.recovery_delay", want: "0 to 65535", kind: ErrFile},
		{name: "tunnel deposit confirmations 0", mut: func(m map[string]any) { tun(m)["deposit_confirmations"] = 0 }, field: "tunnel.deposit_confirmations", want: "at least 1", kind: ErrConfig},
		{name: "tunnel withdrawal confirmations 0", mut: func(m map[string]any) { tun(m)["withdrawal_confirmations"] = 0 }, field: "tunnel.withdrawal_confirmations", want: "at least 1", kind: ErrConfig},
		{name: "tunnel min deposit 0", mut: func(m map[string]any) { tun(m)["min_deposit_sat"] = 0 }, field: "tunnel.min_deposit_sat", want: "satoshis", kind: ErrConfig},
		{name: "tunnel min deposit above 21M BTC", mut: func(m map[string]any) { tun(m)["min_deposit_sat"] = json.Number("2100000000000001") }, field: "tunnel.min_deposit_sat", want: "satoshis", kind: ErrConfig},
		{name: "tunnel min deposit string", mut: func(m map[string]any) { tun(m)["min_deposit_sat"] = "10000" }, field: "tunnel.min_deposit_sat", want: "want a number", kind: ErrFile},
		{name: "tunnel max deposits 0", mut: func(m map[string]any) { tun(m)["max_deposits_per_block"] = 0 }, field: "tunnel.max_deposits_per_block", want: "carry over", kind: ErrConfig},
		{name: "tunnel max deposits huge", mut: func(m map[string]any) { tun(m)["max_deposits_per_block"] = 5000 }, field: "tunnel.max_deposits_per_block", want: "0 to 1000", kind: ErrFile},
		{name: "tunnel rederive 0", mut: func(m map[string]any) { tun(m)["rederive_blocks"] = 0 }, field: "tunnel.rederive_blocks", want: "at least 1", kind: ErrConfig},
		{name: "tunnel address bad", mut: func(m map[string]any) { tun(m)["tunnel_address"] = "0x48656d69" }, field: "tunnel.tunnel_address", want: "40 hex digits", kind: ErrFile},
		{name: "tunnel address zero", mut: func(m map[string]any) { tun(m)["tunnel_address"] = "0x" + strings.Repeat("0", 40) }, field: "tunnel.tunnel_address", want: "zero address", kind: ErrConfig},
		{name: "tunnel address is HVMState", mut: func(m map[string]any) {
			tun(m)["tunnel_address"] = HVMStateAddress.Hex()
		}, field: "tunnel.tunnel_address", want: "another predeploy", kind: ErrConfig},
		{name: "hbtc is the tunnel", mut: func(m map[string]any) { tun(m)["hbtc_address"] = tun(m)["tunnel_address"] }, field: "tunnel.hbtc_address", want: "two contracts", kind: ErrConfig},
		{name: "alloc over the hbtc predeploy", mut: func(m map[string]any) {
			sub(m, "alloc")[strings.ToLower(DefaultHBTCAddress.Hex())] = map[string]any{"balance": "1"}
		}, field: "alloc." + strings.ToLower(DefaultHBTCAddress.Hex()), want: "predeploy", kind: ErrConfig},
		{name: "unknown top-level field", mut: func(m map[string]any) { m["chainid"] = 5 }, field: "chainid", want: "unknown field", kind: ErrFile},
		{name: "duplicate key", raw: []byte(`{"version": 1, "version": 1}`), field: "version", want: "appears twice", kind: ErrFile},
		{name: "duplicate nested key", raw: []byte(`{"version": 1, "pop": {"reward": "1", "reward": "2"}}`), field: "pop.reward", want: "appears twice", kind: ErrFile},
		{name: "not an object", raw: []byte(`[1]`), field: "", want: "one JSON object", kind: ErrFile},
		{name: "broken JSON", raw: []byte("{\n  \"version\": 1,\n  \"chain_id\" 5\n}"), want: "line 3", kind: ErrFile},
		{name: "trailing data", raw: []byte(`{"version": 1} {}`), want: "more data after", kind: ErrFile},
		{name: "empty", raw: []byte(``), want: "ends early", kind: ErrFile},
		{name: "too deep", raw: []byte(strings.Repeat("[", 20) + strings.Repeat("]", 20)), want: "nested deeper", kind: ErrFile},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := tc.raw
			if data == nil {
				data = edit(t, tc.mut)
			}
			_, err := Decode(data)
			if err == nil {
				t.Fatalf("accepted:\n%s", data)
			}
			if !errors.Is(err, tc.kind) {
				t.Fatalf("%v: not %v", err, tc.kind)
			}
			var fe *FieldError
			if tc.field != "" {
				if !errors.As(err, &fe) || fe.Field != tc.field {
					t.Fatalf("%v: want field %q", err, tc.field)
				}
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%v: want %q in the message", err, tc.want)
			}
		})
	}
	// Truncating a valid file anywhere is an error, never a crash.
	data, _ := devTunnelFile(t).Encode()
	for i := range len(data) - 1 {
		if _, err := Decode(data[:i]); !errors.Is(err, ErrFile) {
			t.Fatalf("truncated at %d: %v", i, err)
		}
	}
}

// TestLoad: errors start with the path, as in
// "genesis.json: pop.superfinal_depth: must be >= 1; ...".
func TestLoad(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "genesis.json")
	bad := edit(t, func(m map[string]any) { sub(m, "pop")["superfinal_depth"] = 0 })
	if err := os.WriteFile(p, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(p)
	if err == nil || !strings.HasPrefix(err.Error(), p+": pop.superfinal_depth: must be >= 1; set it to the Bitcoin confirmations") {
		t.Fatalf("Load: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "absent.json")); err == nil || !strings.Contains(err.Error(), "absent.json") {
		t.Fatalf("missing file: %v", err)
	}
	big := make([]byte, MaxFileSize+1)
	if _, err := Decode(big); !errors.Is(err, ErrFile) {
		t.Fatalf("oversized: %v", err)
	}
}

// FuzzDecodeFile: Decode never panics; a file it accepts encodes to a
// file that decodes to the same hash, and so does its canonical form.
func FuzzDecodeFile(f *testing.F) {
	valid, err := devFile(f).Encode()
	if err != nil {
		f.Fatal(err)
	}
	golden, err := os.ReadFile(filepath.Join("testdata", "genesis_v1.json"))
	if err != nil {
		f.Fatal(err)
	}
	withTunnel, err := devTunnelFile(f).Encode()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add(withTunnel)
	f.Add(devTunnelFile(f).Canonical())
	f.Add(bytes.Replace(withTunnel, []byte(`"k": 2`), []byte(`"k": 4`), 1))
	f.Add(golden)
	f.Add(devFile(f).Canonical())
	f.Add(valid[:len(valid)/2])
	f.Add(golden[:len(golden)-3])
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte(`{"version":1,"version":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Decode(data)
		if err != nil {
			if !errors.Is(err, ErrFile) && !errors.Is(err, ErrConfig) {
				t.Fatalf("error of no kind: %v", err)
			}
			return
		}
		enc, err := file.Encode()
		if err != nil {
			t.Fatalf("an accepted file does not encode: %v", err)
		}
		again, err := Decode(enc)
		if err != nil || again.Hash() != file.Hash() {
			t.Fatalf("round trip: %v", err)
		}
		canon, err := Decode(file.Canonical())
		if err != nil || canon.Hash() != file.Hash() {
			t.Fatalf("canonical round trip: %v", err)
		}
	})
}

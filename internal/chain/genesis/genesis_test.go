package genesis

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/triedb"
	"github.com/ethereum/go-ethereum/triedb/pathdb"

	"github.com/hemi-go/hemi/internal/btc/txgen"
	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/hvm"
	"github.com/hemi-go/hemi/internal/testtools"
)

var sequencerKey, _ = crypto.HexToECDSA("8a1f9a8f95be41cd7ccb6168179afb4504aefe388d1e14474d32c45c72ce7b7a")

// regtestViews returns real regtest headers: the genesis and n blocks
// built and solved by txgen.
func regtestViews(t testing.TB, n int) []hvm.Header {
	t.Helper()
	p := &chaincfg.RegressionNetParams
	out := []hvm.Header{{Height: 0, Hash: p.GenesisBlock.Header.BlockHash(), Header: p.GenesisBlock.Header}}
	c := txgen.NewChain(p)
	for i := range n {
		b, err := c.NextBlock(txgen.BlockSpec{PayTo: []byte{0x51}, ExtraNonce: uint64(i)})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, hvm.Header{Height: int32(i + 1), Hash: b.Header.BlockHash(), Header: b.Header})
	}
	return out
}

func devSpec(t testing.TB) (*Spec, []DevAccount) {
	t.Helper()
	s, accs, err := DevnetSpec(crypto.PubkeyToAddress(sequencerKey.PublicKey), regtestViews(t, 0)[0], 1_700_000_000)
	if err != nil {
		t.Fatal(err)
	}
	return s, accs
}

// TestDevAccountsAnvil: the dev mnemonic gives anvil's published accounts.
func TestDevAccountsAnvil(t *testing.T) {
	accs, err := DevAccounts(DevMnemonic, DevAccountCount)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ addr, key string }{
		{"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"},
		{"0x70997970C51812dc3A010C7d01b50e0d17dc79C8", "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"},
		{"0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC", "5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"},
		{"0xa0Ee7A142d267C1f36714E4a8F75612F20a79720", "2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6"},
	}
	for i, w := range []int{0, 1, 2, 9} {
		a := accs[w]
		if a.Address != common.HexToAddress(want[i].addr) || common.Bytes2Hex(crypto.FromECDSA(a.Key)) != want[i].key {
			t.Errorf("account %d: %v %x, want %s %s", w, a.Address, crypto.FromECDSA(a.Key), want[i].addr, want[i].key)
		}
		if a.Path != fmt.Sprintf("m/44'/60'/0'/0/%d", w) {
			t.Errorf("account %d path %s", w, a.Path)
		}
	}
}

func TestDevAccountsErrors(t *testing.T) {
	cases := []struct {
		name     string
		mnemonic string
		n        int
		want     error
	}{
		{"bad checksum", "test test test test test test test test test test test test", 1, ErrMnemonic},
		{"unknown word", "test test test test test test test test test test test junkk", 1, ErrMnemonic},
		{"empty", "", 1, ErrMnemonic},
		{"negative count", DevMnemonic, -1, ErrConfig},
		{"too many", DevMnemonic, MaxDevAccounts + 1, ErrConfig},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := DevAccounts(c.mnemonic, c.n); !errors.Is(err, c.want) {
				t.Fatalf("got %v want %v", err, c.want)
			}
		})
	}
	if accs, err := DevAccounts(DevMnemonic, 0); err != nil || len(accs) != 0 {
		t.Fatalf("zero accounts: %v %v", accs, err)
	}
}

func TestChainConfig(t *testing.T) {
	c := DevnetConfig(common.Address{1})
	cfg := c.ChainConfig()
	if err := cfg.CheckConfigForkOrder(); err != nil {
		t.Fatal(err)
	}
	if err := cfg.CheckCompatible(cfg, 0, 0); err != nil {
		t.Fatal(err)
	}
	if cfg.ChainID.Uint64() != DevnetChainID {
		t.Fatal("chain id")
	}
	r := cfg.Rules(common.Big0, true, 0)
	if !r.IsLondon || !r.IsMerge || !r.IsShanghai || !r.IsCancun || !r.IsPrague || !r.IsOsaka {
		t.Fatalf("a mainnet fork is off at genesis: %+v", r)
	}
	if r.IsAmsterdam || r.IsBogota || r.IsUBT {
		t.Fatalf("an unscheduled fork is on: %+v", r)
	}
	// Every fork mainnet has at its latest time is active here at time 0.
	main := params.MainnetChainConfig
	if got, want := cfg.LatestFork(0), main.LatestFork(^uint64(0)>>1); got != want {
		t.Fatalf("latest fork %v, mainnet's %v", got, want)
	}
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		mut  func(c *Config)
	}{
		{"chain id 0", func(c *Config) { c.ChainID = 0 }},
		{"sub-second block time", func(c *Config) { c.BlockTime = 1500 * time.Millisecond }},
		{"zero block time", func(c *Config) { c.BlockTime = 0 }},
		{"tiny gas limit", func(c *Config) { c.GasLimit = 4999 }},
		{"zero base fee", func(c *Config) { c.InitialBaseFee = 0 }},
		{"zero keystone interval", func(c *Config) { c.KeystoneInterval = 0 }},
		{"no sequencer", func(c *Config) { c.Sequencers = nil }},
		{"zero sequencer", func(c *Config) { c.Sequencers = []common.Address{{}} }},
		{"unknown network", func(c *Config) { c.BitcoinNetwork = "litecoin" }},
	}
	good := DevnetConfig(common.Address{1})
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := DevnetConfig(common.Address{1})
			c.mut(&cfg)
			if err := cfg.Validate(); !errors.Is(err, ErrConfig) {
				t.Fatalf("got %v", err)
			}
		})
	}
	if _, err := (&Config{BitcoinNetwork: "x"}).BitcoinParams(); !errors.Is(err, ErrConfig) {
		t.Fatal(err)
	}
	if p, err := good.BitcoinParams(); err != nil || p.Name != "regtest" {
		t.Fatal(p, err)
	}
	if !good.IsSequencer(common.Address{1}) || good.IsSequencer(common.Address{2}) {
		t.Fatal("IsSequencer")
	}
	if !good.IsKeystone(0) || !good.IsKeystone(50) || good.IsKeystone(26) {
		t.Fatal("IsKeystone")
	}
}

func TestCheckUserTxType(t *testing.T) {
	cases := []struct {
		typ uint8
		ok  bool
	}{
		{types.LegacyTxType, true}, {types.AccessListTxType, true}, {types.DynamicFeeTxType, true},
		{types.SetCodeTxType, true}, {types.BlobTxType, false}, {block.SystemTxType, false}, {0x05, false},
	}
	for _, c := range cases {
		err := CheckUserTxType(c.typ)
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, ErrTxType)) {
			t.Errorf("type %#x: %v", c.typ, err)
		}
	}
}

func TestNextBaseFee(t *testing.T) {
	c := DevnetConfig(common.Address{1})
	cfg := c.ChainConfig()
	parent := &types.Header{Number: big.NewInt(1), GasLimit: 30_000_000, BaseFee: big.NewInt(1e9)}
	cases := []struct {
		name string
		used uint64
		want int64
	}{
		{"at target", 15_000_000, 1_000_000_000},
		{"full", 30_000_000, 1_125_000_000},
		{"empty", 0, 875_000_000},
	}
	for _, tc := range cases {
		parent.GasUsed = tc.used
		if got := NextBaseFee(cfg, parent); got.Int64() != tc.want {
			t.Errorf("%s: %v want %d", tc.name, got, tc.want)
		}
	}
}

func TestGenesisHeader(t *testing.T) {
	s, accs := devSpec(t)
	h, st, err := s.InMemory()
	if err != nil {
		t.Fatal(err)
	}
	e, err := block.HeaderExtra(h)
	if err != nil || e.Sealed() || e.BitcoinHeight != 0 || e.BitcoinHash != *chaincfg.RegressionNetParams.GenesisHash {
		t.Fatalf("extra %+v %v", e, err)
	}
	if h.Number.Sign() != 0 || h.GasLimit != DefaultGasLimit || h.BaseFee.Uint64() != params.InitialBaseFee ||
		h.TxHash != types.EmptyTxsHash || h.ReceiptHash != types.EmptyReceiptsHash || h.Difficulty.Sign() != 0 ||
		h.ParentBeaconRoot == nil || h.RequestsHash == nil || h.WithdrawalsHash == nil || *h.BlobGasUsed != 0 {
		t.Fatalf("header fields: %+v", h)
	}
	// Deterministic across runs, map orders and databases.
	for range 3 {
		h2, err := s.Header()
		if err != nil || h2.Hash() != h.Hash() {
			t.Fatalf("not deterministic: %v %v", h2.Hash(), err)
		}
	}
	// A path-scheme database commits the same root.
	ptdb := triedb.NewDatabase(rawdb.NewMemoryDatabase(), &triedb.Config{PathDB: pathdb.Defaults})
	if h3, err := s.Commit(ptdb); err != nil || h3.Root != h.Root {
		t.Fatalf("commit again: %v", err)
	}
	for _, a := range accs {
		if st.GetBalance(a.Address).ToBig().Cmp(DevBalance()) != 0 {
			t.Fatalf("%v not funded", a.Address)
		}
	}
	for addr, acc := range SystemContracts() {
		if !bytes.Equal(st.GetCode(addr), acc.Code) || st.GetNonce(addr) != 1 {
			t.Fatalf("system contract %v missing", addr)
		}
	}
	if !bytes.Equal(st.GetCode(HVMStateAddress), HVMStateCode()) {
		t.Fatal("HVMState code missing")
	}
	if got := ReadView(st); !sameView(got, s.View) {
		t.Fatalf("genesis view in storage: %+v, want %+v", got, s.View)
	}
}

func sameView(a, b hvm.Header) bool {
	return a.Height == b.Height && a.Hash == b.Hash && a.Header.BlockHash() == b.Header.BlockHash() && a.Header.BlockHash() == a.Hash
}

func TestGenesisErrors(t *testing.T) {
	cases := []struct {
		name string
		mut  func(s *Spec)
		want error
	}{
		{"bad config", func(s *Spec) { s.Config.ChainID = 0 }, ErrConfig},
		{"alloc over predeploy", func(s *Spec) { s.Alloc[HVMStateAddress] = types.Account{Balance: big.NewInt(1)} }, ErrConfig},
		{"alloc over system contract", func(s *Spec) { s.Alloc[params.BeaconRootsAddress] = types.Account{Balance: big.NewInt(1)} }, ErrConfig},
		{"negative balance", func(s *Spec) { s.Alloc[common.Address{9}] = types.Account{Balance: big.NewInt(-1)} }, ErrConfig},
		{"balance over 256 bits", func(s *Spec) {
			s.Alloc[common.Address{9}] = types.Account{Balance: new(big.Int).Lsh(big.NewInt(1), 256)}
		}, ErrConfig},
		{"negative view height", func(s *Spec) { s.View.Height = -1 }, ErrView},
		{"view time past u32", func(s *Spec) { s.View.Header.Timestamp = time.Unix(1<<32, 0) }, ErrView},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, _ := devSpec(t)
			c.mut(s)
			if _, err := s.Header(); !errors.Is(err, c.want) {
				t.Fatalf("got %v want %v", err, c.want)
			}
		})
	}
}

// TestPredeployBytecodeMatchesSource recompiles contracts/ with the pinned
// solc-js and compares with the embedded bytecode.
func TestPredeployBytecodeMatchesSource(t *testing.T) {
	if testing.Short() {
		t.Skip("recompiles Solidity (-short)")
	}
	testtools.Tool(t, "node") // scripts/gen-predeploys.sh needs node and npm
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..", "..")
	testtools.Cmd{Bin: "bash", Args: []string{filepath.Join(root, "scripts", "gen-predeploys.sh"), "--check"},
		Dir: root, Timeout: 10 * time.Minute}.MustRun(t)
}

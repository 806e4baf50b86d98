package genesis

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"math/big"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/hemi-go/hemi/internal/btc/network"
	"github.com/hemi-go/hemi/internal/hvm"
)

// FileVersion is the genesis file format this node reads and writes.
const FileVersion = 1

// MaxFileSize bounds a genesis file (Load, Decode): allocations of tens
// of thousands of accounts fit many times over.
const MaxFileSize = 64 << 20

// ErrFile: a genesis file that does not parse or names a field format
// FileVersion does not have. Invalid values of known fields are
// ErrConfig, like a Config that does not validate; both come as a
// *FieldError when a field is to blame.
var ErrFile = errors.New("genesis: invalid genesis file")

// ErrGenesisBlock: the genesis's Bitcoin block is not the block the
// caller's Bitcoin chain has at that height.
var ErrGenesisBlock = errors.New("genesis: bitcoin genesis block mismatch")

// File is a network's genesis file (DESIGN 9): everything every node of
// the network must agree on before block 1, in one versioned JSON
// document whose hash (Hash) peers compare. Decode or Load it, or build
// it (DevnetFile, `hemi genesis new`) and Validate it; Spec turns it into
// the genesis block once the node's Bitcoin index has the genesis
// Bitcoin block. The package documentation lists the format.
type File struct {
	// Config is the consensus configuration; its Tunnel is the file's
	// "tunnel" object (null: no tunnel).
	Config Config
	// SequencerNames are optional labels of Config.Sequencers, by index
	// ("" for none); nil or as long as Config.Sequencers.
	SequencerNames []string
	// Bitcoin is the genesis Bitcoin block, the genesis's Bitcoin view.
	Bitcoin BitcoinBlock
	// Time is the genesis timestamp in Unix seconds.
	Time uint64
	// Alloc funds accounts at genesis (DevAlloc on a devnet). Balance,
	// Nonce, Code and Storage are read; other fields must be zero.
	Alloc types.GenesisAlloc
}

// BitcoinBlock names a Bitcoin block by height and hash: the node checks
// its index's most-work chain has Hash at Height (Spec).
type BitcoinBlock struct {
	Height int32
	Hash   chainhash.Hash
}

// DevnetFile is the devnet's genesis file: DevnetConfig(sequencer), the
// Bitcoin view block, time, and the dev accounts funded as DevnetSpec
// does (which it also returns).
func DevnetFile(sequencer common.Address, block BitcoinBlock, time uint64) (*File, []DevAccount, error) {
	accounts, err := DevAccounts(DevMnemonic, DevAccountCount)
	if err != nil {
		return nil, nil, err
	}
	return &File{
		Config:  DevnetConfig(sequencer),
		Bitcoin: block,
		Time:    time,
		Alloc:   DevAlloc(accounts, DevBalance()),
	}, accounts, nil
}

// nameRe: sequencer names are printable ASCII without quote or
// backslash, so the file, the canonical form and every JSON reader
// agree byte for byte.
var nameRe = regexp.MustCompile(`^[ !#-\[\]-~]{1,64}$`)

// Validate checks the whole file: Config.Validate, then what the file
// adds (the Bitcoin block, the time, names, allocations). Failures are
// *FieldError naming the file's field.
func (f *File) Validate() error {
	if err := f.Config.Validate(); err != nil {
		return err
	}
	if r := f.Config.PoP.Reward; r != nil && (r.Sign() < 0 || r.Cmp(maxUint256) > 0) {
		return fieldErr(ErrConfig, "pop.reward", "%v: want 0 to 2^256-1 wei", r)
	}
	if f.Config.PoP.MaxRewarded > math.MaxInt32 {
		return fieldErr(ErrConfig, "pop.max_rewarded", "%d is above %d", f.Config.PoP.MaxRewarded, math.MaxInt32)
	}
	if f.Bitcoin.Height < 0 {
		return fieldErr(ErrConfig, "bitcoin.genesis_height", "%d is negative; set the height of the Bitcoin block the genesis views", f.Bitcoin.Height)
	}
	if f.Bitcoin.Hash == (chainhash.Hash{}) {
		return fieldErr(ErrConfig, "bitcoin.genesis_hash", "is zero; set the hash of the Bitcoin block at bitcoin.genesis_height (`hemi btc header HEIGHT` prints it)")
	}
	params, _ := network.Params(f.Config.BitcoinNetwork) // Config.Validate checked it
	if f.Bitcoin.Height == 0 && f.Bitcoin.Hash != *params.GenesisHash {
		return fieldErr(ErrConfig, "bitcoin.genesis_hash", "%v is not %s's block 0 (%v); fix the hash or bitcoin.network", f.Bitcoin.Hash, f.Config.BitcoinNetwork, params.GenesisHash)
	}
	if f.Time == 0 || f.Time > MaxJSONInt {
		return fieldErr(ErrConfig, "genesis_time", "%d: want the genesis block's Unix time in seconds, 1 to %d (e.g. `date +%%s`)", f.Time, uint64(MaxJSONInt))
	}
	if f.SequencerNames != nil && len(f.SequencerNames) != len(f.Config.Sequencers) {
		return fieldErr(ErrConfig, "sequencers", "%d names for %d sequencers", len(f.SequencerNames), len(f.Config.Sequencers))
	}
	for i, n := range f.SequencerNames {
		if n != "" && !nameRe.MatchString(n) {
			return fieldErr(ErrConfig, fmt.Sprintf("sequencers[%d].name", i), "%q: want 1 to 64 printable ASCII characters without '\"' or '\\\\', or no name", n)
		}
	}
	reserved := SystemContracts()
	reserved[HVMStateAddress] = types.Account{}
	if t := f.Config.Tunnel; t != nil {
		reserved[t.TunnelAddress] = types.Account{}
		reserved[t.HBTCAddress] = types.Account{}
	}
	for _, addr := range slices.SortedFunc(maps.Keys(f.Alloc), func(a, b common.Address) int { return a.Cmp(b) }) {
		acc := f.Alloc[addr]
		path := "alloc." + strings.ToLower(addr.Hex())
		if _, ok := reserved[addr]; ok {
			return fieldErr(ErrConfig, path, "is a system contract or predeploy the genesis fills itself; remove it")
		}
		if acc.Balance == nil || acc.Balance.Sign() < 0 || acc.Balance.Cmp(maxUint256) > 0 {
			return fieldErr(ErrConfig, path+".balance", "want 0 to 2^256-1 wei")
		}
		if acc.Nonce > MaxJSONInt {
			return fieldErr(ErrConfig, path+".nonce", "%d is above %d", acc.Nonce, uint64(MaxJSONInt))
		}
	}
	return nil
}

// Spec is the genesis of the file over view, the genesis Bitcoin block as
// the node's index has it: view must be the block the file names
// (ErrGenesisBlock otherwise: the node follows another Bitcoin chain).
func (f *File) Spec(view hvm.Header) (*Spec, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	if view.Height != f.Bitcoin.Height || view.Hash != f.Bitcoin.Hash || view.Header.BlockHash() != view.Hash {
		return nil, fmt.Errorf("%w: the genesis names Bitcoin block %v at height %d, the view given is %v at height %d",
			ErrGenesisBlock, f.Bitcoin.Hash, f.Bitcoin.Height, view.Hash, view.Height)
	}
	cfg := f.Config
	cfg.Sequencers = slices.Clone(cfg.Sequencers)
	cfg.PoP.ForkTable = slices.Clone(cfg.PoP.ForkTable)
	cfg.PoP.RewardTable = slices.Clone(cfg.PoP.RewardTable)
	if cfg.PoP.Reward != nil {
		cfg.PoP.Reward = new(big.Int).Set(cfg.PoP.Reward)
	}
	cfg.Forks = maps.Clone(cfg.Forks)
	cfg.Tunnel = cfg.Tunnel.Clone()
	return &Spec{Config: cfg, Timestamp: f.Time, View: view, Alloc: maps.Clone(f.Alloc)}, nil
}

// Load reads and decodes the genesis file at path; errors start with the
// path.
func Load(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("genesis file: %w", err)
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("genesis file %s: %w", path, err)
	}
	f, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// Field help, said when a field is missing or of the wrong type.
const (
	helpVersion     = "the format version, 1"
	helpChainID     = "the network's EIP-155 chain id"
	helpTime        = "the genesis block's Unix time in seconds"
	helpBitcoin     = `{"network": ..., "genesis_height": ..., "genesis_hash": ...}`
	helpNetwork     = "mainnet, testnet3, testnet4, signet or regtest"
	helpBTCHeight   = "the height of the Bitcoin block the genesis views"
	helpBTCHash     = "that Bitcoin block's hash as Bitcoin tools print it, 64 hex digits"
	helpSequencers  = `a list of {"address": "0x...", "name": "..."} (name optional), one per sequencer seal key`
	helpAddress     = "a sequencer's seal key address, 0x and 40 hex digits"
	helpBlockTime   = "seconds between L2 blocks (default 2)"
	helpGasLimit    = "the block gas limit (default 30000000)"
	helpBaseFee     = `the genesis base fee in wei, a decimal string (default "1000000000")`
	helpViewLag     = "Bitcoin blocks the view trails the Bitcoin tip (default 2)"
	helpKeystone    = "every block whose number is a multiple of it is a keystone (default 25)"
	helpPoP         = "the Proof-of-Proof parameters"
	helpSuperfinal  = "Bitcoin confirmations at which a block is superfinal (default 10, devnet 6)"
	helpForkTable   = "fork-choice points by publication delay in Bitcoin blocks"
	helpRewardDelay = "L2 blocks between a keystone and the block paying its publishers (default 50; 0 = no rewards)"
	helpReward      = "the reward in wei for a first-block publication, a decimal string"
	helpRewardTable = "percent of the reward by publication delay in Bitcoin blocks"
	helpMaxRewarded = "publications paid per keystone (default 10)"
	helpForks       = "feature name -> activation L2 block"
	helpAlloc       = `address -> {"balance": "wei"} ({} for none)`
	helpBalance     = "the balance in wei, a decimal string"
)

var (
	addressRe = regexp.MustCompile(`^0x[0-9a-fA-F]{40}$`)
	hash32Re  = regexp.MustCompile(`^0x[0-9a-fA-F]{64}$`)
	btcHashRe = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)
)

// Decode parses and validates a genesis file. Every failure names the
// field (*FieldError) or the line and column of broken JSON, and says
// what to do.
func Decode(data []byte) (*File, error) {
	if len(data) > MaxFileSize {
		return nil, fileErr("", "larger than %d bytes", MaxFileSize)
	}
	tree, err := parseTree(data)
	if err != nil {
		return nil, err
	}
	root, err := asObject(tree, "", "the genesis file is one JSON object")
	if err != nil {
		return nil, err
	}
	if v, err := root.uint("version", MaxJSONInt, helpVersion); err != nil {
		return nil, err
	} else if v != FileVersion {
		return nil, fileErr("version", "%d: this hemi reads genesis format %d only; use a hemi release that reads format %d", v, FileVersion, v)
	}
	f := &File{}
	if err := f.decode(root); err != nil {
		return nil, err
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *File) decode(root *object) error {
	c := &f.Config
	var err error
	if c.ChainID, err = root.uint("chain_id", MaxJSONInt, helpChainID); err != nil {
		return err
	}
	if f.Time, err = root.uint("genesis_time", MaxJSONInt, helpTime); err != nil {
		return err
	}
	if err := f.decodeBitcoin(root); err != nil {
		return err
	}
	if err := f.decodeSequencers(root); err != nil {
		return err
	}
	bt, err := root.uint("block_time", uint64(math.MaxInt64/time.Second), helpBlockTime)
	if err != nil {
		return err
	}
	c.BlockTime = time.Duration(bt) * time.Second
	if c.GasLimit, err = root.uint("gas_limit", MaxJSONInt, helpGasLimit); err != nil {
		return err
	}
	fee, err := root.decimal("initial_base_fee", helpBaseFee)
	if err != nil {
		return err
	}
	if !fee.IsUint64() {
		return fileErr("initial_base_fee", "%v wei is above 2^64-1; set a realistic base fee (default \"%d\")", fee, DefaultInitialBaseFee)
	}
	c.InitialBaseFee = fee.Uint64()
	lag, err := root.uint("view_lag", math.MaxUint32, helpViewLag)
	if err != nil {
		return err
	}
	c.ViewLag = uint32(lag)
	if c.KeystoneInterval, err = root.uint("keystone_interval", MaxJSONInt, helpKeystone); err != nil {
		return err
	}
	if err := f.decodePoP(root); err != nil {
		return err
	}
	if err := f.decodeForks(root); err != nil {
		return err
	}
	if err := f.decodeAlloc(root); err != nil {
		return err
	}
	if err := f.decodeTunnel(root); err != nil {
		return err
	}
	return root.finish()
}

func (f *File) decodeBitcoin(root *object) error {
	b, err := root.object("bitcoin", helpBitcoin)
	if err != nil {
		return err
	}
	if f.Config.BitcoinNetwork, err = b.str("network", helpNetwork); err != nil {
		return err
	}
	h, err := b.uint("genesis_height", math.MaxInt32, helpBTCHeight)
	if err != nil {
		return err
	}
	f.Bitcoin.Height = int32(h)
	s, err := b.str("genesis_hash", helpBTCHash)
	if err != nil {
		return err
	}
	hash, err := chainhash.NewHashFromStr(s)
	if err != nil || !btcHashRe.MatchString(s) {
		return fileErr("bitcoin.genesis_hash", "%q: want %s", s, helpBTCHash)
	}
	f.Bitcoin.Hash = *hash
	return b.finish()
}

func (f *File) decodeSequencers(root *object) error {
	list, err := root.array("sequencers", helpSequencers)
	if err != nil {
		return err
	}
	named := false
	for i, v := range list {
		s, err := asObject(v, fmt.Sprintf("sequencers[%d]", i), helpSequencers)
		if err != nil {
			return err
		}
		a, err := s.str("address", helpAddress)
		if err != nil {
			return err
		}
		if !addressRe.MatchString(a) {
			return fileErr(s.at("address"), "%q: want %s", a, helpAddress)
		}
		f.Config.Sequencers = append(f.Config.Sequencers, common.HexToAddress(a))
		name := ""
		if s.has("name") {
			if name, err = s.str("name", "a label for logs and status"); err != nil {
				return err
			}
			if name == "" {
				return fileErr(s.at("name"), "is empty; give a name or remove the field")
			}
			named = true
		}
		f.SequencerNames = append(f.SequencerNames, name)
		if err := s.finish(); err != nil {
			return err
		}
	}
	if !named {
		f.SequencerNames = nil
	}
	return nil
}

func (f *File) decodePoP(root *object) error {
	o, err := root.object("pop", helpPoP)
	if err != nil {
		return err
	}
	p := &f.Config.PoP
	sd, err := o.uint("superfinal_depth", math.MaxUint32, helpSuperfinal)
	if err != nil {
		return err
	}
	p.SuperfinalDepth = uint32(sd)
	if p.ForkTable, err = o.u32s("fork_table", helpForkTable); err != nil {
		return err
	}
	if p.RewardDelay, err = o.uint("reward_delay", MaxJSONInt, helpRewardDelay); err != nil {
		return err
	}
	if p.Reward, err = o.decimal("reward", helpReward); err != nil {
		return err
	}
	if p.RewardTable, err = o.u32s("reward_table", helpRewardTable); err != nil {
		return err
	}
	mr, err := o.uint("max_rewarded", math.MaxInt32, helpMaxRewarded)
	if err != nil {
		return err
	}
	p.MaxRewarded = int(mr)
	return o.finish()
}

func (f *File) decodeForks(root *object) error {
	o, err := root.object("forks", helpForks)
	if err != nil {
		return err
	}
	f.Config.Forks = make(Forks, len(o.m))
	for _, k := range slices.Sorted(maps.Keys(o.m)) {
		at, err := o.uint(k, MaxJSONInt, "the L2 block from which the feature is active")
		if err != nil {
			return err
		}
		f.Config.Forks[Feature(k)] = at
	}
	return o.finish()
}

func (f *File) decodeAlloc(root *object) error {
	o, err := root.object("alloc", helpAlloc)
	if err != nil {
		return err
	}
	f.Alloc = make(types.GenesisAlloc, len(o.m))
	for _, k := range slices.Sorted(maps.Keys(o.m)) {
		path := o.at(k)
		if !addressRe.MatchString(k) {
			return fileErr(path, "not an address: want 0x and 40 hex digits")
		}
		addr := common.HexToAddress(k)
		if _, dup := f.Alloc[addr]; dup {
			return fileErr(path, "the same address as another key written in another case; keep one")
		}
		a, err := o.object(k, `{"balance": "wei", "nonce": n, "code": "0x...", "storage": {"0x<slot>": "0x<value>"}} (all but balance optional)`)
		if err != nil {
			return err
		}
		var acc types.Account
		if acc.Balance, err = a.decimal("balance", helpBalance); err != nil {
			return err
		}
		if a.has("nonce") {
			if acc.Nonce, err = a.uint("nonce", MaxJSONInt, "the account's nonce"); err != nil {
				return err
			}
		}
		if a.has("code") {
			s, err := a.str("code", "the account's code, 0x-prefixed hex")
			if err != nil {
				return err
			}
			if acc.Code, err = hexutil.Decode(s); err != nil {
				return fileErr(a.at("code"), "not 0x-prefixed hex of whole bytes: %v", err)
			}
		}
		if a.has("storage") {
			so, err := a.object("storage", `{"0x<slot, 32 bytes>": "0x<value, 32 bytes>"}`)
			if err != nil {
				return err
			}
			acc.Storage = make(map[common.Hash]common.Hash, len(so.m))
			for _, sk := range slices.Sorted(maps.Keys(so.m)) {
				sv, err := so.str(sk, "the slot's value, 0x and 64 hex digits")
				if err != nil {
					return err
				}
				if !hash32Re.MatchString(sk) || !hash32Re.MatchString(sv) {
					return fileErr(so.at(sk), "want slot and value as 0x and 64 hex digits each")
				}
				slot := common.HexToHash(sk)
				if _, dup := acc.Storage[slot]; dup {
					return fileErr(so.at(sk), "the same slot as another key written in another case; keep one")
				}
				acc.Storage[slot] = common.HexToHash(sv)
			}
			if err := so.finish(); err != nil {
				return err
			}
		}
		if err := a.finish(); err != nil {
			return err
		}
		f.Alloc[addr] = acc
	}
	return o.finish()
}

// tree is the file as written: format FileVersion's fields, in the order
// the indented file shows them. Normal forms: addresses, hex and hashes
// lowercase (Bitcoin's in display order, without 0x); an account's zero
// nonce, empty code and empty storage left out; a sequencer's name left
// out when it has none; "tunnel" null when there is no tunnel (so the
// hash of a file without a tunnel is what it was before the tunnel
// existed).
func (f *File) tree() fields {
	c := &f.Config
	seqs := make([]any, len(c.Sequencers))
	for i, s := range c.Sequencers {
		e := fields{{"address", lowerHex(s.Bytes())}}
		if i < len(f.SequencerNames) && f.SequencerNames[i] != "" {
			e = append(e, field{"name", f.SequencerNames[i]})
		}
		seqs[i] = e
	}
	forks := make(fields, 0, len(c.Forks))
	for _, k := range slices.Sorted(maps.Keys(c.Forks)) {
		forks = append(forks, field{string(k), c.Forks[k]})
	}
	alloc := make(fields, 0, len(f.Alloc))
	for _, addr := range slices.SortedFunc(maps.Keys(f.Alloc), func(a, b common.Address) int { return a.Cmp(b) }) {
		acc := f.Alloc[addr]
		bal := "0"
		if acc.Balance != nil {
			bal = acc.Balance.String()
		}
		e := fields{{"balance", bal}}
		if acc.Nonce != 0 {
			e = append(e, field{"nonce", acc.Nonce})
		}
		if len(acc.Code) > 0 {
			e = append(e, field{"code", lowerHex(acc.Code)})
		}
		if len(acc.Storage) > 0 {
			st := make(fields, 0, len(acc.Storage))
			for _, k := range slices.SortedFunc(maps.Keys(acc.Storage), func(a, b common.Hash) int { return a.Cmp(b) }) {
				st = append(st, field{lowerHex(k.Bytes()), lowerHex(acc.Storage[k].Bytes())})
			}
			e = append(e, field{"storage", st})
		}
		alloc = append(alloc, field{lowerHex(addr.Bytes()), e})
	}
	reward := "0"
	if c.PoP.Reward != nil {
		reward = c.PoP.Reward.String()
	}
	return fields{
		{"version", uint64(FileVersion)},
		{"chain_id", c.ChainID},
		{"genesis_time", f.Time},
		{"bitcoin", fields{
			{"network", c.BitcoinNetwork},
			{"genesis_height", uint64(max(f.Bitcoin.Height, 0))},
			{"genesis_hash", f.Bitcoin.Hash.String()},
		}},
		{"sequencers", seqs},
		{"block_time", uint64(c.BlockTime / time.Second)},
		{"gas_limit", c.GasLimit},
		{"initial_base_fee", fmt.Sprint(c.InitialBaseFee)},
		{"view_lag", uint64(c.ViewLag)},
		{"keystone_interval", c.KeystoneInterval},
		{"pop", fields{
			{"superfinal_depth", uint64(c.PoP.SuperfinalDepth)},
			{"fork_table", u32List(c.PoP.ForkTable)},
			{"reward_delay", c.PoP.RewardDelay},
			{"reward", reward},
			{"reward_table", u32List(c.PoP.RewardTable)},
			{"max_rewarded", uint64(max(c.PoP.MaxRewarded, 0))},
		}},
		{"forks", forks},
		{"alloc", alloc},
		{"tunnel", tunnelTree(c.Tunnel)},
	}
}

func lowerHex(b []byte) string { return hexutil.Encode(b) }

func u32List(t []uint32) []any {
	out := make([]any, len(t))
	for i, v := range t {
		out[i] = uint64(v)
	}
	return out
}

// Encode is the file as `hemi genesis new` writes it: indented JSON in
// the format's field order, ending in a newline. It validates first.
func (f *File) Encode() ([]byte, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	writeIndented(&out, f.tree(), "")
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// Canonical is the form the hash is taken over: the file's fields in
// their normal form (see tree: what a file may write two ways is
// written one way) serialized as RFC 8785 (JCS) does: no insignificant
// whitespace, object keys sorted, strings escaping only '"', '\\' and
// control characters, numbers as decimal integers (every number of the
// format is a whole number of at most 2^53-1; amounts that may be larger
// are decimal strings). For a file `hemi genesis new` wrote, it equals
// `jq -cjS . FILE`.
func (f *File) Canonical() []byte {
	var b bytes.Buffer
	writeJSON(&b, f.tree(), true)
	return b.Bytes()
}

// Hash is keccak256 of Canonical: the network's identity that peers
// compare at the handshake and operators compare by eye
// (`hemi genesis hash FILE`). Any change of any field changes it, so two
// nodes with equal hashes run the same genesis, parameters and fork
// schedule.
func (f *File) Hash() common.Hash { return crypto.Keccak256Hash(f.Canonical()) }

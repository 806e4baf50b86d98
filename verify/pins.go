package verify

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
)

type hexBytes = hexutil.Bytes

// Checkpoint is a Bitcoin block the verifier trusts as the start of a
// header run, by height and hash: on a retarget boundary (height a
// multiple of 2016), so the first retarget of the run looks back no
// further than it. Its bits and time and the 11 timestamps before it
// (median time past) come from the bundle's anchor headers, which must
// hash-chain to Hash (anchorNode), so the pin needs nothing more. Pinned
// ones are in Checkpoints; the user gives another with --checkpoint
// HEIGHT:HASH.
type Checkpoint struct {
	Network string
	Height  int32
	Hash    chainhash.Hash
	// Source says where the values come from.
	Source string
}

// anchorNode checks the anchor headers against cp and builds the
// checkpoint's HeaderCtx chain from them: the checkpoint over its
// ancestors' timestamps (a retarget looks back only to the checkpoint,
// the boundary).
func (cp *Checkpoint) anchorNode(anchor []hexBytes) (*hnode, error) {
	want := int(min(int64(cp.Height), 11)) + 1
	if len(anchor) != want {
		return nil, fmt.Errorf("%w: the bundle's anchor has %d headers, want the checkpoint's and the %d before it", ErrCheckpoint, len(anchor), want-1)
	}
	var parent *hnode
	for i, raw := range anchor {
		if len(raw) != wire.MaxBlockHeaderPayload {
			return nil, fmt.Errorf("%w: anchor header %d is %d bytes, want 80", ErrCheckpoint, i, len(raw))
		}
		var h wire.BlockHeader
		_ = h.Deserialize(bytesReader(raw)) // 80 bytes always decode
		if parent != nil && h.PrevBlock != parent.hash {
			return nil, fmt.Errorf("%w: anchor header %d does not link to the one before it", ErrCheckpoint, i)
		}
		parent = &hnode{height: cp.Height - int32(len(anchor)-1-i), bits: h.Bits, time: h.Timestamp.Unix(), hash: h.BlockHash(), parent: parent, work: new(big.Int)}
	}
	if parent.hash != cp.Hash {
		return nil, fmt.Errorf("%w: the bundle's anchor ends with block %v, not the checkpoint %v", ErrCheckpoint, parent.hash, cp.Hash)
	}
	return parent, nil
}

// Networks maps the Bitcoin network names a bundle and a genesis file use
// to btcd's parameters.
var Networks = map[string]*chaincfg.Params{
	"mainnet":  &chaincfg.MainNetParams,
	"testnet4": &chaincfg.TestNet4Params,
	"signet":   &chaincfg.SigNetParams,
	"regtest":  &chaincfg.RegressionNetParams,
}

// NoSecurity lists the networks whose proof of work is no security claim:
// anyone can mine regtest, signet blocks are signed by a federation
// (whose signatures this verifier does not check), and testnet coins are
// worthless by design, so their work can be bought cheaply.
var NoSecurity = map[string]string{
	"regtest":  "regtest proof of work is trivial: anyone can mine any chain, so these confirmations prove nothing against an adversary",
	"signet":   "signet blocks are authorised by the signet's signers, not by proof of work (the block signatures are not checked here): the confirmations are no security claim",
	"testnet4": "testnet4 proof of work protects worthless coins and can be outmined cheaply: the confirmations are no security claim",
}

// Checkpoints are the pinned Bitcoin checkpoints per network, newest
// last. Each value's origin is in its Source.
var Checkpoints = map[string][]Checkpoint{
	"regtest": {regtestGenesis()},
	"mainnet": {
		genesisOf("mainnet", &chaincfg.MainNetParams),
		{Network: "mainnet", Height: 705600, Hash: mustHash("0000000000000000000d37dfef7fe1c7bd22c893dbe4a94272c8cf556e40be99"),
			Source: "block 705,600 (2016 x 350): its header is the test vector MAINNET_HEADER_705600 of dfinity's Bitcoin header validation " +
				"(ic rs/bitcoin/validation/src/header/tests/btc.rs); TestPinnedMainnetHeader checks that header hashes to this and meets its target"},
		{Network: "mainnet", Height: 901152, Hash: mustHash("00000000000000000000f144eba6af14dd6363fda3ac7ec48348edbf0cde0e3e"),
			Source: "block 901,152 (2016 x 447, June 2025): its header, with those of 899,136 and 901,151, is the test vector " +
				"Tests/WalletCoreTests/Vectors/difficulty-boundaries.json of winnowwallet/winnow; TestPinnedCheckpointHeaders checks it hashes to this " +
				"and meets its target, and that btcd's retarget from 899,136 and 901,151 gives its bits"},
		{Network: "mainnet", Height: 959616, Hash: mustHash("00000000000000000000eec74314bff05daf67223b96a1a2c3452ac418424d13"),
			Source: "block 959,616 (2016 x 476, July 2026): the parent named by block 959,617, the first of 2,000 consecutive headers in " +
				"winnowwallet/winnow Tests/WalletCoreTests/Vectors/mainnet-headers-959617-961616.txt; TestPinnedCheckpointHeaders checks that 24 of them " +
				"link to this hash with valid proof of work (its own header is in no public vector found: the proof is the work built on it)"},
	},
	"testnet4": {
		genesisOf("testnet4", &chaincfg.TestNet4Params),
		{Network: "testnet4", Height: 145152, Hash: mustHash("00000000000000014694285ac2a2980339778e6b73d2199a65a5f62f2df44d2d"),
			Source: "block 145,152 (2016 x 72, July 2026): its header, the 11 before it, the 8 after it and 143,136 (its period's first block) are " +
				"bathron-network/bathron-core src/test/data/btc_testnet4_headers.h (from mempool.space/testnet4, checked against Bitcoin Core); " +
				"TestPinnedCheckpointHeaders checks it hashes to this, meets its target and has the bits BIP-94's retarget gives, and " +
				"TestPinnedCheckpointRuns verifies the real run after it"},
	},
	"signet": {
		genesisOf("signet", &chaincfg.SigNetParams),
		{Network: "signet", Height: 300384, Hash: mustHash("0000000afd0f694696061c61ec7674e49fc24b3809addd382d1589f5ac5fb056"),
			Source: "block 300,384 (2016 x 149, April 2026): its header, the 11 before it and 16 after it are lines 373 to 400 of " +
				"fire-devspace/winnow Tests/WalletCoreTests/Vectors/signet-headers-300001-302000.txt; TestPinnedCheckpointHeaders checks it hashes " +
				"to this and meets its target, and TestPinnedCheckpointRuns verifies the real run after it"},
	},
}

func genesisOf(network string, p *chaincfg.Params) Checkpoint {
	return Checkpoint{Network: network, Height: 0, Hash: *p.GenesisHash,
		Source: "the " + network + " genesis block (Bitcoin Core chainparams.cpp, btcd chaincfg)"}
}

func mustHash(s string) chainhash.Hash {
	h, err := chainhash.NewHashFromStr(s)
	if err != nil {
		panic(err) // a constant
	}
	return *h
}

func regtestGenesis() Checkpoint {
	return Checkpoint{
		Network: "regtest", Height: 0, Hash: *chaincfg.RegressionNetParams.GenesisHash,
		Source: "the regtest genesis block (Bitcoin Core chainparams.cpp, btcd chaincfg.RegressionNetParams)",
	}
}

// pinnedCheckpoint returns the pinned checkpoint of network at height with
// hash, or an error saying the bundle names one the verifier does not pin.
func pinnedCheckpoint(network string, ref BlockRef, extra []Checkpoint) (*Checkpoint, error) {
	hash, err := chainhash.NewHashFromStr(ref.Hash)
	if err != nil {
		return nil, fmt.Errorf("%w: the bundle's checkpoint hash %q: %v", ErrCheckpoint, ref.Hash, err)
	}
	for _, list := range [][]Checkpoint{extra, Checkpoints[network]} {
		for i := range list {
			cp := &list[i]
			if cp.Network == network && cp.Height == ref.Height && cp.Hash == *hash {
				return cp, nil
			}
		}
	}
	return nil, fmt.Errorf("%w: the bundle starts its headers at %s block %d %v, which is not a checkpoint this verifier pins or you gave (--checkpoint); the verifier never takes a checkpoint from the bundle", ErrCheckpoint, network, ref.Height, hash)
}

// ParseCheckpoint parses --checkpoint HEIGHT:HASH: a block the user
// trusts (from their own node), on a retarget boundary; HASH in display
// order.
func ParseCheckpoint(network, s string) (Checkpoint, error) {
	hs, hash, ok := strings.Cut(s, ":")
	if !ok {
		return Checkpoint{}, fmt.Errorf("%w: %q: want HEIGHT:HASH", ErrCheckpoint, s)
	}
	h, err := strconv.ParseInt(hs, 10, 32)
	if err != nil || h < 0 {
		return Checkpoint{}, fmt.Errorf("%w: height %q", ErrCheckpoint, hs)
	}
	ch, err := chainhash.NewHashFromStr(hash)
	if err != nil || len(hash) != 64 {
		return Checkpoint{}, fmt.Errorf("%w: hash %q: want 64 hex digits", ErrCheckpoint, hash)
	}
	params, ok := Networks[network]
	if !ok {
		return Checkpoint{}, fmt.Errorf("%w: unknown Bitcoin network %q", ErrCheckpoint, network)
	}
	if per := int64(chainCtx{params}.BlocksPerRetarget()); h%per != 0 {
		return Checkpoint{}, fmt.Errorf("%w: height %d is not a retarget boundary (a multiple of %d)", ErrCheckpoint, h, per)
	}
	return Checkpoint{Network: network, Height: int32(h), Hash: *ch, Source: "--checkpoint"}, nil
}

// Identity is an L2 network as the verifier knows it: never from a
// bundle, pinned here or read from the user's genesis file.
type Identity struct {
	Name           string
	ChainID        uint64
	BitcoinNetwork string
	// GenesisHash is the genesis file's hash (keccak256 of its canonical
	// form), zero when not known (the devnet's changes at every start).
	GenesisHash common.Hash
	// Sequencers are the seal keys' addresses.
	Sequencers []common.Address
	// KeystoneInterval is the L2 blocks between keystones.
	KeystoneInterval uint64
	// SuperfinalDepth is the network's superfinality (Bitcoin
	// confirmations); the default --min-keystone-confs.
	SuperfinalDepth uint32
	// Tunnel is the tunnel's parameters, nil for a network without one.
	Tunnel *Tunnel
}

// Tunnel is what the verifier needs of a network's tunnel: the vault's
// keys (the vault script is derived from them, never read from a bundle),
// the predeploy holding minted[], and the deposit rules.
type Tunnel struct {
	Signers              [][32]byte
	K                    int
	Recovery             [][32]byte
	M                    int
	RecoveryDelay        uint16
	DepositConfirmations uint32
	MinDepositSat        uint64
	TunnelAddress        common.Address
}

func (id *Identity) isSequencer(a common.Address) bool {
	for _, s := range id.Sequencers {
		if s == a {
			return true
		}
	}
	return false
}

// DevnetIdentity is the devnet's L2 identity (`hemi devnet`): chain id
// 7431337, regtest, sealed by the public dev sequencer key (the address
// of keccak256("hemi devnet sequencer")), keystones every 25 blocks, superfinal at
// 6 confirmations. Its genesis time and Bitcoin view change at every
// start, so its genesis hash is not pinned: a devnet bundle proves
// "sealed by the devnet's public key", which anyone holds — the devnet is
// no security claim either.
var DevnetIdentity = Identity{
	Name:             "devnet",
	ChainID:          7431337,
	BitcoinNetwork:   "regtest",
	Sequencers:       []common.Address{common.HexToAddress("0x4fFC1976b6923D6E5453127870c915A27c8AbAE6")},
	KeystoneInterval: 25,
	SuperfinalDepth:  6,
}

// Identities are the pinned L2 networks by chain id.
var Identities = map[uint64]*Identity{DevnetIdentity.ChainID: &DevnetIdentity}

package verify

import (
	"encoding/hex"
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
)

type hexBytes = hexutil.Bytes

// Checkpoint is a Bitcoin block the verifier trusts as the start of a
// header run: on a retarget boundary (height a multiple of 2016, so the
// next retarget's first block is in the run), with its bits and time and
// the timestamps of the 11 blocks before it (median time past of the
// first headers after it). Pinned ones are in Checkpoints; the user gives
// another with --checkpoint H:HASH, for which Bits and Time must come
// with it (ParseCheckpoint).
type Checkpoint struct {
	Network string
	Height  int32
	Hash    chainhash.Hash
	Bits    uint32
	Time    int64
	// PrevTimes are the timestamps of blocks Height-11 .. Height-1,
	// oldest first (fewer near the genesis).
	PrevTimes []int64
	// Source says where the values come from.
	Source string
}

// node builds the checkpoint's HeaderCtx chain: the checkpoint over its
// ancestors' timestamps (their bits do not matter: a retarget looks back
// only to the checkpoint, the boundary).
func (cp *Checkpoint) node() (*hnode, error) {
	if cp.Height < 0 {
		return nil, fmt.Errorf("%w: negative height", ErrCheckpoint)
	}
	var parent *hnode
	for i, t := range cp.PrevTimes {
		parent = &hnode{height: cp.Height - int32(len(cp.PrevTimes)-i), bits: cp.Bits, time: t, parent: parent, work: new(big.Int)}
	}
	return &hnode{height: cp.Height, bits: cp.Bits, time: cp.Time, hash: cp.Hash, parent: parent, work: new(big.Int)}, nil
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
}

func regtestGenesis() Checkpoint {
	g := chaincfg.RegressionNetParams.GenesisBlock.Header
	return Checkpoint{
		Network: "regtest", Height: 0, Hash: *chaincfg.RegressionNetParams.GenesisHash,
		Bits: g.Bits, Time: g.Timestamp.Unix(),
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

// ParseCheckpoint parses --checkpoint H:HASH[:BITS:TIME:T1,...,T11]: a
// block the user trusts. BITS (hex) and TIME are the block's own, T1..T11
// the timestamps of the 11 blocks before it; all come from the user's own
// node (`bitcoin-cli getblockheader`), never from the bundle. H must be a
// retarget boundary.
func ParseCheckpoint(network, s string) (Checkpoint, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 2 && len(parts) != 5 {
		return Checkpoint{}, fmt.Errorf("%w: %q: want HEIGHT:HASH (a pinned block) or HEIGHT:HASH:BITS:TIME:T1,...,T11", ErrCheckpoint, s)
	}
	h, err := strconv.ParseInt(parts[0], 10, 32)
	if err != nil || h < 0 {
		return Checkpoint{}, fmt.Errorf("%w: height %q", ErrCheckpoint, parts[0])
	}
	hash, err := chainhash.NewHashFromStr(parts[1])
	if err != nil || len(parts[1]) != 64 {
		return Checkpoint{}, fmt.Errorf("%w: hash %q: want 64 hex digits", ErrCheckpoint, parts[1])
	}
	cp := Checkpoint{Network: network, Height: int32(h), Hash: *hash, Source: "--checkpoint"}
	if len(parts) == 2 {
		// A pinned block named again, or the genesis of the network.
		for _, p := range Checkpoints[network] {
			if p.Height == cp.Height && p.Hash == cp.Hash {
				return p, nil
			}
		}
		if params, ok := Networks[network]; ok && h == 0 && *params.GenesisHash == *hash {
			g := params.GenesisBlock.Header
			cp.Bits, cp.Time = g.Bits, g.Timestamp.Unix()
			return cp, nil
		}
		return Checkpoint{}, fmt.Errorf("%w: %s block %d is not pinned; give HEIGHT:HASH:BITS:TIME:T1,...,T11 from your own node", ErrCheckpoint, network, h)
	}
	params, ok := Networks[network]
	if ok && h%int64(chainCtx{params}.BlocksPerRetarget()) != 0 {
		return Checkpoint{}, fmt.Errorf("%w: height %d is not a retarget boundary (a multiple of %d)", ErrCheckpoint, h, chainCtx{params}.BlocksPerRetarget())
	}
	bits, err := hex.DecodeString(parts[2])
	if err != nil || len(bits) != 4 {
		return Checkpoint{}, fmt.Errorf("%w: bits %q: want 8 hex digits", ErrCheckpoint, parts[2])
	}
	cp.Bits = uint32(bits[0])<<24 | uint32(bits[1])<<16 | uint32(bits[2])<<8 | uint32(bits[3])
	if cp.Time, err = strconv.ParseInt(parts[3], 10, 64); err != nil {
		return Checkpoint{}, fmt.Errorf("%w: time %q", ErrCheckpoint, parts[3])
	}
	for _, t := range strings.Split(parts[4], ",") {
		v, err := strconv.ParseInt(t, 10, 64)
		if err != nil {
			return Checkpoint{}, fmt.Errorf("%w: timestamp %q", ErrCheckpoint, t)
		}
		cp.PrevTimes = append(cp.PrevTimes, v)
	}
	if len(cp.PrevTimes) != 11 && int64(len(cp.PrevTimes)) != h {
		return Checkpoint{}, fmt.Errorf("%w: %d previous timestamps, want 11", ErrCheckpoint, len(cp.PrevTimes))
	}
	return cp, nil
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

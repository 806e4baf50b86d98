package genesis

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/schnorr"
	"github.com/btcsuite/btcd/btcutil/v2/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/tyler-smith/go-bip39"
)

// Defaults of TunnelConfig (DESIGN 6, issue 11). DefaultTunnelConfig
// uses them; the genesis file writes every field out, so a network's
// values are in its file, not in this code.
const (
	// DefaultDepositConfirmations is the Bitcoin confirmations a tunnel
	// deposit needs in the view before it is minted (DESIGN 6).
	DefaultDepositConfirmations = 6
	// DefaultWithdrawalConfirmations is the Bitcoin confirmations a
	// payout needs in the view before its batch is marked paid.
	DefaultWithdrawalConfirmations = 6
	// DefaultMinDepositSat is the smallest deposit minted; smaller ones
	// are refunded (DESIGN 6: 10,000 sat, 0.0001 BTC).
	DefaultMinDepositSat = 10_000
	// DefaultMaxDepositsPerBlock caps the deposit system transactions of
	// one L2 block; the rest carry over to the next blocks, so a flood of
	// dust deposits cannot stall the chain or its block time. 24 at 2 s
	// blocks is 12 deposits a second, more than Bitcoin's whole
	// throughput; with the default gas limit and PoP rewards the worst
	// case of a block's system transactions is then 14,199,000 gas, under
	// the budget of half the limit (SystemGasBudget) with room for 16
	// more PoP rewards (27 deposits would be the most that fit).
	DefaultMaxDepositsPerBlock = 24
	// DefaultRederiveBlocks: a payout not confirmed this many Bitcoin
	// blocks after it was derived is re-derived at a higher fee rate.
	DefaultRederiveBlocks = 6
	// DefaultRecoveryDelay is N, the relative timelock (Bitcoin blocks,
	// BIP-68/112 CSV) after which the recovery set can spend a vault
	// output: 4,032 blocks, about four weeks; signers refresh every
	// vault output older than N/2 (two weeks).
	DefaultRecoveryDelay = 4032
	// DevRecoveryDelay is the devnet's N: 144 blocks, so the refresh at
	// N/2 = 72 blocks happens within minutes of regtest mining.
	DevRecoveryDelay = 144
	// MaxTunnelKeys bounds each key set: Bitcoin Core's
	// MAX_PUBKEYS_PER_MULTI_A (999), the most a multi_a leaf may have
	// within the script interpreter's 1,000-element stack.
	MaxTunnelKeys = 999
	// MaxDepositsPerBlockLimit bounds MaxDepositsPerBlock whatever the
	// gas limit (the file's range check); the binding bound is the gas
	// budget: Config.Validate refuses a cap whose worst case does not fit
	// SystemGasBudget and says which cap would (tunnelgas.go).
	MaxDepositsPerBlockLimit = 1000
	// MinRecoveryDelay: N must leave a refresh point N/2 of at least one
	// block.
	MinRecoveryDelay = 2
)

// Default predeploy addresses of the tunnel, in Hemi's predeploy
// namespace 0x48656d69... ("Hemi") after HVMStateAddress (...01).
var (
	// DefaultTunnelAddress is the tunnel predeploy (contracts/Tunnel.sol):
	// mints, refunds, withdrawals, batches.
	DefaultTunnelAddress = common.HexToAddress("0x48656d6900000000000000000000000000000002")
	// DefaultHBTCAddress is the hBTC ERC-20 predeploy (contracts/HBTC.sol).
	DefaultHBTCAddress = common.HexToAddress("0x48656d6900000000000000000000000000000003")
)

// TunnelConfig is the tunnel part of the chain configuration (DESIGN 6),
// the genesis file's "tunnel" object. The vault's Bitcoin address is not
// in it: internal/tunnel derives it from the keys, N and the network, so
// it cannot disagree with them. Every node of a network must use the same
// values: deposits, refunds and batches are derived by consensus.
type TunnelConfig struct {
	// Signers are the committee's BIP-340 x-only public keys; any K of
	// them sign a payout (the leaf sortedmulti_a(K, Signers...), so their
	// order here does not change the vault). 1 to MaxTunnelKeys, distinct,
	// each a valid point.
	Signers [][32]byte
	// K is the committee threshold, 1 to len(Signers).
	K int
	// Recovery are the recovery set's x-only keys, in the leaf's order
	// (multi_a is not sorted): any M of them spend a vault output
	// RecoveryDelay blocks after it was created. 1 to MaxTunnelKeys,
	// distinct.
	Recovery [][32]byte
	// M is the recovery threshold, 1 to len(Recovery).
	M int
	// RecoveryDelay is N: the recovery leaf's relative timelock in
	// Bitcoin blocks (older(N), BIP-68 block-based), MinRecoveryDelay to
	// 65,535.
	RecoveryDelay uint16
	// DepositConfirmations is the confirmations a deposit's Bitcoin block
	// needs in an L2 block's view before the deposit is derived (>= 1).
	DepositConfirmations uint32
	// WithdrawalConfirmations is the confirmations a payout needs in the
	// view before its batch is marked paid (>= 1).
	WithdrawalConfirmations uint32
	// MinDepositSat is the smallest deposit minted, in satoshis; smaller
	// ones are refunded (>= 1).
	MinDepositSat uint64
	// MaxDepositsPerBlock caps the deposits (mints, refunds, records)
	// derived into one L2 block, 1 to MaxDepositsPerBlockLimit and at
	// most what fits the block's system gas budget (Config.Validate,
	// tunnelgas.go).
	MaxDepositsPerBlock int
	// RederiveBlocks is how many Bitcoin blocks an unconfirmed payout
	// waits before it is re-derived at a higher fee rate (>= 1).
	RederiveBlocks uint32
	// TunnelAddress is the tunnel predeploy's L2 address.
	TunnelAddress common.Address
	// HBTCAddress is the hBTC ERC-20 predeploy's L2 address.
	HBTCAddress common.Address
}

// DefaultTunnelConfig is a tunnel with every default of this package
// over the given keys and thresholds.
func DefaultTunnelConfig(signers [][32]byte, k int, recovery [][32]byte, m int) *TunnelConfig {
	return &TunnelConfig{
		Signers:                 signers,
		K:                       k,
		Recovery:                recovery,
		M:                       m,
		RecoveryDelay:           DefaultRecoveryDelay,
		DepositConfirmations:    DefaultDepositConfirmations,
		WithdrawalConfirmations: DefaultWithdrawalConfirmations,
		MinDepositSat:           DefaultMinDepositSat,
		MaxDepositsPerBlock:     DefaultMaxDepositsPerBlock,
		RederiveBlocks:          DefaultRederiveBlocks,
		TunnelAddress:           DefaultTunnelAddress,
		HBTCAddress:             DefaultHBTCAddress,
	}
}

// Clone returns a deep copy (nil for nil).
func (t *TunnelConfig) Clone() *TunnelConfig {
	if t == nil {
		return nil
	}
	c := *t
	c.Signers = slices.Clone(t.Signers)
	c.Recovery = slices.Clone(t.Recovery)
	return &c
}

// maxSatoshi is 21 million BTC in satoshis (btcutil.MaxSatoshi).
const maxSatoshi = 21_000_000 * 100_000_000

// Validate checks every field; a failure is a *FieldError naming the
// field by its genesis-file path ("tunnel.signers[1]") and saying what to
// set. A nil TunnelConfig (no tunnel) is valid.
func (t *TunnelConfig) Validate() error {
	if t == nil {
		return nil
	}
	if err := validateKeys("tunnel.signers", t.Signers, "the committee's keys (`hemi genesis new --tunnel-signer KEY`, repeat)"); err != nil {
		return err
	}
	if t.K < 1 || t.K > len(t.Signers) {
		return fieldErr(ErrConfig, "tunnel.k", "%d: want 1 to %d (the number of signers); K signers must sign each payout", t.K, len(t.Signers))
	}
	if err := validateKeys("tunnel.recovery", t.Recovery, "the recovery set's keys (`hemi genesis new --tunnel-recovery KEY`, repeat): without them BTC could be stuck forever if the committee is lost"); err != nil {
		return err
	}
	if t.M < 1 || t.M > len(t.Recovery) {
		return fieldErr(ErrConfig, "tunnel.m", "%d: want 1 to %d (the number of recovery keys)", t.M, len(t.Recovery))
	}
	switch {
	case t.RecoveryDelay < MinRecoveryDelay:
		return fieldErr(ErrConfig, "tunnel.recovery_delay", "%d: want %d to 65535 Bitcoin blocks (signers refresh vault outputs at half of it; the default is %d, about four weeks)", t.RecoveryDelay, MinRecoveryDelay, DefaultRecoveryDelay)
	case t.DepositConfirmations < 1:
		return fieldErr(ErrConfig, "tunnel.deposit_confirmations", "must be at least 1 (the default is %d)", DefaultDepositConfirmations)
	case t.WithdrawalConfirmations < 1:
		return fieldErr(ErrConfig, "tunnel.withdrawal_confirmations", "must be at least 1 (the default is %d)", DefaultWithdrawalConfirmations)
	case t.MinDepositSat < 1 || t.MinDepositSat > maxSatoshi:
		return fieldErr(ErrConfig, "tunnel.min_deposit_sat", "%d: want 1 to %d satoshis (the default is %d)", t.MinDepositSat, uint64(maxSatoshi), DefaultMinDepositSat)
	case t.MaxDepositsPerBlock < 1 || t.MaxDepositsPerBlock > MaxDepositsPerBlockLimit:
		return fieldErr(ErrConfig, "tunnel.max_deposits_per_block", "%d: want 1 to %d (the default is %d; more deposits carry over to the next blocks)", t.MaxDepositsPerBlock, MaxDepositsPerBlockLimit, DefaultMaxDepositsPerBlock)
	case t.RederiveBlocks < 1:
		return fieldErr(ErrConfig, "tunnel.rederive_blocks", "must be at least 1 (the default is %d)", DefaultRederiveBlocks)
	}
	for _, a := range []struct {
		path string
		addr common.Address
	}{{"tunnel.tunnel_address", t.TunnelAddress}, {"tunnel.hbtc_address", t.HBTCAddress}} {
		if a.addr == (common.Address{}) {
			return fieldErr(ErrConfig, a.path, "is the zero address; set the predeploy's address (the default is %v)", DefaultTunnelAddress)
		}
		if _, ok := reservedAddresses()[a.addr]; ok {
			return fieldErr(ErrConfig, a.path, "%v is a system contract or another predeploy; choose another address", a.addr)
		}
	}
	if t.TunnelAddress == t.HBTCAddress {
		return fieldErr(ErrConfig, "tunnel.hbtc_address", "%v is also tunnel.tunnel_address: the token and the tunnel are two contracts", t.HBTCAddress)
	}
	return nil
}

// reservedAddresses are the addresses the genesis fills whatever the
// tunnel: system contracts, HVMState and SystemAddress.
func reservedAddresses() map[common.Address]struct{} {
	r := map[common.Address]struct{}{HVMStateAddress: {}, SystemAddress: {}}
	for a := range SystemContracts() {
		r[a] = struct{}{}
	}
	return r
}

func validateKeys(path string, keys [][32]byte, help string) error {
	if len(keys) == 0 {
		return fieldErr(ErrConfig, path, "is empty; list %s", help)
	}
	if len(keys) > MaxTunnelKeys {
		return fieldErr(ErrConfig, path, "%d keys: at most %d fit a multi_a leaf", len(keys), MaxTunnelKeys)
	}
	for i, k := range keys {
		if _, err := schnorr.ParsePubKey(k[:]); err != nil {
			return fieldErr(ErrConfig, fmt.Sprintf("%s[%d]", path, i), "%x is not a BIP-340 x-only public key (no curve point has that x): %v", k, err)
		}
		if j := slices.IndexFunc(keys[:i], func(o [32]byte) bool { return bytes.Equal(o[:], k[:]) }); j >= 0 {
			return fieldErr(ErrConfig, fmt.Sprintf("%s[%d]", path, i), "%x is also %s[%d]: each key signs once; remove the duplicate", k, path, j)
		}
	}
	return nil
}

// Dev tunnel keys. The devnet's committee and recovery set are derived
// from DevMnemonic, as the dev accounts are, along BIP-86 paths of
// coin type 1 (test networks): m/86'/1'/0'/0/i for signer i and
// m/86'/1'/1'/0/i for recovery key i. Their private keys are public:
// never lock real BTC in a vault of them.
const (
	// DevSignerCount and DevSignerK: the devnet's committee is 2-of-3.
	DevSignerCount, DevSignerK = 3, 2
	// DevRecoveryCount and DevRecoveryM: its recovery set is 2-of-3.
	DevRecoveryCount, DevRecoveryM = 3, 2
)

// DevTunnelKey is a dev tunnel key with its derivation path.
type DevTunnelKey struct {
	// Path is its BIP-32 path from DevMnemonic's master key.
	Path string
	// Key is the private key (public: a dev key).
	Key *btcec.PrivateKey
	// XOnly is its BIP-340 x-only public key, as TunnelConfig holds it.
	XOnly [32]byte
}

// DevTunnelKeys derives the devnet's signer and recovery keys from
// DevMnemonic (see the paths above).
func DevTunnelKeys() (signers, recovery []DevTunnelKey, err error) {
	seed, err := bip39.NewSeedWithErrorChecking(DevMnemonic, "")
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrMnemonic, err)
	}
	master, err := hdkeychain.NewMaster(seed, &chaincfg.RegressionNetParams)
	if err != nil {
		return nil, nil, fmt.Errorf("genesis: bip32 master key: %w", err)
	}
	derive := func(account uint32, n int) ([]DevTunnelKey, error) {
		parent := master
		for _, i := range []uint32{86 + hdkeychain.HardenedKeyStart, 1 + hdkeychain.HardenedKeyStart, account + hdkeychain.HardenedKeyStart, 0} {
			if parent, err = parent.Derive(i); err != nil {
				return nil, fmt.Errorf("genesis: bip32 derive: %w", err)
			}
		}
		out := make([]DevTunnelKey, n)
		for i := range n {
			child, err := parent.Derive(uint32(i))
			if err != nil {
				return nil, fmt.Errorf("genesis: bip32 derive child %d: %w", i, err)
			}
			priv, err := child.ECPrivKey()
			if err != nil {
				return nil, fmt.Errorf("genesis: bip32 child %d key: %w", i, err)
			}
			out[i] = DevTunnelKey{Path: fmt.Sprintf("m/86'/1'/%d'/0/%d", account, i), Key: priv}
			copy(out[i].XOnly[:], schnorr.SerializePubKey(priv.PubKey()))
		}
		return out, nil
	}
	if signers, err = derive(0, DevSignerCount); err != nil {
		return nil, nil, err
	}
	if recovery, err = derive(1, DevRecoveryCount); err != nil {
		return nil, nil, err
	}
	return signers, recovery, nil
}

// DevTunnelConfig is the devnet's tunnel: DevTunnelKeys' 2-of-3
// committee and 2-of-3 recovery set, N = DevRecoveryDelay, every other
// default.
func DevTunnelConfig() (*TunnelConfig, error) {
	signers, recovery, err := DevTunnelKeys()
	if err != nil {
		return nil, err
	}
	xs := func(keys []DevTunnelKey) [][32]byte {
		out := make([][32]byte, len(keys))
		for i, k := range keys {
			out[i] = k.XOnly
		}
		return out
	}
	t := DefaultTunnelConfig(xs(signers), DevSignerK, xs(recovery), DevRecoveryM)
	t.RecoveryDelay = DevRecoveryDelay
	return t, nil
}

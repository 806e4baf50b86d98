package genesis

import (
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/consensus/misc/eip1559"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"

	"github.com/hemi-go/hemi/internal/btc/network"
	"github.com/hemi-go/hemi/internal/chain/block"
)

// Defaults of Config (DevnetConfig).
const (
	// DevnetChainID is the devnet's EIP-155 chain id: 7431337 ("743",
	// the prefix of Hemi's public chain ids, then the "1337" of dev
	// chains). It differs from Hemi mainnet (43111), Hemi Sepolia
	// (743111), anvil (31337) and geth --dev (1337), so a transaction
	// signed for the devnet cannot be replayed on any of them.
	DevnetChainID = 7431337
	// DefaultBlockTime is the devnet block time (issue 3: 2 s).
	DefaultBlockTime = 2 * time.Second
	// DefaultGasLimit is the block gas limit, anvil's and Ethereum's
	// long-standing 30M. Under Osaka one transaction may use at most
	// params.MaxTxGas (2^24) of it (EIP-7825).
	DefaultGasLimit = 30_000_000
	// DefaultInitialBaseFee is the genesis base fee: Ethereum's
	// params.InitialBaseFee, 1 gwei.
	DefaultInitialBaseFee = params.InitialBaseFee
	// DefaultViewLag is how many blocks the Bitcoin view trails the
	// Bitcoin tip (DESIGN 3.4).
	DefaultViewLag = 2
	// DefaultKeystoneInterval: every L2 block whose number is a multiple
	// of it is a keystone (DESIGN 4).
	DefaultKeystoneInterval = 25
	// MaxJSONInt bounds every integer the genesis file writes as a JSON
	// number: 2^53-1, the largest a JavaScript or jq reader gets exactly
	// (amounts in wei, which may be larger, are decimal strings).
	MaxJSONInt = 1<<53 - 1
)

// Errors of this package.
var (
	// ErrConfig: a Config field is invalid.
	ErrConfig = errors.New("genesis: invalid config")
	// ErrTxType: a user transaction of a type the chain does not accept.
	ErrTxType = errors.New("genesis: transaction type not accepted")
	// ErrView: a Bitcoin view header that cannot be stored (negative height).
	ErrView = errors.New("genesis: invalid bitcoin view")
	// ErrMnemonic: the dev mnemonic is not a valid BIP-39 phrase.
	ErrMnemonic = errors.New("genesis: invalid mnemonic")
)

// Config is the chain's consensus configuration, the same on every node of
// a network. Immutable once a chain is started from it; Validate before use.
type Config struct {
	// ChainID is the EIP-155 chain id (DevnetChainID).
	ChainID uint64
	// BlockTime is the target spacing of blocks; the sequencer builds one
	// every BlockTime (empty blocks allowed) and a block's timestamp is
	// at least its parent's plus one second.
	BlockTime time.Duration
	// GasLimit is every block's gas limit (constant: the sequencer does
	// not vote it up or down).
	GasLimit uint64
	// InitialBaseFee is the genesis block's base fee in wei. Later base
	// fees follow EIP-1559 exactly as on Ethereum (NextBaseFee:
	// elasticity 2, change denominator 8).
	InitialBaseFee uint64
	// BitcoinNetwork names the Bitcoin network the chain reads
	// (internal/btc/network: mainnet, testnet3, testnet4, signet,
	// regtest); it fixes address encoding in the hVM precompiles.
	BitcoinNetwork string
	// ViewLag is the minimum distance, in Bitcoin blocks, between a
	// block's Bitcoin view and the Bitcoin tip the sequencer knows.
	ViewLag uint32
	// KeystoneInterval is the keystone spacing in L2 blocks (DESIGN 4).
	KeystoneInterval uint64
	// Sequencers are the addresses whose seal (block.Signer) a block may
	// carry. At least one.
	Sequencers []common.Address
	// Tunnel is the BTC tunnel (DESIGN 6): its vault keys, thresholds,
	// confirmations and predeploy addresses. Nil means no tunnel: no
	// vault, no deposit or payout system transactions.
	Tunnel *TunnelConfig
	// PoP is the Proof-of-Proof schedule: finality depth, fork choice
	// scoring and publisher rewards (DESIGN 4).
	PoP PoPConfig
	// Forks is the fork schedule (DefaultForks; Active asks it).
	Forks Forks
}

// PoPConfig is the Proof-of-Proof part of the chain configuration. Every
// node of a network must use the same values: rewards are paid by system
// transactions every node derives, and fork choice must agree.
type PoPConfig struct {
	// SuperfinalDepth is the Bitcoin confirmations at which an L2 block
	// is superfinal (DESIGN 4: DefaultSuperfinalDepth 10; the devnet uses
	// DevnetSuperfinalDepth 6). At least 1.
	SuperfinalDepth uint32
	// ForkTable scores a keystone publication in PoP fork choice by its
	// delay, in Bitcoin blocks, after the earliest publication of the
	// competing keystone at the same L2 height: ForkTable[d] points for
	// delay d, none beyond the table (internal/finality documents the
	// rule).
	ForkTable []uint32
	// RewardDelay: the publishers of keystone K are paid by system
	// transactions of L2 block K + RewardDelay, from the publications in
	// that block's Bitcoin view (DefaultRewardDelay). 0 turns rewards off.
	RewardDelay uint64
	// Reward is the reward in wei for a publication in the same Bitcoin
	// block as the keystone's first publication (DefaultReward). Required
	// (positive) when RewardDelay > 0.
	Reward *big.Int
	// RewardTable is the percent of Reward paid for a publication landing
	// d Bitcoin blocks after the keystone's first publication, d = 0,
	// 1, ...; later publications earn nothing (DefaultRewardTable).
	// Non-increasing, each entry at most 100.
	RewardTable []uint32
	// MaxRewarded caps the publications paid per keystone (the earliest
	// first, in Bitcoin order; one per publisher; DefaultMaxRewarded).
	MaxRewarded int
}

// DevnetConfig is the devnet's configuration with sequencer as the only
// sequencer: every default of this package, Bitcoin regtest, no tunnel
// (the devnet itself adds DevTunnelConfig),
// PoP with DefaultPoPConfig(DevnetSuperfinalDepth), every feature from
// block 0.
func DevnetConfig(sequencer common.Address) Config {
	return Config{
		ChainID:          DevnetChainID,
		BlockTime:        DefaultBlockTime,
		GasLimit:         DefaultGasLimit,
		InitialBaseFee:   DefaultInitialBaseFee,
		BitcoinNetwork:   network.Regtest,
		ViewLag:          DefaultViewLag,
		KeystoneInterval: DefaultKeystoneInterval,
		Sequencers:       []common.Address{sequencer},
		PoP:              DefaultPoPConfig(DevnetSuperfinalDepth),
		Forks:            DefaultForks(),
	}
}

// Validate checks every field. A failure is a *FieldError naming the
// field by its path in the genesis file (File) and saying what to set.
func (c *Config) Validate() error {
	const e = "must be %s; %s"
	switch {
	case c.ChainID == 0:
		return fieldErr(ErrConfig, "chain_id", e, "positive", "set it to the network's EIP-155 chain id, unique among EVM chains (the devnet's is 7431337)")
	case c.ChainID > MaxJSONInt:
		return fieldErr(ErrConfig, "chain_id", "%d is above %d, which JSON readers cannot hold exactly; choose a smaller one (MetaMask accepts at most 4503599627370476)", c.ChainID, uint64(MaxJSONInt))
	case c.BlockTime < time.Second || c.BlockTime%time.Second != 0:
		// Header timestamps are in seconds.
		return fieldErr(ErrConfig, "block_time", e, "a whole number of seconds, at least 1", fmt.Sprintf("got %v; header timestamps are in seconds (the default is %d)", c.BlockTime, DefaultBlockTime/time.Second))
	case c.GasLimit < params.MinGasLimit:
		return fieldErr(ErrConfig, "gas_limit", e, fmt.Sprintf("at least %d (go-ethereum's minimum)", params.MinGasLimit), fmt.Sprintf("got %d; the default is %d", c.GasLimit, DefaultGasLimit))
	case c.GasLimit > MaxJSONInt:
		return fieldErr(ErrConfig, "gas_limit", e, fmt.Sprintf("at most %d", uint64(MaxJSONInt)), fmt.Sprintf("got %d; the default is %d", c.GasLimit, DefaultGasLimit))
	case c.InitialBaseFee == 0:
		return fieldErr(ErrConfig, "initial_base_fee", e, "positive", fmt.Sprintf("set the genesis block's base fee in wei (the default is \"%d\", 1 gwei)", DefaultInitialBaseFee))
	case c.KeystoneInterval == 0 || c.KeystoneInterval > MaxJSONInt:
		return fieldErr(ErrConfig, "keystone_interval", e, fmt.Sprintf("1 to %d", uint64(MaxJSONInt)), fmt.Sprintf("got %d; every block whose number is a multiple of it is a keystone (the default is %d)", c.KeystoneInterval, DefaultKeystoneInterval))
	case len(c.Sequencers) == 0:
		return fieldErr(ErrConfig, "sequencers", e, "a non-empty list", "list every sequencer's seal address (`hemi genesis new --sequencer ADDRESS`)")
	}
	for i, s := range c.Sequencers {
		if s == (common.Address{}) {
			return fieldErr(ErrConfig, fmt.Sprintf("sequencers[%d].address", i), "is the zero address, which has no key; set the sequencer's seal key address")
		}
		if j := slices.Index(c.Sequencers, s); j < i {
			return fieldErr(ErrConfig, fmt.Sprintf("sequencers[%d].address", i), "%v is also sequencers[%d]: each sequencer has its own seal key; remove the duplicate", s, j)
		}
	}
	if _, err := network.Params(c.BitcoinNetwork); err != nil {
		return fieldErr(ErrConfig, "bitcoin.network", "%v", err)
	}
	if err := c.PoP.Validate(c.GasLimit); err != nil {
		return err
	}
	if err := c.Tunnel.Validate(); err != nil {
		return err
	}
	if err := c.validateSystemGas(); err != nil {
		return err
	}
	return c.Forks.validate()
}

// BitcoinParams returns btcd's parameters for BitcoinNetwork.
func (c *Config) BitcoinParams() (*chaincfg.Params, error) {
	p, err := network.Params(c.BitcoinNetwork)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return p, nil
}

// IsSequencer reports whether addr may seal blocks.
func (c *Config) IsSequencer(addr common.Address) bool {
	for _, s := range c.Sequencers {
		if s == addr {
			return true
		}
	}
	return false
}

// IsKeystone reports whether L2 block number is a keystone.
func (c *Config) IsKeystone(number uint64) bool {
	return c.KeystoneInterval != 0 && number%c.KeystoneInterval == 0
}

// ChainConfig returns go-ethereum's chain configuration for c.ChainID.
//
// Every fork go-ethereum v1.17.10 runs on Ethereum mainnet is active from
// genesis (block 0, time 0): Homestead, EIP-150, EIP-155, EIP-158,
// Byzantium, Constantinople, Petersburg, Istanbul, Muir Glacier, Berlin,
// London, Arrow Glacier, Gray Glacier, the Merge (terminal total
// difficulty 0, so blocks have difficulty 0 and PREVRANDAO reads MixDigest),
// Shanghai, Cancun, Prague, Osaka, BPO1 and BPO2 — mainnet's schedule in
// v1.17.10's params/chainspecs/mainnet.json. Amsterdam and Bogota, which
// v1.17.10 knows but no public network has scheduled, are off; so is the
// DAO fork (irrelevant from genesis) and UBT.
//
// Consequences the block processor owns: headers carry WithdrawalsHash
// (always the empty list: Hemi has no withdrawals), BlobGasUsed and
// ExcessBlobGas (always 0), ParentBeaconRoot and RequestsHash; the
// EIP-4788, EIP-2935, EIP-7002 and EIP-7251 system contracts exist from
// genesis (SystemContracts) for the system calls those forks make.
//
// Blob transactions (type 3) are not accepted (CheckUserTxType): Hemi has
// no blob data availability layer, so a blob would be paid for and never
// served. The blob schedule is still set because go-ethereum requires it
// for Cancun and later (header blob fields, the BLOBBASEFEE opcode, which
// reads the minimum blob base fee of 1 wei since excess blob gas is 0).
func (c *Config) ChainConfig() *params.ChainConfig {
	zero := uint64(0)
	return &params.ChainConfig{
		ChainID:                 new(big.Int).SetUint64(c.ChainID),
		HomesteadBlock:          big.NewInt(0),
		EIP150Block:             big.NewInt(0),
		EIP155Block:             big.NewInt(0),
		EIP158Block:             big.NewInt(0),
		ByzantiumBlock:          big.NewInt(0),
		ConstantinopleBlock:     big.NewInt(0),
		PetersburgBlock:         big.NewInt(0),
		IstanbulBlock:           big.NewInt(0),
		MuirGlacierBlock:        big.NewInt(0),
		BerlinBlock:             big.NewInt(0),
		LondonBlock:             big.NewInt(0),
		ArrowGlacierBlock:       big.NewInt(0),
		GrayGlacierBlock:        big.NewInt(0),
		MergeNetsplitBlock:      big.NewInt(0),
		TerminalTotalDifficulty: big.NewInt(0),
		ShanghaiTime:            &zero,
		CancunTime:              &zero,
		PragueTime:              &zero,
		OsakaTime:               &zero,
		BPO1Time:                &zero,
		BPO2Time:                &zero,
		BlobScheduleConfig: &params.BlobScheduleConfig{
			Cancun: params.DefaultCancunBlobConfig,
			Prague: params.DefaultPragueBlobConfig,
			BPO1:   params.DefaultBPO1BlobConfig,
			BPO2:   params.DefaultBPO2BlobConfig,
		},
	}
}

// NextBaseFee is the base fee of the child of parent: EIP-1559 as on
// Ethereum (go-ethereum's eip1559.CalcBaseFee under cfg).
func NextBaseFee(cfg *params.ChainConfig, parent *types.Header) *big.Int {
	return eip1559.CalcBaseFee(cfg, parent)
}

// CheckUserTxType says whether a user (mempool, block body) transaction of
// type typ is accepted: legacy, EIP-2930, EIP-1559 and EIP-7702 are; blob
// transactions are not (no blob DA); the system type 0x7E is never a user
// transaction (go-ethereum cannot even decode it; this catches it earlier
// with a clear error).
func CheckUserTxType(typ uint8) error {
	switch typ {
	case types.LegacyTxType, types.AccessListTxType, types.DynamicFeeTxType, types.SetCodeTxType:
		return nil
	case types.BlobTxType:
		return fmt.Errorf("%w: blob transactions (type 3): Hemi has no blob data availability", ErrTxType)
	case block.SystemTxType:
		return fmt.Errorf("%w: system transactions (type 0x7e) are derived from Bitcoin by every node, never sent by users", ErrTxType)
	}
	return fmt.Errorf("%w: unknown type %#x", ErrTxType, typ)
}

package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/urfave/cli/v3"

	"github.com/hemi-go/hemi/internal/chain/genesis"
)

// Flags of `hemi genesis new`.
const (
	flagChainID          = "chain-id"
	flagBTCHeight        = "btc-height"
	flagBTCHash          = "btc-hash"
	flagSequencerAddr    = "sequencer"
	flagGenesisTime      = "time"
	flagBlockTime        = "block-time"
	flagGasLimit         = "gas-limit"
	flagBaseFee          = "base-fee"
	flagViewLag          = "view-lag"
	flagKeystoneInterval = "keystone-interval"
	flagSuperfinalDepth  = "superfinal-depth"
	flagRewardDelay      = "reward-delay"
	flagReward           = "reward"
	flagMaxRewarded      = "max-rewarded"
	flagAlloc            = "alloc"
	flagDevAccounts      = "dev-accounts"
	// The tunnel (genesis "tunnel" object): present when --tunnel-signer
	// or --dev-tunnel is given.
	flagTunnelSigner     = "tunnel-signer"
	flagTunnelK          = "tunnel-k"
	flagTunnelRecovery   = "tunnel-recovery"
	flagTunnelM          = "tunnel-m"
	flagTunnelDelay      = "tunnel-recovery-delay"
	flagTunnelDepConfs   = "tunnel-deposit-confirmations"
	flagTunnelWdConfs    = "tunnel-withdrawal-confirmations"
	flagTunnelMinDeposit = "tunnel-min-deposit-sat"
	flagTunnelMaxDeps    = "tunnel-max-deposits-per-block"
	flagTunnelRederive   = "tunnel-rederive-blocks"
	flagTunnelAddress    = "tunnel-address"
	flagHBTCAddress      = "hbtc-address"
	flagDevTunnel        = "dev-tunnel"
)

func genesisCommand() *cli.Command {
	return &cli.Command{
		Name:  "genesis",
		Usage: "make and check a network's genesis file",
		Description: "A network is defined by its genesis file (DESIGN 9; README \"Genesis files\"): every node\n" +
			"runs `hemi node --genesis FILE` with the same file, and its hash identifies the network.",
		Commands: []*cli.Command{genesisNewCommand(), genesisHashCommand()},
	}
}

func genesisNewCommand() *cli.Command {
	d := genesis.DevnetConfig(common.Address{})
	return &cli.Command{
		Name:      "new",
		Usage:     "write the genesis file of a new network",
		ArgsUsage: "FILE",
		Description: "Writes a genesis file (format " + fmt.Sprint(genesis.FileVersion) + ") from the flags; the defaults are the chain's\n" +
			"(internal/chain/genesis). FILE must not exist. The genesis Bitcoin block is named by height and\n" +
			"hash (`hemi btc header HEIGHT` prints the hash); a node waits until its index has that block\n" +
			"on its most-work chain. The PoP tables keep their defaults; edit the file to change them and\n" +
			"check it with `hemi genesis hash FILE`.\n\n" +
			"The BTC tunnel is on when --tunnel-signer (x-only keys, 64 hex digits each; repeat) or\n" +
			"--dev-tunnel (the public dev keys, development networks only) is given; `hemi tunnel vault\n" +
			"--genesis FILE` then prints the vault's address and descriptor.\n\n" +
			"Example: hemi genesis new --chain-id 7431338 --network regtest --btc-height 110 \\\n" +
			"  --btc-hash <hash> --sequencer 0x70997970C51812dc3A010C7d01b50e0d17dc79C8:seq-1 --dev-accounts genesis.json",
		Flags: []cli.Flag{
			&cli.Uint64Flag{Name: flagChainID, Usage: "EIP-155 chain id, unique among EVM chains", Required: true},
			&cli.StringFlag{Name: flagNetwork, Usage: "Bitcoin network: mainnet, testnet3, testnet4, signet or regtest", Required: true},
			&cli.Uint64Flag{Name: flagBTCHeight, Usage: "height of the genesis Bitcoin block (the genesis's Bitcoin view)", Required: true},
			&cli.StringFlag{Name: flagBTCHash, Usage: "hash of that block, as Bitcoin tools print it", Required: true},
			&cli.StringSliceFlag{Name: flagSequencerAddr, Usage: "a sequencer's seal key address, optionally :NAME (repeat for each)", Required: true},
			&cli.Uint64Flag{Name: flagGenesisTime, Usage: "genesis Unix time in seconds (default: now)"},
			&cli.Uint64Flag{Name: flagBlockTime, Value: uint64(d.BlockTime / time.Second), Usage: "seconds between L2 blocks"},
			&cli.Uint64Flag{Name: flagGasLimit, Value: d.GasLimit, Usage: "block gas limit"},
			&cli.StringFlag{Name: flagBaseFee, Value: fmt.Sprint(d.InitialBaseFee), Usage: "genesis base fee in wei"},
			&cli.Uint64Flag{Name: flagViewLag, Value: uint64(d.ViewLag), Usage: "Bitcoin blocks the view trails the Bitcoin tip"},
			&cli.Uint64Flag{Name: flagKeystoneInterval, Value: d.KeystoneInterval, Usage: "every block whose number is a multiple of it is a keystone"},
			&cli.Uint64Flag{Name: flagSuperfinalDepth, Value: genesis.DefaultSuperfinalDepth, Usage: "Bitcoin confirmations at which a block is superfinal"},
			&cli.Uint64Flag{Name: flagRewardDelay, Value: genesis.DefaultRewardDelay, Usage: "L2 blocks between a keystone and the block paying its publishers (0: no rewards)"},
			&cli.StringFlag{Name: flagReward, Value: genesis.DefaultReward().String(), Usage: "PoP reward in wei for a first-block publication"},
			&cli.Uint64Flag{Name: flagMaxRewarded, Value: genesis.DefaultMaxRewarded, Usage: "publications paid per keystone"},
			&cli.StringSliceFlag{Name: flagAlloc, Usage: "fund ADDRESS=WEI at genesis (repeat for each)"},
			&cli.BoolFlag{Name: flagDevAccounts, Usage: "fund anvil's ten public dev accounts with 10,000 ETH each (development networks only)"},
			&cli.StringSliceFlag{Name: flagTunnelSigner, Usage: "a tunnel committee key, BIP-340 x-only, 64 hex digits (repeat for each; turns the tunnel on)"},
			&cli.Uint64Flag{Name: flagTunnelK, Usage: "signatures a payout needs (default: a majority of the signers)"},
			&cli.StringSliceFlag{Name: flagTunnelRecovery, Usage: "a tunnel recovery key, x-only (repeat for each, in leaf order)"},
			&cli.Uint64Flag{Name: flagTunnelM, Usage: "signatures a recovery spend needs (default: a majority of the recovery keys)"},
			&cli.Uint64Flag{Name: flagTunnelDelay, Value: genesis.DefaultRecoveryDelay, Usage: "N: Bitcoin blocks after which the recovery set may spend a vault output"},
			&cli.Uint64Flag{Name: flagTunnelDepConfs, Value: genesis.DefaultDepositConfirmations, Usage: "Bitcoin confirmations before a deposit is minted"},
			&cli.Uint64Flag{Name: flagTunnelWdConfs, Value: genesis.DefaultWithdrawalConfirmations, Usage: "Bitcoin confirmations before a payout's batch is paid"},
			&cli.Uint64Flag{Name: flagTunnelMinDeposit, Value: genesis.DefaultMinDepositSat, Usage: "smallest deposit minted, in satoshis (smaller ones are refunded)"},
			&cli.Uint64Flag{Name: flagTunnelMaxDeps, Value: genesis.DefaultMaxDepositsPerBlock, Usage: "deposits per L2 block (the rest carry over)"},
			&cli.Uint64Flag{Name: flagTunnelRederive, Value: genesis.DefaultRederiveBlocks, Usage: "Bitcoin blocks before an unconfirmed payout is re-derived at a higher fee"},
			&cli.StringFlag{Name: flagTunnelAddress, Value: strings.ToLower(genesis.DefaultTunnelAddress.Hex()), Usage: "the tunnel predeploy's address"},
			&cli.StringFlag{Name: flagHBTCAddress, Value: strings.ToLower(genesis.DefaultHBTCAddress.Hex()), Usage: "the hBTC predeploy's address"},
			&cli.BoolFlag{Name: flagDevTunnel, Usage: "a tunnel of the public dev keys: 2-of-3 committee, 2-of-3 recovery, N 144 (development networks only)"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.Args().Len() != 1 {
				return errors.New("genesis new takes one argument, the file to write: hemi genesis new [flags] FILE")
			}
			path := cmd.Args().First()
			f, err := newGenesisFile(cmd, time.Now())
			if err != nil {
				return err
			}
			data, err := f.Encode()
			if err != nil {
				return err
			}
			if err := writeNewFile(path, data); err != nil {
				return err
			}
			fmt.Fprintf(cmd.Root().Writer, "wrote %s\nhash  %s\n", path, f.Hash())
			return nil
		},
	}
}

// newGenesisFile builds the file the flags describe; now is the default
// genesis time.
func newGenesisFile(cmd *cli.Command, now time.Time) (*genesis.File, error) {
	c := genesis.DevnetConfig(common.Address{})
	c.Sequencers = nil
	c.ChainID = cmd.Uint64(flagChainID)
	c.BitcoinNetwork = cmd.String(flagNetwork)
	c.BlockTime = time.Duration(min(cmd.Uint64(flagBlockTime), genesis.MaxJSONInt)) * time.Second
	c.GasLimit = cmd.Uint64(flagGasLimit)
	c.KeystoneInterval = cmd.Uint64(flagKeystoneInterval)
	f := &genesis.File{Config: c, Time: cmd.Uint64(flagGenesisTime), Alloc: types.GenesisAlloc{}}
	if f.Time == 0 {
		f.Time = uint64(now.Unix())
	}
	var err error
	if f.Config.InitialBaseFee, err = parseUint64(flagBaseFee, cmd.String(flagBaseFee)); err != nil {
		return nil, err
	}
	reward, ok := new(big.Int).SetString(cmd.String(flagReward), 10)
	if !ok || reward.Sign() < 0 {
		return nil, fmt.Errorf("--%s %q: want wei as a whole decimal number", flagReward, cmd.String(flagReward))
	}
	f.Config.PoP.Reward = reward
	for name, v := range map[string]uint64{flagViewLag: cmd.Uint64(flagViewLag), flagSuperfinalDepth: cmd.Uint64(flagSuperfinalDepth),
		flagMaxRewarded: cmd.Uint64(flagMaxRewarded), flagBTCHeight: cmd.Uint64(flagBTCHeight)} {
		if v > 1<<31-1 {
			return nil, fmt.Errorf("--%s %d: too large", name, v)
		}
	}
	f.Config.ViewLag = uint32(cmd.Uint64(flagViewLag))
	f.Config.PoP.SuperfinalDepth = uint32(cmd.Uint64(flagSuperfinalDepth))
	f.Config.PoP.RewardDelay = cmd.Uint64(flagRewardDelay)
	f.Config.PoP.MaxRewarded = int(cmd.Uint64(flagMaxRewarded))
	f.Bitcoin.Height = int32(cmd.Uint64(flagBTCHeight))
	hash, err := chainhash.NewHashFromStr(cmd.String(flagBTCHash))
	if err != nil || len(cmd.String(flagBTCHash)) != 2*chainhash.HashSize {
		return nil, fmt.Errorf("--%s %q: want the block hash as Bitcoin tools print it, 64 hex digits", flagBTCHash, cmd.String(flagBTCHash))
	}
	f.Bitcoin.Hash = *hash
	for _, s := range cmd.StringSlice(flagSequencerAddr) {
		addr, name, _ := strings.Cut(s, ":")
		if !common.IsHexAddress(addr) || !strings.HasPrefix(addr, "0x") {
			return nil, fmt.Errorf("--%s %q: want a 0x-prefixed address, optionally :NAME", flagSequencerAddr, s)
		}
		f.Config.Sequencers = append(f.Config.Sequencers, common.HexToAddress(addr))
		f.SequencerNames = append(f.SequencerNames, name)
	}
	if cmd.Bool(flagDevAccounts) {
		accs, err := genesis.DevAccounts(genesis.DevMnemonic, genesis.DevAccountCount)
		if err != nil {
			return nil, err
		}
		f.Alloc = genesis.DevAlloc(accs, genesis.DevBalance())
	}
	for _, s := range cmd.StringSlice(flagAlloc) {
		addr, wei, ok := strings.Cut(s, "=")
		bal, okb := new(big.Int).SetString(wei, 10)
		if !ok || !common.IsHexAddress(addr) || !okb || bal.Sign() < 0 {
			return nil, fmt.Errorf("--%s %q: want ADDRESS=WEI, e.g. 0x70997970C51812dc3A010C7d01b50e0d17dc79C8=1000000000000000000", flagAlloc, s)
		}
		a := common.HexToAddress(addr)
		if _, dup := f.Alloc[a]; dup {
			return nil, fmt.Errorf("--%s %q: %v is funded twice", flagAlloc, s, a)
		}
		f.Alloc[a] = types.Account{Balance: bal}
	}
	if f.Config.Tunnel, err = newTunnelConfig(cmd); err != nil {
		return nil, err
	}
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("genesis new: %w (set it with its flag, see hemi genesis new --help)", err)
	}
	return f, nil
}

// newTunnelConfig is the tunnel the flags describe, nil when neither
// --tunnel-signer nor --dev-tunnel is given (then no other tunnel flag
// may be).
func newTunnelConfig(cmd *cli.Command) (*genesis.TunnelConfig, error) {
	signers, recovery := cmd.StringSlice(flagTunnelSigner), cmd.StringSlice(flagTunnelRecovery)
	var t *genesis.TunnelConfig
	switch {
	case cmd.Bool(flagDevTunnel):
		if len(signers) > 0 || len(recovery) > 0 {
			return nil, fmt.Errorf("--%s sets the dev keys; drop --%s and --%s, or --%s", flagDevTunnel, flagTunnelSigner, flagTunnelRecovery, flagDevTunnel)
		}
		dev, err := genesis.DevTunnelConfig()
		if err != nil {
			return nil, err
		}
		t = dev
	case len(signers) > 0:
		s, err := parseXOnlyKeys(flagTunnelSigner, signers)
		if err != nil {
			return nil, err
		}
		r, err := parseXOnlyKeys(flagTunnelRecovery, recovery)
		if err != nil {
			return nil, err
		}
		t = genesis.DefaultTunnelConfig(s, len(s)/2+1, r, len(r)/2+1)
	default:
		for _, name := range []string{flagTunnelRecovery, flagTunnelK, flagTunnelM, flagTunnelDelay, flagTunnelDepConfs, flagTunnelWdConfs,
			flagTunnelMinDeposit, flagTunnelMaxDeps, flagTunnelRederive, flagTunnelAddress, flagHBTCAddress} {
			if cmd.IsSet(name) {
				return nil, fmt.Errorf("--%s without a tunnel: give the committee with --%s KEY (repeat) or use --%s", name, flagTunnelSigner, flagDevTunnel)
			}
		}
		return nil, nil
	}
	if cmd.IsSet(flagTunnelK) {
		t.K = int(min(cmd.Uint64(flagTunnelK), genesis.MaxTunnelKeys+1))
	}
	if cmd.IsSet(flagTunnelM) {
		t.M = int(min(cmd.Uint64(flagTunnelM), genesis.MaxTunnelKeys+1))
	}
	if cmd.IsSet(flagTunnelDelay) || !cmd.Bool(flagDevTunnel) {
		d := cmd.Uint64(flagTunnelDelay)
		if d > 65535 {
			return nil, fmt.Errorf("--%s %d: at most 65535 blocks (a BIP-68 relative timelock)", flagTunnelDelay, d)
		}
		t.RecoveryDelay = uint16(d)
	}
	for name, dst := range map[string]*uint32{flagTunnelDepConfs: &t.DepositConfirmations, flagTunnelWdConfs: &t.WithdrawalConfirmations, flagTunnelRederive: &t.RederiveBlocks} {
		v := cmd.Uint64(name)
		if v > 1<<32-1 {
			return nil, fmt.Errorf("--%s %d: too large", name, v)
		}
		*dst = uint32(v)
	}
	t.MinDepositSat = cmd.Uint64(flagTunnelMinDeposit)
	t.MaxDepositsPerBlock = int(min(cmd.Uint64(flagTunnelMaxDeps), genesis.MaxDepositsPerBlockLimit+1))
	for name, dst := range map[string]*common.Address{flagTunnelAddress: &t.TunnelAddress, flagHBTCAddress: &t.HBTCAddress} {
		s := cmd.String(name)
		if !common.IsHexAddress(s) || !strings.HasPrefix(s, "0x") {
			return nil, fmt.Errorf("--%s %q: want a 0x-prefixed address", name, s)
		}
		*dst = common.HexToAddress(s)
	}
	return t, nil
}

// parseXOnlyKeys reads BIP-340 x-only keys (64 hex digits; Validate
// checks they are points).
func parseXOnlyKeys(flag string, in []string) ([][32]byte, error) {
	out := make([][32]byte, len(in))
	for i, s := range in {
		b, err := hex.DecodeString(s)
		if err != nil || len(b) != 32 {
			return nil, fmt.Errorf("--%s %q: want a BIP-340 x-only public key, 64 hex digits without 0x", flag, s)
		}
		copy(out[i][:], b)
	}
	return out, nil
}

func parseUint64(flag, s string) (uint64, error) {
	n, ok := new(big.Int).SetString(s, 10)
	if !ok || n.Sign() < 0 || !n.IsUint64() {
		return 0, fmt.Errorf("--%s %q: want a whole decimal number below 2^64", flag, s)
	}
	return n.Uint64(), nil
}

// writeNewFile writes data to path, refusing to replace a file: a
// network's genesis file is written once.
func writeNewFile(path string, data []byte) error {
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s exists: a genesis file is not overwritten (it defines a network); remove it or choose another path", path)
		}
		return err
	}
	if _, err := fh.Write(data); err != nil {
		fh.Close()
		os.Remove(path)
		return err
	}
	if err := fh.Sync(); err != nil {
		fh.Close()
		os.Remove(path)
		return err
	}
	return fh.Close()
}

func genesisHashCommand() *cli.Command {
	return &cli.Command{
		Name:      "hash",
		Usage:     "validate a genesis file and print its hash (operators of one network compare it)",
		ArgsUsage: "FILE",
		Description: "The hash is keccak256 of the file's canonical form (sorted keys, no whitespace: for a file\n" +
			"`hemi genesis new` wrote, `jq -cjS . FILE | cast keccak` gives the same). Peers with another\n" +
			"hash are on another network.",
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.Args().Len() != 1 {
				return errors.New("genesis hash takes one argument: hemi genesis hash FILE")
			}
			f, err := genesis.Load(cmd.Args().First())
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.Root().Writer, f.Hash().Hex())
			return nil
		},
	}
}

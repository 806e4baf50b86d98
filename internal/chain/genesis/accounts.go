package genesis

import (
	"crypto/ecdsa"
	"fmt"
	"math/big"

	"github.com/btcsuite/btcd/btcutil/v2/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/tyler-smith/go-bip39"
)

// DevMnemonic is the well-known development mnemonic of anvil and
// Hardhat. Its keys are public: never fund them on a real network.
const DevMnemonic = "test test test test test test test test test test test junk"

// DevAccountCount is how many dev accounts the devnet funds (anvil's 10).
const DevAccountCount = 10

// DevBalance is each dev account's genesis balance: 10,000 ether, anvil's.
func DevBalance() *big.Int {
	return new(big.Int).Mul(big.NewInt(10_000), big.NewInt(params.Ether))
}

// MaxDevAccounts bounds DevAccounts (BIP-32 allows 2^31 non-hardened
// children; deriving is ~0.1 ms each, so keep dev genesis small).
const MaxDevAccounts = 10_000

// DevAccount is a funded development account.
type DevAccount struct {
	// Path is its BIP-32 derivation path, m/44'/60'/0'/0/i.
	Path string
	// Address is the Ethereum address of Key.
	Address common.Address
	// Key is the account's private key.
	Key *ecdsa.PrivateKey
}

// DevAccounts derives n accounts from a BIP-39 mnemonic (empty passphrase)
// along m/44'/60'/0'/0/i, i = 0..n-1, the standard Ethereum path wallets
// and anvil use, so DevMnemonic yields anvil's accounts (the first is
// 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266). The mnemonic's checksum is
// verified.
func DevAccounts(mnemonic string, n int) ([]DevAccount, error) {
	if n < 0 || n > MaxDevAccounts {
		return nil, fmt.Errorf("%w: %d dev accounts, want 0..%d", ErrConfig, n, MaxDevAccounts)
	}
	seed, err := bip39.NewSeedWithErrorChecking(mnemonic, "")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMnemonic, err)
	}
	// The network only sets the serialisation version bytes, which a
	// derivation never reads.
	master, err := hdkeychain.NewMaster(seed, &chaincfg.MainNetParams)
	if err != nil {
		return nil, fmt.Errorf("genesis: bip32 master key: %w", err)
	}
	parent := master
	for _, i := range []uint32{44 + hdkeychain.HardenedKeyStart, 60 + hdkeychain.HardenedKeyStart, hdkeychain.HardenedKeyStart, 0} {
		if parent, err = parent.Derive(i); err != nil {
			return nil, fmt.Errorf("genesis: bip32 derive: %w", err)
		}
	}
	out := make([]DevAccount, 0, n)
	for i := range n {
		child, err := parent.Derive(uint32(i))
		if err != nil {
			// BIP-32: an invalid child (probability < 2^-127) is skipped
			// by wallets; surfacing it is clearer for a dev genesis.
			return nil, fmt.Errorf("genesis: bip32 derive child %d: %w", i, err)
		}
		priv, err := child.ECPrivKey()
		if err != nil {
			return nil, fmt.Errorf("genesis: bip32 child %d key: %w", i, err)
		}
		key, err := crypto.ToECDSA(priv.Serialize())
		if err != nil {
			return nil, fmt.Errorf("genesis: child %d key: %w", i, err)
		}
		out = append(out, DevAccount{
			Path:    fmt.Sprintf("m/44'/60'/0'/0/%d", i),
			Address: crypto.PubkeyToAddress(key.PublicKey),
			Key:     key,
		})
	}
	return out, nil
}

// DevAlloc funds each account with balance.
func DevAlloc(accounts []DevAccount, balance *big.Int) types.GenesisAlloc {
	alloc := make(types.GenesisAlloc, len(accounts))
	for _, a := range accounts {
		alloc[a.Address] = types.Account{Balance: new(big.Int).Set(balance)}
	}
	return alloc
}

package genesis

import (
	"fmt"
	"maps"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/tracing"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/triedb"
	"github.com/holiman/uint256"

	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/hvm"
)

// Spec describes a chain's genesis block and state.
type Spec struct {
	// Config is the chain's configuration.
	Config Config
	// Timestamp is the genesis header's time (seconds).
	Timestamp uint64
	// View is the genesis Bitcoin view: its height and hash go into the
	// header's Extra record and its header into HVMState's storage. Block
	// 1's view must not be behind it.
	View hvm.Header
	// Alloc funds accounts (DevAlloc for a devnet). It may not name an
	// address the genesis itself fills (SystemContracts, HVMStateAddress).
	Alloc types.GenesisAlloc
}

// DevnetSpec is the devnet genesis: DevnetConfig(sequencer), the Bitcoin
// view view, and DevAccountCount accounts from DevMnemonic funded with
// DevBalance, which it also returns (their keys are printed by
// `hemi devnet`, as anvil does).
func DevnetSpec(sequencer common.Address, view hvm.Header, timestamp uint64) (*Spec, []DevAccount, error) {
	accounts, err := DevAccounts(DevMnemonic, DevAccountCount)
	if err != nil {
		return nil, nil, err
	}
	return &Spec{
		Config:    DevnetConfig(sequencer),
		Timestamp: timestamp,
		View:      view,
		Alloc:     DevAlloc(accounts, DevBalance()),
	}, accounts, nil
}

// SystemContracts are the system contracts the active forks call into,
// as go-ethereum's dev genesis deploys them (nonce 1, code from params):
// EIP-4788 beacon roots (Cancun), EIP-2935 block hash history (Prague),
// EIP-7002 withdrawal requests and EIP-7251 consolidation requests
// (Prague). The processor decides what it passes to them (Hemi has no
// beacon chain); the contracts must exist for the calls not to fail.
func SystemContracts() types.GenesisAlloc {
	return types.GenesisAlloc{
		params.BeaconRootsAddress:        {Nonce: 1, Code: params.BeaconRootsCode, Balance: new(big.Int)},
		params.HistoryStorageAddress:     {Nonce: 1, Code: params.HistoryStorageCode, Balance: new(big.Int)},
		params.WithdrawalQueueAddress:    {Nonce: 1, Code: params.WithdrawalQueueCode, Balance: new(big.Int)},
		params.ConsolidationQueueAddress: {Nonce: 1, Code: params.ConsolidationQueueCode, Balance: new(big.Int)},
	}
}

// Predeploys are Hemi's own contracts in the genesis state, with view
// stored in HVMState: HVMStateAddress (code HVMStateCode, nonce 1).
func Predeploys(view hvm.Header) (types.GenesisAlloc, error) {
	storage, err := ViewStorage(view)
	if err != nil {
		return nil, err
	}
	return types.GenesisAlloc{
		HVMStateAddress: {Nonce: 1, Code: HVMStateCode(), Storage: storage, Balance: new(big.Int)},
	}, nil
}

// FullAlloc is every account of the genesis state: SystemContracts,
// Predeploys, the TunnelPredeploys when the config has a tunnel, and
// s.Alloc.
func (s *Spec) FullAlloc() (types.GenesisAlloc, error) {
	alloc := SystemContracts()
	pre, err := Predeploys(s.View)
	if err != nil {
		return nil, err
	}
	maps.Copy(alloc, pre)
	if s.Config.Tunnel != nil {
		tun, err := TunnelPredeploys(s.Config.Tunnel, s.View)
		if err != nil {
			return nil, err
		}
		for addr := range tun {
			if _, ok := alloc[addr]; ok {
				return nil, fmt.Errorf("%w: tunnel predeploy at %v, a system contract or predeploy", ErrConfig, addr)
			}
		}
		maps.Copy(alloc, tun)
	}
	for addr, acc := range s.Alloc {
		if _, ok := alloc[addr]; ok {
			return nil, fmt.Errorf("%w: alloc names %v, a system contract or predeploy", ErrConfig, addr)
		}
		alloc[addr] = acc
	}
	return alloc, nil
}

// Commit writes the genesis state into tdb (committed: readable with
// state.New(header.Root, state.NewDatabase(tdb, nil)) after it returns) and
// returns the genesis header. The header is not stored: where blocks live
// is the chain's business. Committing the same Spec twice is harmless and
// gives the same header.
func (s *Spec) Commit(tdb *triedb.Database) (*types.Header, error) {
	if err := s.Config.Validate(); err != nil {
		return nil, err
	}
	// A path-scheme database refuses to apply the genesis state on top
	// of itself, so a restarting node's second Commit first computes the
	// root in memory and stops if tdb already holds that state.
	if tdb.Scheme() == rawdb.PathScheme {
		h, err := s.Header()
		if err != nil {
			return nil, err
		}
		if _, err := state.New(h.Root, state.NewDatabase(tdb, nil)); err == nil {
			return h, nil
		}
	}
	return s.commit(tdb)
}

func (s *Spec) commit(tdb *triedb.Database) (*types.Header, error) {
	alloc, err := s.FullAlloc()
	if err != nil {
		return nil, err
	}
	statedb, err := state.New(types.EmptyRootHash, state.NewDatabase(tdb, nil))
	if err != nil {
		return nil, fmt.Errorf("genesis: open state: %w", err)
	}
	for addr, acc := range alloc {
		if acc.Balance != nil {
			bal, overflow := uint256.FromBig(acc.Balance)
			if overflow || acc.Balance.Sign() < 0 {
				return nil, fmt.Errorf("%w: balance of %v out of range", ErrConfig, addr)
			}
			statedb.AddBalance(addr, bal, tracing.BalanceIncreaseGenesisBalance)
		}
		statedb.SetCode(addr, acc.Code, tracing.CodeChangeGenesis)
		statedb.SetNonce(addr, acc.Nonce, tracing.NonceChangeGenesis)
		for k, v := range acc.Storage {
			statedb.SetState(addr, k, v)
		}
	}
	cfg := s.Config.ChainConfig()
	root, err := statedb.Commit(cfg.Rules(common.Big0, true, s.Timestamp), 0)
	if err != nil {
		return nil, fmt.Errorf("genesis: commit state: %w", err)
	}
	if root != types.EmptyRootHash {
		if err := tdb.Commit(root, false); err != nil {
			return nil, fmt.Errorf("genesis: flush state: %w", err)
		}
	}
	return s.header(root)
}

// Header returns the genesis header, computing the state root in memory.
func (s *Spec) Header() (*types.Header, error) {
	db := rawdb.NewMemoryDatabase()
	tdb := triedb.NewDatabase(db, triedb.HashDefaults)
	defer tdb.Close()
	if err := s.Config.Validate(); err != nil {
		return nil, err
	}
	return s.commit(tdb)
}

// InMemory commits the genesis to a fresh in-memory database and returns
// the header and its state, for tests and tools.
func (s *Spec) InMemory() (*types.Header, *state.StateDB, error) {
	db := rawdb.NewMemoryDatabase()
	tdb := triedb.NewDatabase(db, triedb.HashDefaults)
	h, err := s.Commit(tdb)
	if err != nil {
		return nil, nil, err
	}
	st, err := state.New(h.Root, state.NewDatabase(tdb, nil))
	if err != nil {
		return nil, nil, fmt.Errorf("genesis: reopen state: %w", err)
	}
	return h, st, nil
}

// header is the genesis header over state root: number 0, no parent, the
// configured gas limit and base fee, empty transaction, receipt,
// withdrawal and request lists, zero blob gas, a zero parent beacon root
// (as go-ethereum's genesis), difficulty 0 (post-merge), MixDigest
// (PREVRANDAO) the view's hash in internal byte order, as internal/chain
// sets it for every block, and Extra the
// unsealed record of the genesis view (the genesis has no seal: every node
// builds it from the same Spec).
func (s *Spec) header(root common.Hash) (*types.Header, error) {
	if err := checkView(s.View); err != nil {
		return nil, err
	}
	extra, err := (&block.Extra{BitcoinHeight: uint32(s.View.Height), BitcoinHash: s.View.Hash}).Encode()
	if err != nil {
		return nil, err
	}
	var zero, blobGas uint64
	withdrawals, requests := types.EmptyWithdrawalsHash, types.EmptyRequestsHash
	return &types.Header{
		ParentHash:       common.Hash{},
		UncleHash:        types.EmptyUncleHash,
		Coinbase:         common.Address{},
		Root:             root,
		TxHash:           types.EmptyTxsHash,
		ReceiptHash:      types.EmptyReceiptsHash,
		Difficulty:       new(big.Int),
		Number:           new(big.Int),
		GasLimit:         s.Config.GasLimit,
		Time:             s.Timestamp,
		Extra:            extra,
		MixDigest:        common.Hash(s.View.Hash),
		BaseFee:          new(big.Int).SetUint64(s.Config.InitialBaseFee),
		WithdrawalsHash:  &withdrawals,
		BlobGasUsed:      &blobGas,
		ExcessBlobGas:    &zero,
		ParentBeaconRoot: new(common.Hash),
		RequestsHash:     &requests,
	}, nil
}

package hvm

import (
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/core/vm"
	"github.com/ethereum/go-ethereum/params"
	"github.com/holiman/uint256"
)

// listWarming is how WarmingStateDB worked before: every precompile put
// in the access list by Prepare. TestWarmingSameGas holds the two equal.
type listWarming struct{ vm.StateDB }

func (s listWarming) Prepare(rules params.Rules, sender, coinbase common.Address, dst *common.Address, precompiles []common.Address, list types.AccessList) {
	s.StateDB.Prepare(rules, sender, coinbase, dst, append(append([]common.Address(nil), precompiles...), Addresses()...), list)
}

// touchCode is straight-line code that, for each target, reads its
// balance, its code hash and size, STATICCALLs and CALLs it (10,000 gas
// each: some precompiles fail on empty input and keep what they are
// given), and stops.
func touchCode(targets []common.Address, self common.Address) []byte {
	var c []byte
	push20 := func(a common.Address) { c = append(append(c, 0x73), a[:]...) }
	for _, t := range targets {
		push20(t)
		c = append(c, 0x31, 0x50) // BALANCE POP
		push20(t)
		c = append(c, 0x3f, 0x50) // EXTCODEHASH POP
		push20(t)
		c = append(c, 0x3b, 0x50) // EXTCODESIZE POP
		c = append(c, 0x60, 0x00, 0x60, 0x00, 0x60, 0x00, 0x60, 0x00)
		push20(t)
		c = append(c, 0x61, 0x27, 0x10, 0xfa, 0x50) // 10,000 gas STATICCALL POP
		c = append(c, 0x60, 0x00, 0x60, 0x00, 0x60, 0x00, 0x60, 0x00, 0x60, 0x00)
		push20(t)
		c = append(c, 0x61, 0x27, 0x10, 0xf1, 0x50) // value 0, 10,000 gas CALL POP
	}
	return append(c, 0x00) // STOP
}

// revertCode CALLs target (warming it), then reverts.
func revertCode(target common.Address) []byte {
	c := []byte{0x60, 0x00, 0x60, 0x00, 0x60, 0x00, 0x60, 0x00, 0x60, 0x00, 0x73}
	c = append(c, target[:]...)
	return append(c, 0x5a, 0xf1, 0x50, 0x60, 0x00, 0x60, 0x00, 0xfd) // GAS CALL POP REVERT(0, 0)
}

// TestWarmingSameGas: WarmingStateDB (precompiles answered for, not put
// in the access list) charges exactly the gas of putting every
// precompile in the access list, for every access to Ethereum's active
// precompiles, the hVM ones, their neighbours and ordinary accounts,
// with and without a transaction access list naming some of them, and
// after a reverted subcall that warmed one; and not the gas of leaving
// the hVM ones cold.
func TestWarmingSameGas(t *testing.T) {
	cfg := params.MergedTestChainConfig
	rules := cfg.Rules(big.NewInt(1), true, 1)
	var targets []common.Address
	targets = append(targets, vm.ActivePrecompiles(rules)...)
	targets = append(targets, Addresses()...)
	for _, n := range []int64{0x00, 0x12, 0x3f, 0x4a, 0xff, 0x101, 0x140, 0x10040} {
		targets = append(targets, common.BigToAddress(big.NewInt(n)))
	}
	other := common.HexToAddress("0x00000000000000000000000000000000000a0040")
	targets = append(targets, other, evmSender)
	toucher := common.HexToAddress("0x2000000000000000000000000000000000000002")
	reverter := common.HexToAddress("0x2000000000000000000000000000000000000003")
	lists := map[string]types.AccessList{
		"no access list": nil,
		"access list": {
			{Address: AddrTx, StorageKeys: []common.Hash{{1}}},
			{Address: common.BytesToAddress([]byte{0x02})},
			{Address: common.BytesToAddress([]byte{0x4a}), StorageKeys: []common.Hash{{2}}},
			{Address: other},
		},
	}
	run := func(wrap func(vm.StateDB) vm.StateDB, to common.Address, list types.AccessList) uint64 {
		sdb, err := state.New(types.EmptyRootHash, state.NewDatabaseForTesting())
		if err != nil {
			t.Fatal(err)
		}
		sdb.SetBalance(evmSender, uint256.NewInt(1e18), 0)
		sdb.SetCode(toucher, touchCode(targets, toucher), 0)
		sdb.SetCode(reverter, revertCode(AddrHeader), 0)
		evm := vm.NewEVM(testBlockContext(), wrap(sdb), cfg, vm.Config{})
		evm.SetPrecompiles(Merge(rules, Precompiles(nil, regtest)))
		used := uint64(0)
		// Two messages on one EVM: the second must not see the first's
		// warm addresses (Prepare starts each afresh).
		for _, dst := range []common.Address{reverter, to} {
			msg := &core.Message{From: evmSender, To: &dst, Value: new(uint256.Int), GasLimit: 5_000_000, Nonce: sdb.GetNonce(evmSender),
				GasPrice: new(uint256.Int), GasFeeCap: new(uint256.Int), GasTipCap: new(uint256.Int), AccessList: list}
			res, err := core.ApplyMessage(evm, msg, core.NewGasPool(30_000_000))
			if err != nil {
				t.Fatal(err)
			}
			if dst == to && res.Err != nil {
				t.Fatalf("the accesses failed: %v", res.Err)
			}
			used += res.UsedGas
		}
		return used
	}
	plain := func(db vm.StateDB) vm.StateDB { return db }
	listed := func(db vm.StateDB) vm.StateDB { return listWarming{db} }
	warming := func(db vm.StateDB) vm.StateDB { return NewWarmingStateDB(db) }
	for name, list := range lists {
		want, got, cold := run(listed, toucher, list), run(warming, toucher, list), run(plain, toucher, list)
		if got != want {
			t.Errorf("%s: WarmingStateDB used %d gas, every precompile in the access list %d", name, got, want)
		}
		if cold == want {
			t.Errorf("%s: leaving the hVM precompiles cold used the same gas (%d): the test measures nothing", name, cold)
		}
		t.Logf("%s: %d gas (hVM precompiles cold: %d)", name, got, cold)
	}
}

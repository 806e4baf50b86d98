package hvm

import (
	"bytes"
	"crypto/sha256"
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

// proxyCode is a contract that STATICCALLs target with its calldata and
// returns what it got.
func proxyCode(target byte) []byte {
	return []byte{
		0x36, 0x60, 0x00, 0x60, 0x00, 0x37, // CALLDATACOPY(0, 0, CALLDATASIZE)
		0x60, 0x00, 0x60, 0x00, 0x36, 0x60, 0x00, 0x60, target, 0x5a, 0xfa, // STATICCALL(GAS, target, 0, CALLDATASIZE, 0, 0)
		0x50,                               // POP
		0x3d, 0x60, 0x00, 0x60, 0x00, 0x3e, // RETURNDATACOPY(0, 0, RETURNDATASIZE)
		0x3d, 0x60, 0x00, 0xf3, // RETURN(0, RETURNDATASIZE)
	}
}

var (
	evmSender = common.HexToAddress("0x1000000000000000000000000000000000000001")
	evmProxy  = func(target byte) common.Address { return common.BytesToAddress([]byte{0xca, 0xfe, target}) }
)

// testBlockContext is block 1 of params.MergedTestChainConfig, free of
// fees, for messages run through core.ApplyMessage.
func testBlockContext() vm.BlockContext {
	return vm.BlockContext{
		CanTransfer: core.CanTransfer,
		Transfer:    core.Transfer,
		GetHash:     func(uint64) common.Hash { return common.Hash{} },
		BlockNumber: big.NewInt(1),
		Time:        1,
		GasLimit:    30_000_000,
		BaseFee:     big.NewInt(0),
		BlobBaseFee: big.NewInt(1),
		Random:      &common.Hash{},
	}
}

// evmCall runs one message calling the proxy of target through
// core.ApplyMessage, as the block processor will, and returns the result.
func evmCall(t *testing.T, pcs vm.PrecompiledContracts, warm bool, target byte, input []byte) *core.ExecutionResult {
	t.Helper()
	sdb, err := state.New(types.EmptyRootHash, state.NewDatabaseForTesting())
	if err != nil {
		t.Fatal(err)
	}
	sdb.SetBalance(evmSender, uint256.NewInt(1e18), 0)
	for _, b := range []byte{0x01, 0x02, 0x43, 0x44, 0x47, 0x48, 0x49} {
		sdb.SetCode(evmProxy(b), proxyCode(b), 0)
	}
	var db vm.StateDB = sdb
	if warm {
		db = NewWarmingStateDB(sdb)
	}
	evm := vm.NewEVM(testBlockContext(), db, params.MergedTestChainConfig, vm.Config{})
	evm.SetPrecompiles(pcs)
	to := evmProxy(target)
	msg := &core.Message{
		From: evmSender, To: &to, Value: new(uint256.Int), GasLimit: 1_000_000,
		GasPrice: new(uint256.Int), GasFeeCap: new(uint256.Int), GasTipCap: new(uint256.Int), Data: input,
	}
	res, err := core.ApplyMessage(evm, msg, core.NewGasPool(30_000_000))
	if err != nil {
		t.Fatal(err)
	}
	if res.Err != nil {
		t.Fatalf("execution: %v", res.Err)
	}
	return res
}

// TestEVMCalls runs the precompiles inside go-ethereum's EVM: the answers
// reach a contract, Merge keeps Ethereum's precompiles, and warming the
// hVM addresses saves exactly EIP-2929's cold-minus-warm access cost.
func TestEVMCalls(t *testing.T) {
	f, view, _ := sharedFixture(t)
	rules := params.MergedTestChainConfig.Rules(big.NewInt(1), true, 1)
	merged := Merge(rules, Precompiles(view, regtest))
	tx1 := display(f.tx1.TxHash())

	cold := evmCall(t, merged, false, 0x43, tx1)
	warm := evmCall(t, merged, true, 0x43, tx1)
	for name, r := range map[string]*core.ExecutionResult{"cold": cold, "warm": warm} {
		if !bytes.Equal(r.ReturnData, []byte{0, 0, 0, 5}) {
			t.Fatalf("%s: contract got %x, want 00000005", name, r.ReturnData)
		}
	}
	diff := params.ColdAccountAccessCostEIP2929 - params.WarmStorageReadCostEIP2929
	if cold.UsedGas-warm.UsedGas != diff {
		t.Fatalf("gas cold %d warm %d: difference %d, want %d", cold.UsedGas, warm.UsedGas, cold.UsedGas-warm.UsedGas, diff)
	}
	t.Logf("0x43 through a proxy contract: %d gas cold, %d warm", cold.UsedGas, warm.UsedGas)

	if r := evmCall(t, merged, true, 0x44, nil); !bytes.Equal(r.ReturnData, encodeHeader(view.Tip())) {
		t.Fatalf("0x44 via the EVM: %x", r.ReturnData)
	}
	sum := sha256.Sum256([]byte("abc"))
	if r := evmCall(t, merged, true, 0x02, []byte("abc")); !bytes.Equal(r.ReturnData, sum[:]) {
		t.Fatalf("sha256 precompile lost by Merge: %x", r.ReturnData)
	}
	// SetPrecompiles with the hVM map alone drops Ethereum's: 0x02 is then
	// an empty account and answers nothing.
	if r := evmCall(t, Precompiles(view, regtest), true, 0x02, []byte("abc")); len(r.ReturnData) != 0 {
		t.Fatalf("0x02 without Merge answered %x", r.ReturnData)
	}
	// Ethereum's active precompiles plus the ten hVM ones.
	if got, want := len(WarmAddresses(rules)), len(vm.ActivePrecompiles(rules))+10; got != want || len(merged) != want {
		t.Fatalf("WarmAddresses %d, merged %d, want %d", got, len(merged), want)
	}
}

// TestEVMCallsTxParts runs 0x47-0x49 inside go-ethereum's EVM through a
// contract: the contract gets exactly what Run answers, and WarmingStateDB
// warms the three new addresses too (cold minus warm is EIP-2929's
// difference, once per first call).
func TestEVMCallsTxParts(t *testing.T) {
	f, view, pcs := sharedFixture(t)
	rules := params.MergedTestChainConfig.Rules(big.NewInt(1), true, 1)
	merged := Merge(rules, Precompiles(view, regtest))
	u16 := func(n int) []byte { return []byte{byte(n >> 8), byte(n)} }
	tests := []struct {
		name  string
		addr  byte
		input []byte
	}{
		{"0x47 tx2 input 0", 0x47, cat(display(f.tx2.TxHash()), u16(0), u16(0xffff))},
		{"0x48 tx1 output 0, spent", 0x48, cat(display(f.tx1.TxHash()), u16(0), u16(0xffff))},
		{"0x49 tx1 input 0 element 1", 0x49, cat(display(f.tx1.TxHash()), u16(0), u16(1), u16(0xffff))},
	}
	diff := params.ColdAccountAccessCostEIP2929 - params.WarmStorageReadCostEIP2929
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := pcs[addrOf(tt.addr)].Run(tt.input)
			if err != nil || len(want) == 0 {
				t.Fatalf("direct Run: %x %v", want, err)
			}
			cold := evmCall(t, merged, false, tt.addr, tt.input)
			warm := evmCall(t, merged, true, tt.addr, tt.input)
			for name, r := range map[string]*core.ExecutionResult{"cold": cold, "warm": warm} {
				if !bytes.Equal(r.ReturnData, want) {
					t.Fatalf("%s: contract got %x, want %x", name, r.ReturnData, want)
				}
			}
			if cold.UsedGas-warm.UsedGas != diff {
				t.Fatalf("gas cold %d warm %d: difference %d, want %d (0x%x not warmed)", cold.UsedGas, warm.UsedGas, cold.UsedGas-warm.UsedGas, diff, tt.addr)
			}
		})
	}
	// The price of a 65,535-byte max: the reads plus 2,048 answer words.
	in := tests[0].input
	if g := pcs[AddrInput].RequiredGas(in); g != GasInputByTxid+2048*GasAnswerWord {
		t.Fatalf("0x47 gas %d with max 65535, want %d", g, GasInputByTxid+2048*GasAnswerWord)
	}
}

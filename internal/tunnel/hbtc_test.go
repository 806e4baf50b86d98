package tunnel_test

import (
	"bytes"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/hemi-go/hemi/internal/chain/genesis"
	"github.com/hemi-go/hemi/internal/tunnel"
)

// TestHBTCERC20 checks hBTC's ERC-20 behaviour on a second hBTC whose
// minter is an ordinary account (so the test can mint and burn without
// the Tunnel): transfer, approve, transferFrom with their events and
// errors, mint and burn events, the supply.
func TestHBTCERC20(t *testing.T) {
	token := common.HexToAddress("0x4200000000000000000000000000000000000099")
	minter := common.HexToAddress("0x3333000000000000000000000000000000000003")
	carol := common.HexToAddress("0xca401000000000000000000000000000000000c3")
	e := newEnv(t, types.GenesisAlloc{token: {Nonce: 1, Code: genesis.HBTCCode(), Balance: new(big.Int),
		Storage: map[common.Hash]common.Hash{genesis.HBTCSlotTunnel: common.BytesToHash(minter.Bytes())}}})
	a := &tunnel.HBTCABI
	pack := func(m string, args ...any) []byte {
		d, err := a.Pack(m, args...)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	ok := func(from common.Address, data []byte) []*types.Log {
		t.Helper()
		res := e.apply(from, token, data, 200_000)
		if res.Err != nil {
			t.Fatalf("%x: %v %x", data[:4], res.Err, res.Revert())
		}
		return e.logs
	}
	bal := func(o common.Address) uint64 {
		return e.call(token, a, "balanceOf", o)[0].(*big.Int).Uint64()
	}
	wantLog := func(l *types.Log, event string, x, y common.Address, v uint64) {
		t.Helper()
		if l.Address != token || len(l.Topics) != 3 || l.Topics[0] != a.Events[event].ID ||
			common.BytesToAddress(l.Topics[1][:]) != x || common.BytesToAddress(l.Topics[2][:]) != y ||
			new(big.Int).SetBytes(l.Data).Uint64() != v {
			t.Fatalf("want %s(%v, %v, %d), got %+v", event, x, y, v, l)
		}
	}
	one := func(logs []*types.Log) *types.Log {
		t.Helper()
		if len(logs) != 1 {
			t.Fatalf("%d logs, want 1", len(logs))
		}
		return logs[0]
	}

	wantLog(one(ok(minter, pack("mint", alice, big.NewInt(1_000)))), "Transfer", common.Address{}, alice, 1_000)
	wantLog(one(ok(alice, pack("transfer", bob, big.NewInt(300)))), "Transfer", alice, bob, 300)
	if bal(alice) != 700 || bal(bob) != 300 {
		t.Fatal("balances after transfer")
	}
	wantLog(one(ok(alice, pack("approve", carol, big.NewInt(250)))), "Approval", alice, carol, 250)
	wantLog(one(ok(carol, pack("transferFrom", alice, bob, big.NewInt(200)))), "Transfer", alice, bob, 200)
	if got := e.call(token, a, "allowance", alice, carol)[0].(*big.Int).Uint64(); got != 50 {
		t.Fatalf("allowance %d after transferFrom, want 50", got)
	}
	wantRevert(t, e.apply(carol, token, pack("transferFrom", alice, bob, big.NewInt(51)), 200_000), a, "ERC20InsufficientAllowance")
	wantRevert(t, e.apply(alice, token, pack("transfer", bob, big.NewInt(501)), 200_000), a, "ERC20InsufficientBalance")
	wantRevert(t, e.apply(alice, token, pack("transfer", common.Address{}, big.NewInt(1)), 200_000), a, "ERC20InvalidReceiver")
	wantRevert(t, e.apply(alice, token, pack("approve", common.Address{}, big.NewInt(1)), 200_000), a, "ERC20InvalidSpender")
	// An infinite allowance is not decreased.
	max := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))
	ok(bob, pack("approve", carol, max))
	ok(carol, pack("transferFrom", bob, carol, big.NewInt(100)))
	if e.call(token, a, "allowance", bob, carol)[0].(*big.Int).Cmp(max) != 0 {
		t.Fatal("infinite allowance decreased")
	}
	// Burn: only the minter, not more than the balance; supply follows.
	wantLog(one(ok(minter, pack("burn", bob, big.NewInt(400)))), "Transfer", bob, common.Address{}, 400)
	wantRevert(t, e.apply(minter, token, pack("burn", bob, big.NewInt(1)), 200_000), a, "ERC20InsufficientBalance")
	wantRevert(t, e.apply(alice, token, pack("burn", alice, big.NewInt(1)), 200_000), a, "NotTunnel")
	if bal(alice) != 500 || bal(bob) != 0 || bal(carol) != 100 {
		t.Fatalf("balances %d %d %d", bal(alice), bal(bob), bal(carol))
	}
	if s := e.call(token, a, "totalSupply")[0].(*big.Int).Uint64(); s != 600 || tunnel.HBTCSupply(e.st, token).Uint64() != 600 {
		t.Fatalf("supply %d, want 600 (sum of balances)", s)
	}
}

// TestWithdrawBurnsHBTC: the real Tunnel's withdraw burns the caller's
// hBTC through hBTC.burn (the withdrawal half's _burn), and refuses more
// than the balance.
func TestWithdrawBurnsHBTC(t *testing.T) {
	e := newEnv(t, nil)
	e.system(tunnel.MintCalldata(outpoint(8, 0), alice, 100_000))
	script := append([]byte{0x00, 0x14}, bytes.Repeat([]byte{0x42}, 20)...)
	data, err := tunnel.TunnelABI.Pack("withdraw", script, uint64(60_000), uint64(2_000))
	if err != nil {
		t.Fatal(err)
	}
	if res := e.apply(alice, tunnelAddr, data, 500_000); res.Err != nil {
		t.Fatalf("withdraw: %v %x", res.Err, res.Revert())
	}
	if b := tunnel.HBTCBalance(e.st, hbtcAddr, alice).Uint64(); b != 40_000 {
		t.Fatalf("balance %d after withdrawing 60,000 of 100,000", b)
	}
	if s := tunnel.HBTCSupply(e.st, hbtcAddr).Uint64(); s != 40_000 {
		t.Fatalf("supply %d", s)
	}
	if res := e.apply(alice, tunnelAddr, data, 500_000); res.Err == nil {
		t.Fatal("withdrew more than the balance")
	}
	if b := tunnel.HBTCBalance(e.st, hbtcAddr, alice).Uint64(); b != 40_000 {
		t.Fatalf("a refused withdrawal changed the balance to %d", b)
	}
}

package genesis

import (
	_ "embed"
	"encoding/binary"
	"fmt"
	"math/big"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/hemi-go/hemi/internal/hvm"
)

// The tunnel predeploys (DESIGN 6): contracts/Tunnel.sol at
// TunnelConfig.TunnelAddress and contracts/HBTC.sol at
// TunnelConfig.HBTCAddress, compiled by scripts/gen-predeploys.sh like
// HVMState. Their storage layouts are consensus; the slots the genesis
// writes are here, the Go bindings and the other slots in
// internal/tunnel/l2abi.go.

//go:embed bytecode/Tunnel.hex
var tunnelHex string

//go:embed bytecode/HBTC.hex
var hbtcHex string

// TunnelABIJSON and HBTCABIJSON are the predeploys' ABIs as solc wrote them
// (internal/tunnel parses them).
//
//go:embed bytecode/Tunnel.abi.json
var TunnelABIJSON string

//go:embed bytecode/HBTC.abi.json
var HBTCABIJSON string

// TunnelCode and HBTCCode return the predeploys' runtime bytecode.
func TunnelCode() []byte { return common.FromHex(strings.TrimSpace(tunnelHex)) }

// HBTCCode returns hBTC's runtime bytecode.
func HBTCCode() []byte { return common.FromHex(strings.TrimSpace(hbtcHex)) }

// erc7201 is the ERC-7201 namespace slot of id:
// keccak256(abi.encode(uint256(keccak256(id)) - 1)) & ~0xff.
func erc7201(id string) common.Hash {
	h := new(big.Int).SetBytes(crypto.Keccak256([]byte(id)))
	h.Sub(h, big.NewInt(1))
	s := crypto.Keccak256Hash(common.BigToHash(h).Bytes())
	s[31] = 0
	return s
}

// Tunnel storage namespaces (the constants BASE_SLOT, DEPOSITS_SLOT,
// WITHDRAWALS_SLOT of the contracts; a test checks they agree).
var (
	TunnelBaseSlot        = erc7201("hemi.tunnel.base")
	TunnelDepositsSlot    = erc7201("hemi.tunnel.deposits")
	TunnelWithdrawalsSlot = erc7201("hemi.tunnel.withdrawals")
)

// HBTCSlotTunnel is hBTC's slot 3, the Tunnel address (its minter and
// burner), written at genesis. Slots 0-2 are totalSupply, balanceOf and
// allowance.
var HBTCSlotTunnel = common.BigToHash(big.NewInt(3))

// SlotAdd returns slot + n (a struct member of a namespace).
func SlotAdd(slot common.Hash, n uint64) common.Hash {
	return common.BigToHash(new(big.Int).Add(slot.Big(), new(big.Int).SetUint64(n)))
}

// DepositCursorWord encodes the deposit cursor as Tunnel stores it in
// TunnelDepositsSlot: height in bytes 28..31, txPos 24..27, vout 20..23.
func DepositCursorWord(height, txPos, vout uint32) common.Hash {
	var w common.Hash
	binary.BigEndian.PutUint32(w[28:], height)
	binary.BigEndian.PutUint32(w[24:], txPos)
	binary.BigEndian.PutUint32(w[20:], vout)
	return w
}

// TunnelPredeploys are the tunnel's genesis accounts under t: Tunnel (code
// TunnelCode, its hBTC address in TunnelBaseSlot and the deposit cursor
// at the genesis view's height: deposits confirmed in Bitcoin blocks at
// or below the genesis view are not derived, they predate the chain) and
// hBTC (code HBTCCode, the Tunnel address in HBTCSlotTunnel), nonce 1.
func TunnelPredeploys(t *TunnelConfig, view hvm.Header) (types.GenesisAlloc, error) {
	if err := checkView(view); err != nil {
		return nil, err
	}
	if t.TunnelAddress == (common.Address{}) || t.HBTCAddress == (common.Address{}) || t.TunnelAddress == t.HBTCAddress {
		return nil, fmt.Errorf("%w: tunnel and hBTC predeploy addresses must be distinct and non-zero", ErrConfig)
	}
	return types.GenesisAlloc{
		t.TunnelAddress: {Nonce: 1, Code: TunnelCode(), Balance: new(big.Int), Storage: map[common.Hash]common.Hash{
			TunnelBaseSlot:     common.BytesToHash(t.HBTCAddress.Bytes()),
			TunnelDepositsSlot: DepositCursorWord(uint32(view.Height), 0, 0),
		}},
		t.HBTCAddress: {Nonce: 1, Code: HBTCCode(), Balance: new(big.Int), Storage: map[common.Hash]common.Hash{
			HBTCSlotTunnel: common.BytesToHash(t.TunnelAddress.Bytes()),
		}},
	}, nil
}

package genesis

import "github.com/ethereum/go-ethereum/common"

// TunnelConfig is the genesis tunnel section (DESIGN 6).
//
// STAND-IN with the field names the tunnel split fixed: the vault
// engineer's branch (tvault) owns the real type, its defaults, validation
// and the genesis file's "tunnel" object, and replaces this file on merge.
type TunnelConfig struct {
	Signers                 [][32]byte
	K                       int
	Recovery                [][32]byte
	M                       int
	RecoveryDelay           uint16
	DepositConfirmations    uint32
	WithdrawalConfirmations uint32
	MinDepositSat           uint64
	MaxDepositsPerBlock     int
	RederiveBlocks          uint32
	TunnelAddress           common.Address
	HBTCAddress             common.Address
}

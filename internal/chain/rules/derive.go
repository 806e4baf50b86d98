package rules

import (
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/hemi-go/hemi/internal/chain/block"
	"github.com/hemi-go/hemi/internal/hvm"
	"github.com/hemi-go/hemi/internal/pop"
)

// Deriver derives one kind of a block's system transactions from its
// Bitcoin view (DESIGN 3.3). The chain runs the derivers of its
// Config.Derivers in order and concatenates their results, so each kind
// of Bitcoin-derived work (the view update, PoP rewards, later the
// tunnel's deposits and payout markers) is a deriver the assembly
// installs (internal/chain/derive has today's), and the chain imports
// none of their packages. The seam lives here, below both, so the
// derivers and an offline verifier import no storage.
//
// A deriver must be a pure function of the Derivation and of what it
// reads through it as of d.View (never the Bitcoin tip), so that a
// sequencer and every follower derive the same list; building and
// verification both call it. An error fails the block's build or
// insertion; an error wrapping ErrViewNotReady means "not yet".
type Deriver interface {
	Derive(d *Derivation) ([]*block.SystemTx, error)
}

// GasBounded is a Deriver whose work cannot wait (it does not cap
// itself by Derivation.GasLeft: the view update, PoP rewards) and that
// declares the most gas its system transactions of one block ask for in
// total (the sum of their Gas). The chain reserves it out of the budget
// the derivers before it see, so it always fits after work that can
// wait (the tunnel's, which caps itself and declares nothing).
type GasBounded interface {
	MaxGas() uint64
}

// ViewUpdater is the deriver of the Bitcoin-view update, the first system
// transaction of every block (DESIGN 3.3): the chain refuses a derivation
// list that does not start with one.
type ViewUpdater interface {
	Deriver
	// DerivesViewUpdate marks the implementation; it does nothing.
	DerivesViewUpdate()
}

// DerivationBitcoin is what a Deriver may read of Bitcoin, always as of
// the block's view: the keystone publications PoP rewards are paid for
// and who published them (the chain's Bitcoin has these methods and
// documents them).
type DerivationBitcoin interface {
	Publications(id [32]byte, asOf chainhash.Hash) ([]pop.Publication, error)
	Publisher(txid, asOf chainhash.Hash) (*common.Address, error)
	WithdrawalBitcoin
	DepositBitcoin
}

// Derivation is what a Deriver knows of the block it derives for.
type Derivation struct {
	// Parent is the block's parent, Number its number (Parent's + 1).
	Parent *types.Header
	Number uint64
	// View is the block's Bitcoin view.
	View hvm.Header
	// Bitcoin is the chain's Bitcoin; read it as of View.
	Bitcoin DerivationBitcoin
	// Keystone returns the keystone at number (a keystone number at or
	// below Parent's) on Parent's own branch, so a side branch derives
	// from its own keystones.
	Keystone func(number uint64) (*pop.L2Keystone, error)
	// State opens Parent's post-state, read-only (the tunnel derivers read
	// their queues and cursors from it); nil where the caller has no state
	// (then no deriver that needs it may be installed).
	State func() (*state.StateDB, error)
	// GasLeft is the most gas this deriver's transactions may ask for in
	// total: the block's system gas budget (half its gas limit,
	// genesis.SystemGasBudgetFor) less the Gas of the transactions the
	// derivers before it derived, less the MaxGas of the GasBounded
	// derivers after it. A deriver whose work can wait (deposits carry
	// over, a batch or a flag waits a block) derives no more than fits,
	// in block order,
	// so the system transactions of a block never exceed the budget and
	// every node cuts at the same place. Genesis validation makes the
	// worst case fit, so this binds only a configuration it would
	// refuse.
	GasLeft uint64
}
